/**
 * The decision at a broker's ingress once the sender is known (a verified token's `sub` and issuer, or a source the
 * router runs): every event of the request must be allowed by some applying policy whose `from` names the
 * sender and whose filters the event passes (Knative: policies add up; a policy's filters all apply).
 * One refused event refuses the whole request, so that nothing of it is stored.
 */
import type { CloudEvent } from "../cloudevents/event.ts";
import type { Admission, PolicyRefusal } from "../contracts/ingest.ts";
import { type CompiledFilter, compileTriggerFilter } from "../filters/knative.ts";
import type { PolicyRule, SourceIdentity } from "./spec.ts";

/**
 * Who sends to an addressable, as its EventPolicies name producers: a verified token's `sub` and `iss`
 * (`onlyIssuer`: OIDC_ISSUERS lists that issuer alone), or a source the router runs. (Delivery's sender is
 * DeliverySender, durable-objects/broker/sender.ts.)
 */
export type Sender = { sub: string; iss: string; onlyIssuer: boolean } | { source: SourceIdentity };

export type PolicyDecision = { allowed: true } | { allowed: false; reason: "sender_not_allowed" | "event_not_allowed"; error: string; index?: number };

/** Knative's `from.sub`: the exact subject, or any subject that starts with what comes before a final `*`. */
export function subMatches(pattern: string, sub: string): boolean {
  return pattern.endsWith("*") ? sub.startsWith(pattern.slice(0, -1)) : sub === pattern;
}

export function senderMatches(rule: PolicyRule, sender: Sender): boolean {
  // A sub is tied to the issuer that signs it: another trusted issuer may hand out the same sub to anyone.
  if ("sub" in sender)
    return rule.subjects.some((s) => subMatches(s.sub, sender.sub) && (s.issuer === undefined ? sender.onlyIssuer : s.issuer === sender.iss));
  const s = sender.source;
  return rule.sources.some((r) => r.kind === s.kind && r.namespace === s.namespace && r.name === s.name);
}

/** Compiled once per rule object (a routing table's rules live until the next refresh replaces them). */
const compiled = new WeakMap<PolicyRule, CompiledFilter>();

function filterOf(rule: PolicyRule): CompiledFilter {
  let f = compiled.get(rule);
  if (!f) {
    const r = compileTriggerFilter({ filters: rule.filters ?? [] });
    // Stored policies were validated; should one not compile any more, it allows nothing rather than everything.
    f = "filter" in r ? r.filter : () => "fail";
    compiled.set(rule, f);
  }
  return f;
}

function senderName(sender: Sender): string {
  return "sub" in sender ? `sub ${JSON.stringify(sender.sub)} of ${sender.iss}` : `${sender.source.kind} ${sender.source.namespace}/${sender.source.name}`;
}

export function admit(rules: PolicyRule[], sender: Sender, events: CloudEvent[]): PolicyDecision {
  const mine = rules.filter((r) => senderMatches(r, sender));
  // Anyone can hold a valid token of a public issuer (GitHub's): a stranger learns nothing of the policies.
  if (mine.length === 0)
    return { allowed: false, reason: "sender_not_allowed", error: `${senderName(sender)} is not allowed to send here by the EventPolicies that apply` };
  for (let i = 0; i < events.length; i++) {
    if (mine.some((r) => filterOf(r)(events[i]) !== "fail")) continue;
    const e = events[i].attributes;
    const which = events.length > 1 ? `event [${i}] (` : "the event (";
    return {
      allowed: false,
      reason: "event_not_allowed",
      error: `${which}type ${JSON.stringify(e.type)}, source ${JSON.stringify(e.source)}) does not pass the filters of the EventPolicies that allow ${senderName(sender)} (${mine.map((r) => r.name).join(", ")}); nothing of the request was stored`,
      ...(events.length > 1 ? { index: i } : {}),
    };
  }
  return { allowed: true };
}

/** A decision as the ingest refusal it makes (403), or null when every event is allowed. */
export function refusalOf(decision: PolicyDecision): PolicyRefusal | null {
  return decision.allowed ? null : { status: 403, error: decision.error, reason: decision.reason };
}

/** A source the router runs hands its events over as itself: the EventPolicies naming it in `from.ref` allow them. */
export function sourceAdmission(source: SourceIdentity): Admission {
  return { decide: async (_target, rules, events) => refusalOf(admit(rules, { source }, events)) };
}
