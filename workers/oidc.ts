/**
 * OIDC sender identity at broker ingress (API.md §8): a bearer JWT verified with `jose` against the
 * issuers the Worker variable OIDC_ISSUERS lists. Each issuer's OpenID discovery document names its JWKS;
 * both are kept per isolate. A token whose `kid` the kept JWKS lacks fetches it again, at most once per
 * JWKS_REFRESH_COOLDOWN_MS, so a flood of made-up kids cannot hammer the issuer; a discovery document or
 * JWKS that cannot be fetched is not asked again for that long either.
 */
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, errors, jwtVerify } from "jose";
import { listedIssuers } from "../shared/policy/spec.ts";
import { isSecureEndpoint, SECURE_ENDPOINT_RULE } from "../shared/transport.ts";

/** Leeway for `exp` and `nbf` against clocks that differ between the issuer and the edge. */
export const CLOCK_SKEW_SECONDS = 60;
/** Least time between two fetches of one issuer's JWKS (or discovery document) in one isolate. */
export const JWKS_REFRESH_COOLDOWN_MS = 10_000;
/** A JWKS older than this is fetched again before use, even when it knows the token's kid. */
export const JWKS_MAX_AGE_MS = 10 * 60_000;
/** How long one fetch of a discovery document or JWKS may take. */
const FETCH_TIMEOUT_MS = 5_000;
/** Asymmetric signatures only: an HMAC key would be a secret the issuer shares, `none` is no signature. */
export const ACCEPTED_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"];

export type TokenFailure =
  | "missing_token"
  | "malformed_token"
  | "algorithm_not_allowed"
  | "unknown_issuer"
  | "jwks_unavailable"
  | "unknown_key"
  | "bad_signature"
  | "expired"
  | "not_yet_valid"
  | "wrong_audience"
  | "invalid_claims";

export type TokenCheck = { ok: true; sub: string; iss: string } | { ok: false; reason: TokenFailure; error: string };

const fail = (reason: TokenFailure, error: string): TokenCheck => ({ ok: false, reason, error });

type Keys = { jwks: ReturnType<typeof createRemoteJWKSet> } | { error: string };
/** Per issuer: its keys (shared by concurrent first requests), and when they last failed to be fetched. */
const issuers = new Map<string, { keys: Promise<Keys>; failedAt?: number }>();

/** Verify `bearer` as a token for `audience`; never echoes the token in what it returns. */
export async function verifySender(bearer: string | undefined, audience: string, issuerList: string | undefined, now = Date.now()): Promise<TokenCheck> {
  if (!bearer) return fail("missing_token", "this broker accepts only senders its EventPolicies allow: send Authorization: Bearer <OIDC token>");
  let alg: unknown;
  let iss: unknown;
  try {
    alg = decodeProtectedHeader(bearer).alg;
    iss = decodeJwt(bearer).iss;
  } catch {
    return fail("malformed_token", "the bearer token is not a JWT (three base64url parts: header, claims, signature)");
  }
  if (typeof alg !== "string" || !ACCEPTED_ALGORITHMS.includes(alg)) {
    return fail("algorithm_not_allowed", `the token's alg ${JSON.stringify(alg)} is not accepted; accepted: ${ACCEPTED_ALGORITHMS.join(", ")}`);
  }
  const listed = listedIssuers(issuerList);
  if (typeof iss !== "string" || !listed.includes(iss)) {
    const why = listed.length === 0 ? "this router trusts no issuer (the Worker variable OIDC_ISSUERS is empty)" : `OIDC_ISSUERS lists ${listed.join(", ")}`;
    return fail("unknown_issuer", `the token's issuer ${JSON.stringify(iss ?? null)} is not trusted: ${why}`);
  }
  if (!isSecureEndpoint(iss)) return fail("unknown_issuer", `the issuer ${iss} is listed in OIDC_ISSUERS but is not trusted: it ${SECURE_ENDPOINT_RULE}`);
  const keys = await keysOf(iss, now);
  if ("error" in keys) return fail("jwks_unavailable", keys.error);
  try {
    const { payload } = await jwtVerify(bearer, keys.jwks, { issuer: iss, audience, algorithms: ACCEPTED_ALGORITHMS, clockTolerance: CLOCK_SKEW_SECONDS, requiredClaims: ["exp", "sub"], currentDate: new Date(now) });
    return { ok: true, sub: payload.sub!, iss };
  } catch (e) {
    return explain(e, iss, audience, now);
  }
}

