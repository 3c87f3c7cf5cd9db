/**
 * OIDC sender identity at broker ingress (API.md §8): a bearer JWT verified with `jose` against the
 * issuers the Worker variable OIDC_ISSUERS lists. Each issuer's OpenID discovery document names its JWKS;
 * both are kept per isolate, and one fetch of them at a time serves every request that waits for it. A
 * token whose `kid` the kept JWKS lacks fetches it again, at most once per JWKS_REFRESH_COOLDOWN_MS, so a
 * flood of made-up kids cannot hammer the issuer; a discovery document or JWKS that cannot be fetched is
 * not asked again for that long either. Only a failed fetch is remembered: whatever is wrong with a
 * token is that token's 401 alone.
 */
import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, errors, type JSONWebKeySet, jwtVerify } from "jose";
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
  | "invalid_claims"
  | "invalid_token";

export type TokenCheck = { ok: true; sub: string; iss: string } | { ok: false; reason: TokenFailure; error: string };

const fail = (reason: TokenFailure, error: string): TokenCheck => ({ ok: false, reason, error });

type KeySet = ReturnType<typeof createLocalJWKSet>;

/**
 * Per issuer, in this isolate: the JWKS in use and when it was fetched, the fetch in flight (shared), and
 * the last failed fetch (answered from memory for the cooldown).
 */
interface IssuerKeys {
  jwksUri?: string;
  keys?: KeySet;
  /** When `keys` were fetched. */
  keysAt: number;
  /** When the last fetch ended, successful or not (the unknown-kid cooldown counts from it). */
  triedAt: number;
  pending?: Promise<void>;
  failure?: { at: number; error: string };
}
const issuers = new Map<string, IssuerKeys>();

/** Verify `bearer` as a token for `audience`; never echoes the token in what it returns. */
export async function verifySender(bearer: string | undefined, audience: string, issuerList: string | undefined, now = Date.now()): Promise<TokenCheck> {
  if (!bearer) return fail("missing_token", "this address accepts only senders its EventPolicies allow: send Authorization: Bearer <OIDC token>");
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
  const state = issuers.get(iss) ?? issuers.set(iss, { keysAt: -Infinity, triedAt: -Infinity }).get(iss)!;
  // Stale (or never fetched) keys are fetched first; a failure within the cooldown is the answer meanwhile.
  const stale = () => !state.keys || Date.now() - state.keysAt >= JWKS_MAX_AGE_MS;
  if (stale()) await refresh(iss, state);
  if (!state.keys || stale()) return fail("jwks_unavailable", state.failure?.error ?? `the JWKS of ${iss} cannot be fetched`);
  const verify = (keys: KeySet) =>
    jwtVerify(bearer, keys, {
      issuer: iss,
      audience,
      algorithms: ACCEPTED_ALGORITHMS,
      clockTolerance: CLOCK_SKEW_SECONDS,
      requiredClaims: ["exp", "sub"],
      currentDate: new Date(now),
    });
  try {
    try {
      return { ok: true, sub: (await verify(state.keys)).payload.sub!, iss };
    } catch (e) {
      // An unknown kid: the issuer may have rotated its keys. Fetched again once the cooldown allows.
      if (!(e instanceof errors.JWKSNoMatchingKey) || Date.now() - state.triedAt < JWKS_REFRESH_COOLDOWN_MS) throw e;
      await refresh(iss, state);
      return { ok: true, sub: (await verify(state.keys)).payload.sub!, iss };
    }
  } catch (e) {
    return explain(e, iss, audience);
  }
}

