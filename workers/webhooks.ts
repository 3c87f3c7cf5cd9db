/**
 * SaaS webhook ingress: `POST /webhooks/{namespace}/{source}` (API.md §2). Verification and mapping are
 * shared/webhooks; storing is the sink's broker object. The provider gets its expected 2xx only after the
 * broker answered 202 (the event is durable), so a failure here makes the provider retry, and the
 * provider's delivery id as the event id makes that retry a duplicate the broker stores once.
 */
import { Hono } from "hono";
import type { ResolveContext } from "../shared/resources/destination.ts";
import type { Manifest } from "../shared/resources/manifest.ts";
import { isValidName, isValidNamespace } from "../shared/resources/manifest.ts";
import { sinkEntry, type SourceSpec } from "../shared/resources/sources.ts";
import { MAX_WEBHOOK_BODY_BYTES, providerResponse, receiveWebhook } from "../shared/webhooks/receive.ts";
import { type WebhookKind, webhookConfig } from "../shared/webhooks/spec.ts";
import { secretReader } from "../shared/secrets.ts";
import { readLimited } from "./body.ts";
import { ingestInto } from "../durable-objects/routing.ts";
import { control, resolveContext } from "./context.ts";

/**
 * Both kinds share the path. When a GitHubSource and a WebhookSource have the same name, the
 * GitHubSource answers: it is the Knative kind, so a migrated Knative manifest keeps its URL.
 */
const KINDS_BY_PRECEDENCE: WebhookKind[] = ["GitHubSource", "WebhookSource"];

/** Retry-After when the sink's broker is not configured (yet): the provider retries, nothing is lost. */
const SINK_MISSING_RETRY_AFTER_S = 30;

export const webhooks = new Hono<{ Bindings: Env }>();

/**
 * The one answer to a caller that has not proved it holds the source's secret, whatever failed: an unknown
 * source, a secret not set, a bad signature. It tells nothing of which sources exist or what they need;
 * the reason goes to the log.
 */
const UNVERIFIED = { error: "webhook verification failed" };

webhooks.post("/webhooks/:namespace/:source", async (c) => {
  const { namespace, source: name } = c.req.param();
  const body = await readLimited(c.req.raw, MAX_WEBHOOK_BODY_BYTES);
  if (body === null) return c.json({ error: `request body is larger than ${MAX_WEBHOOK_BODY_BYTES} bytes` }, 413);
  const refuse = (reason: string) => {
    console.log(JSON.stringify({ level: "warn", msg: "webhook refused", source: `${namespace}/${name}`, reason }));
    return c.json(UNVERIFIED, 401);
  };

  const ctx = resolveContext(c.env, c.req.url);
  const manifest = isValidNamespace(namespace) && isValidName(name) ? await findSource(c.env, namespace, name, ctx) : null;
  if (!manifest) return refuse("no GitHubSource or WebhookSource of this name");

  const resource = { kind: manifest.kind as WebhookKind, metadata: { namespace, name }, spec: manifest.spec as Record<string, unknown> };
  const config = webhookConfig(resource, secretReader(c.env));
  if ("error" in config) return refuse(config.error);

  const outcome = await receiveWebhook(config, { url: publicRequestUrl(ctx.baseUrl, c.req.url), headers: c.req.raw.headers, body }, Date.now());
  if (outcome.kind === "rejected") return outcome.status === 401 ? refuse(outcome.error) : c.json({ error: outcome.error }, outcome.status);
  if (outcome.kind === "reply") return c.body(outcome.body, outcome.status as 200, outcome.headers);

  const entry = sinkEntry(manifest, ctx);
  const stored = await ingestInto(c.env, entry, [outcome.event]);
  switch (stored.status) {
    case 202: {
      const reply = providerResponse(config.provider);
      return c.body(reply.body, reply.status as 200, reply.headers);
    }
    // 503, not 429: providers that retry all retry a 5xx; not all of them retry a 429.
    case 429:
    case 503:
      return c.json({ error: stored.error }, 503, { "retry-after": String(stored.retryAfterSeconds) });
    case 404:
      return c.json({ error: `the sink of ${manifest.kind} ${namespace}/${name} is not ready: broker ${entry.namespace}/${entry.name} does not exist` }, 503, {
        "retry-after": String(SINK_MISSING_RETRY_AFTER_S),
      });
    case 400:
      return c.json(stored.field ? { error: stored.error, field: stored.field } : { error: stored.error }, 400);
    default:
      return c.json({ error: stored.error }, 500);
  }
});

webhooks.all("/webhooks/:namespace/:source", (c) => c.json({ error: `method ${c.req.method} not allowed; use POST` }, 405, { allow: "POST" }));

async function findSource(env: Env, namespace: string, name: string, ctx: ResolveContext): Promise<Manifest<SourceSpec> | null> {
  for (const kind of KINDS_BY_PRECEDENCE) {
    const m = await control(env).get(kind, namespace, name, ctx);
    if (m) return m as Manifest<SourceSpec>;
  }
  return null;
}

/**
 * The URL the provider called: the router's public URL (PUBLIC_URL, when the Worker sits behind a proxy)
 * with the request's path and query. Only Twilio signs it, and a source's `spec.publicUrl` overrides it.
 */
function publicRequestUrl(baseUrl: string, requestUrl: string): string {
  const u = new URL(requestUrl);
  return `${baseUrl}${u.pathname}${u.search}`;
}
