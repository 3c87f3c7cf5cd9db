/**
 * Each provider's signature check over the raw body bytes, with every configured secret (rotation):
 * null when one secret verifies, otherwise the reason (answered as 401). Comparisons are constant-time.
 */
import { concatBytes, fromHex, hmac, sha256, timingSafeEqual, utf8 } from "../crypto.ts";
import { verifyTwilio } from "./twilio.ts";
import type { GenericHmacSettings, WebhookConfig, WebhookRequest } from "./types.ts";
import { decodeBase64 } from "../base64.ts";

type Verifier = (config: WebhookConfig, request: WebhookRequest, nowMs: number) => Promise<string | null>;

const GITHUB_SHA256: GenericHmacSettings = { header: "X-Hub-Signature-256", algorithm: "sha256", encoding: "hex", prefix: "sha256=" };
/** GitHub's legacy header, the only one older GitHub Enterprise Server versions send. */
const GITHUB_SHA1: GenericHmacSettings = { header: "X-Hub-Signature", algorithm: "sha1", encoding: "hex", prefix: "sha1=" };
/** Jira Cloud admin webhooks sign WebSub-style. */
const JIRA: GenericHmacSettings = { header: "X-Hub-Signature", algorithm: "sha256", encoding: "hex", prefix: "sha256=" };
const SHOPIFY: GenericHmacSettings = { header: "X-Shopify-Hmac-Sha256", algorithm: "sha256", encoding: "base64" };
/** Shopify's newer Events deliveries drop the X- prefix. */
const SHOPIFY_EVENTS: GenericHmacSettings = { ...SHOPIFY, header: "Shopify-Hmac-Sha256" };

const VERIFIERS: Record<WebhookConfig["provider"], Verifier> = {
  github: (c, r) => verifyBodyHmac(r.headers.has(GITHUB_SHA256.header) || !r.headers.has(GITHUB_SHA1.header) ? GITHUB_SHA256 : GITHUB_SHA1, c.secrets, r),
  gitlab: (c, r, now) => (hasStandardWebhookHeaders(r.headers) ? verifyStandardWebhooks(c, r, now) : verifyGitLabToken(c.secrets, r.headers)),
  stripe: verifyStripe,
  slack: verifySlack,
  "standard-webhooks": verifyStandardWebhooks,
  shopify: (c, r) => verifyBodyHmac(r.headers.has(SHOPIFY.header) || !r.headers.has(SHOPIFY_EVENTS.header) ? SHOPIFY : SHOPIFY_EVENTS, c.secrets, r),
  twilio: (c, r) => verifyTwilio(c.secrets, r, c.publicUrl),
  jira: (c, r) => verifyBodyHmac(JIRA, c.secrets, r),
  "generic-hmac": (c, r) => (c.generic ? verifyBodyHmac(c.generic, c.secrets, r) : Promise.resolve("generic-hmac settings are missing")),
};

export function verifySignature(config: WebhookConfig, request: WebhookRequest, nowMs: number): Promise<string | null> {
  if (config.secrets.length === 0) return Promise.resolve("no secret is configured");
  return VERIFIERS[config.provider](config, request, nowMs);
}

/** A header carrying `prefix` + the encoded HMAC of the raw body (GitHub, Jira, Shopify, generic-hmac). */
async function verifyBodyHmac(spec: GenericHmacSettings, secrets: string[], request: WebhookRequest): Promise<string | null> {
  const value = request.headers.get(spec.header);
  if (value === null) return `${spec.header} header is missing`;
  const prefix = spec.prefix ?? "";
  if (!value.startsWith(prefix)) return `${spec.header} must start with "${prefix}"`;
  const encoded = value.slice(prefix.length).trim();
  const provided = spec.encoding === "hex" ? fromHex(encoded) : decodeBase64(encoded, true);
  if (provided === null) return `${spec.header} is not ${spec.encoding}`;
  const ok = await anySecret(secrets, (key) => hmac(spec.algorithm, key, request.body), provided);
  return ok ? null : `${spec.header} does not match the body`;
}

/** Stripe-Signature: `t=<unix>,v1=<hex>[,v1=...]`, HMAC-SHA256 of `t.body` keyed by the whsec_ string itself. */
async function verifyStripe(config: WebhookConfig, request: WebhookRequest, nowMs: number): Promise<string | null> {
  const header = request.headers.get("Stripe-Signature");
  if (header === null) return "Stripe-Signature header is missing";
  const items = header.split(",").map((item) => {
    const eq = item.indexOf("=");
    return eq < 0 ? ["", ""] : [item.slice(0, eq).trim(), item.slice(eq + 1).trim()];
  });
  const timestamp = items.find(([k]) => k === "t")?.[1] ?? null;
  const signatures = items.filter(([k]) => k === "v1").map(([, v]) => fromHex(v));
  if (timestamp === null) return "Stripe-Signature has no t= timestamp";
  if (signatures.length === 0) return "Stripe-Signature has no v1 signature";
  const message = concatBytes(utf8(`${timestamp}.`), request.body);
  const ok = await anySignature(config.secrets, (key) => hmac("sha256", key, message), signatures);
  if (!ok) return "Stripe-Signature does not match the body";
  return checkTimestamp("Stripe-Signature t", timestamp, config.timestampToleranceSeconds, nowMs);
}