/** Why a token failed verification; never remembered, since only this token is wrong. */
function explain(e: unknown, iss: string, audience: string): TokenCheck {
  if (e instanceof errors.JWTExpired) return fail("expired", `the token expired (exp, with ${CLOCK_SKEW_SECONDS} s of clock skew allowed)`);
  if (e instanceof errors.JWTClaimValidationFailed) {
    if (e.claim === "nbf") return fail("not_yet_valid", `the token is not valid yet (nbf, with ${CLOCK_SKEW_SECONDS} s of clock skew allowed)`);
    if (e.claim === "aud") return fail("wrong_audience", `the token's aud is not this broker's audience ${audience} (its status.address.audience)`);
    return fail("invalid_claims", `the token's ${e.claim} claim is not valid: ${e.reason === "missing" ? "missing" : e.message}`);
  }
  if (e instanceof errors.JWKSNoMatchingKey)
    return fail(
      "unknown_key",
      `no key of ${iss}'s JWKS matches the token's kid and alg (the JWKS is fetched again at most every ${JWKS_REFRESH_COOLDOWN_MS / 1000} s)`,
    );
  if (e instanceof errors.JWKSMultipleMatchingKeys) return fail("unknown_key", `several keys of ${iss}'s JWKS match the token: it must name its key with kid`);
  if (e instanceof errors.JWSSignatureVerificationFailed) return fail("bad_signature", "the token's signature does not verify with the issuer's key");
  if (e instanceof errors.JOSEAlgNotAllowed)
    return fail("algorithm_not_allowed", `the token's alg is not accepted; accepted: ${ACCEPTED_ALGORITHMS.join(", ")}`);
  if (e instanceof errors.JWSInvalid || e instanceof errors.JWTInvalid) return fail("malformed_token", "the bearer token is not a well-formed signed JWT");
  // Anything else (a `crit` header naming an extension, a key the JWKS holds in a form that cannot be used).
  return fail("invalid_token", `the token cannot be verified: ${e instanceof errors.JOSEError ? e.message : "unexpected error"}`);
}

/**
 * Fetch the issuer's keys (its discovery document first, once): one fetch at a time per issuer, which
 * every request that needs it awaits. A failure is kept for the cooldown; keys fetched before it stay in
 * use until they are JWKS_MAX_AGE_MS old.
 */
function refresh(iss: string, state: IssuerKeys): Promise<void> {
  if (state.pending) return state.pending;
  if (state.failure && Date.now() - state.failure.at < JWKS_REFRESH_COOLDOWN_MS) return Promise.resolve();
  state.pending = fetchKeys(iss, state)
    .then(
      (keys) => {
        state.keys = keys;
        state.keysAt = Date.now();
        state.failure = undefined;
      },
      (e: Error) => {
        state.failure = { at: Date.now(), error: e.message };
      },
    )
    .finally(() => {
      state.triedAt = Date.now();
      state.pending = undefined;
    });
  return state.pending;
}

async function fetchKeys(iss: string, state: IssuerKeys): Promise<KeySet> {
  state.jwksUri ??= await discover(iss);
  let r: Response;
  try {
    r = await fetch(state.jwksUri, {
      headers: { accept: "application/json, application/jwk-set+json" },
      redirect: "manual",
      signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
    });
  } catch (e) {
    throw new Error(`the JWKS of ${iss} cannot be fetched: ${(e as Error).message}`);
  }
  if (r.status !== 200) throw new Error(`the JWKS of ${iss} cannot be fetched: ${state.jwksUri} answered ${r.status}`);
  try {
    return createLocalJWKSet((await r.json()) as JSONWebKeySet);
  } catch (e) {
    throw new Error(`the JWKS of ${iss} is not valid: ${(e as Error).message}`);
  }
}

/** The issuer's `jwks_uri`, from its OpenID discovery document. */
async function discover(iss: string): Promise<string> {
  const discovery = `${iss.replace(/\/+$/, "")}/.well-known/openid-configuration`;
  try {
    const r = await fetch(discovery, { headers: { accept: "application/json" }, signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
    if (!r.ok) throw new Error(`${discovery} answered ${r.status}`);
    const doc = (await r.json()) as { issuer?: unknown; jwks_uri?: unknown };
    // OpenID Connect Discovery §4.3: the document's issuer is the issuer it was fetched for.
    if (doc.issuer !== iss) throw new Error(`${discovery} names issuer ${JSON.stringify(doc.issuer)}, not ${iss}`);
    if (!isSecureEndpoint(doc.jwks_uri)) throw new Error(`its jwks_uri ${JSON.stringify(doc.jwks_uri)} ${SECURE_ENDPOINT_RULE}`);
    return doc.jwks_uri as string;
  } catch (e) {
    throw new Error(`the OpenID discovery document of ${iss} cannot be used: ${(e as Error).message}`);
  }
}
