/**
 * EventPolicy where the router takes events (API.md §8: a broker's ingress, the address of an
 * EventTransform, Sequence or Parallel), for a request to one with applying policies: who sends (a
 * verified OIDC token's `sub`, or a source the router runs) and whether the policies allow it each of the
 * events. Refusals are 401 (no valid token) or 403 (not allowed); a broker's are counted for /metrics.
 */
import { admit, type Sender } from "../shared/policy/admit.ts";
import { audienceOf, type PolicyRule, type PolicyTarget, type SourceIdentity } from "../shared/policy/spec.ts";
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

/** Where events are posted: a Broker, or the address of an EventTransform, a Sequence or a Parallel. */
export interface Addressable {
  kind: PolicyTarget;
  namespace: string;
  name: string;
}

export async function policyRefusal(env: Env, target: Addressable, rules: PolicyRule[], events: CloudEvent[], producer: Producer): Promise<PolicyRefusal | null> {
  let sender: Sender;
  if ("source" in producer) {
    sender = { source: producer.source };
  } else {
    const token = await verifySender(producer.bearer, audienceOf(target.kind, target.namespace, target.name), env.OIDC_ISSUERS);
    if (!token.ok) return refuse(target, { status: 401, error: token.error, reason: token.reason });
    sender = { sub: token.sub };
  }
  const decision = admit(rules, sender, events);
  return decision.allowed ? null : refuse(target, { status: 403, error: decision.error, reason: decision.reason });
}

function refuse(target: Addressable, refusal: PolicyRefusal): PolicyRefusal {
  console.log(JSON.stringify({ level: "warn", msg: "ingress refused by EventPolicy", [target.kind === "Broker" ? "broker" : target.kind]: `${target.namespace}/${target.name}`, status: refusal.status, reason: refusal.reason }));
  if (target.kind === "Broker") countRefusal(target.namespace, target.name, refusal.status);
  return refusal;
}
