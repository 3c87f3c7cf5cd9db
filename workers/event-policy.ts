/**
 * EventPolicy at a broker's public ingress (API.md §8): the sender is the `sub` of the request's bearer
 * token, verified with the trusted OIDC issuers (workers/oidc.ts), and the policies that apply to the
 * broker must allow it each of the events. Refusals are 401 (no valid token) or 403 (not allowed); the
 * ingest client logs and counts them (clients/ingress-refusals.ts).
 */
import type { Admission } from "../shared/contracts/ingest.ts";
import { admit, refusalOf } from "../shared/policy/admit.ts";
import { brokerAudience } from "../shared/policy/spec.ts";
import { verifySender } from "./oidc.ts";

/** Public ingress: the request's bearer token, the broker's shared ingress token or a sender's JWT. */
export function bearerAdmission(env: Env, bearer: string | undefined): Admission {
  return {
    producer: { bearer },
    async decide(broker, rules, events) {
      const token = await verifySender(bearer, brokerAudience(broker.namespace, broker.name), env.OIDC_ISSUERS);
      if (!token.ok) return { status: 401, error: token.error, reason: token.reason };
      return refusalOf(admit(rules, { sub: token.sub }, events));
    },
  };
}
