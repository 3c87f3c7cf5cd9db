/**
 * EventPolicy at a broker's public ingress and at the address of an EventTransform, Sequence, Parallel,
 * RequestReply or JobSink (API.md §8): the sender is the `sub` (and issuer) of the request's bearer token,
 * verified with the trusted OIDC issuers (workers/oidc.ts) for the target's audience, and the policies that
 * apply to the target must allow it each of the events. Refusals are 401 (no valid token) or 403 (not
 * allowed); the ingest client logs and counts them (clients/ingress-refusals.ts).
 */
import type { Admission } from "../shared/contracts/ingest.ts";
import { admit, refusalOf } from "../shared/policy/admit.ts";
import { audienceOf, listedIssuers } from "../shared/policy/spec.ts";
import { type TokenCheck, verifySender } from "./oidc.ts";

/**
 * Public ingress: the request's bearer token, the broker's shared ingress token or a sender's JWT.
 * `audience`: the one audience the token must carry whatever the target (a RequestReply's, whose event then
 * enters its broker as the same sender); by default the target's own. The token is verified once per audience.
 */
export function bearerAdmission(env: Env, bearer: string | undefined, audience?: string): Admission {
  const verified = new Map<string, Promise<TokenCheck>>();
  const verify = (aud: string) => verified.get(aud) ?? verified.set(aud, verifySender(bearer, aud, env.OIDC_ISSUERS)).get(aud)!;
  return {
    producer: { bearer },
    async decide(target, rules, events) {
      const token = await verify(audience ?? audienceOf(target.kind, target.namespace, target.name));
      if (!token.ok) return { status: 401, error: token.error, reason: token.reason };
      return refusalOf(admit(rules, { sub: token.sub, iss: token.iss, onlyIssuer: listedIssuers(env.OIDC_ISSUERS).length === 1 }, events));
    },
  };
}