function explain(e: unknown, iss: string, audience: string, now: number): TokenCheck {
  if (e instanceof errors.JWTExpired) return fail("expired", `the token expired (exp, with ${CLOCK_SKEW_SECONDS} s of clock skew allowed)`);
  if (e instanceof errors.JWTClaimValidationFailed) {
    if (e.claim === "nbf") return fail("not_yet_valid", `the token is not valid yet (nbf, with ${CLOCK_SKEW_SECONDS} s of clock skew allowed)`);
    if (e.claim === "aud") return fail("wrong_audience", `the token's aud is not this broker's audience ${audience} (its status.address.audience)`);
    return fail("invalid_claims", `the token's ${e.claim} claim is not valid: ${e.reason === "missing" ? "missing" : e.message}`);
  }
  if (e instanceof errors.JWKSNoMatchingKey) return fail("unknown_key", `no key of ${iss}'s JWKS matches the token's kid and alg (the JWKS is fetched again at most every ${JWKS_REFRESH_COOLDOWN_MS / 1000} s)`);
  if (e instanceof errors.JWSSignatureVerificationFailed) return fail("bad_signature", "the token's signature does not verify with the issuer's key");
  if (e instanceof errors.JOSEAlgNotAllowed) return fail("algorithm_not_allowed", `the token's alg is not accepted; accepted: ${ACCEPTED_ALGORITHMS.join(", ")}`);
  if (e instanceof errors.JWSInvalid || e instanceof errors.JWTInvalid) return fail("malformed_token", "the bearer token is not a well-formed signed JWT");
  // Anything else happened while fetching the JWKS (timeout, network, not JSON, not a JWKS).
  const error = `the JWKS of ${iss} cannot be fetched: ${(e as Error).message}`;
  issuers.set(iss, { keys: Promise.resolve({ error }), failedAt: now });
  return fail("jwks_unavailable", error);
}

/** The issuer's JWKS through its discovery document, kept per isolate; a recent failure is answered from memory. */
function keysOf(iss: string, now: number): Promise<Keys> {
  const known = issuers.get(iss);
  if (known && (known.failedAt === undefined || now - known.failedAt < JWKS_REFRESH_COOLDOWN_MS)) return known.keys;
  const entry: { keys: Promise<Keys>; failedAt?: number } = { keys: discover(iss) };
  issuers.set(iss, entry);
  void entry.keys.then((k) => {
    if ("error" in k) entry.failedAt = Date.now();
  });
  return entry.keys;
}

async function discover(iss: string): Promise<Keys> {
  const discovery = `${iss.replace(/\/+$/, "")}/.well-known/openid-configuration`;
  let jwksUri: unknown;
  try {
    const r = await fetch(discovery, { headers: { accept: "application/json" }, signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
    if (!r.ok) throw new Error(`${discovery} answered ${r.status}`);
    const doc = (await r.json()) as { issuer?: unknown; jwks_uri?: unknown };
    // OpenID Connect Discovery §4.3: the document's issuer is the issuer it was fetched for.
    if (doc.issuer !== iss) throw new Error(`${discovery} names issuer ${JSON.stringify(doc.issuer)}, not ${iss}`);
    jwksUri = doc.jwks_uri;
    if (!isSecureEndpoint(jwksUri)) throw new Error(`its jwks_uri ${JSON.stringify(jwksUri)} ${SECURE_ENDPOINT_RULE}`);
  } catch (e) {
    return { error: `the OpenID discovery document of ${iss} cannot be used: ${(e as Error).message}` };
  }
  return { jwks: createRemoteJWKSet(new URL(jwksUri as string), { cooldownDuration: JWKS_REFRESH_COOLDOWN_MS, cacheMaxAge: JWKS_MAX_AGE_MS, timeoutDuration: FETCH_TIMEOUT_MS }) };
}
