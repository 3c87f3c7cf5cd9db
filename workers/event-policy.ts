/**
 * EventPolicy at a broker's ingress (API.md §8), for a request whose broker has applying policies: who
 * sends (a verified OIDC token's `sub`, or a source the router runs) and whether the policies allow it
 * each of the events. Refusals are 401 (no valid token) or 403 (not allowed), counted for /metrics.
 */
import { admit, type Sender } from "../shared/policy/admit.ts";
import { brokerAudience, listedIssuers, type PolicyRule, type SourceIdentity } from "../shared/policy/spec.ts";
import type { CloudEvent } from "../shared/cloudevents/event.ts";
import { countRefusal } from "./ingress-refusals.ts";
import { verifySender } from "./oidc.ts";

/** Public ingress passes the request's bearer token; a source the router runs passes its identity. */
export type Producer = { bearer: string | undefined } | { source: SourceIdentity };

export interface PolicyRefusal {
  status: 401 | 403;
  error: string;
  /** A stable word for what failed (workers/oidc.ts TokenFailure, or sender_not_allowed / event_not_allowed). */
  reason: string;
}

export async function policyRefusal(env: Env, broker: { namespace: string; name: string }, rules: PolicyRule[], events: CloudEvent[], producer: Producer): Promise<PolicyRefusal | null> {
  let sender: Sender;
  if ("source" in producer) {
    sender = { source: producer.source };
  } else {
    const token = await verifySender(producer.bearer, brokerAudience(broker.namespace, broker.name), env.OIDC_ISSUERS);
    if (!token.ok) return refuse(broker, { status: 401, error: token.error, reason: token.reason });
    sender = { sub: token.sub, iss: token.iss, onlyIssuer: listedIssuers(env.OIDC_ISSUERS).length === 1 };
  }
  const decision = admit(rules, sender, events);
  return decision.allowed ? null : refuse(broker, { status: 403, error: decision.error, reason: decision.reason });
}

function refuse(broker: { namespace: string; name: string }, refusal: PolicyRefusal): PolicyRefusal {
  console.log(JSON.stringify({ level: "warn", msg: "ingress refused by EventPolicy", broker: `${broker.namespace}/${broker.name}`, status: refusal.status, reason: refusal.reason }));
  countRefusal(broker.namespace, broker.name, refusal.status);
  return refusal;
}