/** X-Slack-Signature: `v0=` + hex HMAC-SHA256 of `v0:<X-Slack-Request-Timestamp>:<body>`. */
async function verifySlack(config: WebhookConfig, request: WebhookRequest, nowMs: number): Promise<string | null> {
  const timestamp = request.headers.get("X-Slack-Request-Timestamp");
  const signature = request.headers.get("X-Slack-Signature");
  if (timestamp === null) return "X-Slack-Request-Timestamp header is missing";
  if (signature === null) return "X-Slack-Signature header is missing";
  if (!signature.startsWith("v0=")) return "X-Slack-Signature has an unknown version (expected v0=)";
  const provided = fromHex(signature.slice(3));
  if (provided === null) return "X-Slack-Signature is not hex";
  const message = concatBytes(utf8(`v0:${timestamp}:`), request.body);
  const ok = await anySecret(config.secrets, (key) => hmac("sha256", key, message), provided);
  if (!ok) return "X-Slack-Signature does not match the body";
  return checkTimestamp("X-Slack-Request-Timestamp", timestamp, config.timestampToleranceSeconds, nowMs);
}

/** Header names of Standard Webhooks, then Svix's original names for the same scheme. */
const STANDARD_HEADER_SETS = [
  { id: "webhook-id", timestamp: "webhook-timestamp", signature: "webhook-signature" },
  { id: "svix-id", timestamp: "svix-timestamp", signature: "svix-signature" },
];

function standardHeaders(headers: Headers): (typeof STANDARD_HEADER_SETS)[number] | undefined {
  return STANDARD_HEADER_SETS.find((set) => headers.has(set.signature));
}

function hasStandardWebhookHeaders(headers: Headers): boolean {
  return standardHeaders(headers) !== undefined;
}

/** The delivery id a Standard Webhooks request was signed with (webhook-id or svix-id). */
export function standardWebhookId(headers: Headers): string | null {
  const set = standardHeaders(headers);
  return set ? headers.get(set.id) : null;
}

/**
 * Standard Webhooks v1: `webhook-signature` lists `v1,<base64>` entries (space-separated) of
 * HMAC-SHA256(base64-decoded secret after "whsec_", `id.timestamp.body`). Other versions (v1a: ed25519) are ignored.
 */
async function verifyStandardWebhooks(config: WebhookConfig, request: WebhookRequest, nowMs: number): Promise<string | null> {
  const set = standardHeaders(request.headers) ?? STANDARD_HEADER_SETS[0];
  const id = request.headers.get(set.id);
  const timestamp = request.headers.get(set.timestamp);
  const header = request.headers.get(set.signature);
  if (header === null) return `${set.signature} header is missing`;
  if (id === null) return `${set.id} header is missing`;
  if (timestamp === null) return `${set.timestamp} header is missing`;
  const signatures = header
    .split(" ")
    .map((entry) => entry.split(","))
    .filter(([version]) => version === "v1")
    .map(([, value]) => decodeBase64(value ?? "", true));
  if (signatures.length === 0) return `${set.signature} has no v1 signature`;
  const keys = config.secrets.map((s) => decodeBase64(s.startsWith("whsec_") ? s.slice("whsec_".length) : s, true)).filter((k) => k !== null);
  if (keys.length === 0) return "no configured secret is a Standard Webhooks key (whsec_ followed by base64)";
  const message = concatBytes(utf8(`${id}.${timestamp}.`), request.body);
  let ok = false;
  for (const key of keys) ok = matchesAny(await hmac("sha256", key, message), signatures) || ok;
  if (!ok) return `${set.signature} does not match the body`;
  return checkTimestamp(set.timestamp, timestamp, config.timestampToleranceSeconds, nowMs);
}

/** GitLab's legacy X-Gitlab-Token is the secret itself; hashing both sides first keeps the comparison length-independent. */
async function verifyGitLabToken(secrets: string[], headers: Headers): Promise<string | null> {
  const token = headers.get("X-Gitlab-Token");
  if (token === null) return "X-Gitlab-Token header (or webhook-signature) is missing";
  const provided = await sha256(utf8(token));
  const ok = await anySecret(secrets, (key) => sha256(key), provided);
  return ok ? null : "X-Gitlab-Token does not match";
}

async function anySecret(secrets: string[], compute: (key: Uint8Array) => Promise<Uint8Array>, provided: Uint8Array): Promise<boolean> {
  return anySignature(secrets, compute, [provided]);
}

/** Every secret is tried (no early exit), so timing does not reveal which rotation slot matched. */
async function anySignature(secrets: string[], compute: (key: Uint8Array) => Promise<Uint8Array>, provided: (Uint8Array | null)[]): Promise<boolean> {
  let ok = false;
  for (const secret of secrets) ok = matchesAny(await compute(utf8(secret)), provided) || ok;
  return ok;
}

function matchesAny(expected: Uint8Array, provided: (Uint8Array | null)[]): boolean {
  let ok = false;
  for (const p of provided) ok = (p !== null && timingSafeEqual(expected, p)) || ok;
  return ok;
}

/** Unix seconds; outside `tolerance` of now (either direction) fails, unless tolerance is 0 (check off). */
function checkTimestamp(name: string, value: string, toleranceSeconds: number, nowMs: number): string | null {
  if (!/^\d{1,12}$/.test(value)) return `${name} is not a Unix timestamp`;
  if (toleranceSeconds === 0) return null;
  const skew = Math.abs(nowMs / 1000 - Number(value));
  return skew > toleranceSeconds ? `${name} is ${Math.round(skew)}s from now, over the ${toleranceSeconds}s tolerance` : null;
}
