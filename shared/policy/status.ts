/**
 * An EventPolicy's status, as Knative reports it: `from` (the subjects it admits), `SubjectsResolved`
 * (every `from.ref` names a source that exists), `AuthenticationEnabled` (a `sub` can only be proven
 * with a token from an issuer the router trusts) and `Ready` over both.
 */
import { condition, type Condition, readyCondition } from "../resources/manifest.ts";
import type { EventPolicySpec } from "./spec.ts";

export function policyStatus(spec: EventPolicySpec, exists: (kind: string, name: string, namespace?: string) => boolean, issuersConfigured: boolean): { from: string[]; conditions: Condition[] } {
  const from = spec.from ?? [];
  const missing = from.flatMap((f) => (f.ref && !exists(f.ref.kind, f.ref.name, f.ref.namespace) ? [`${f.ref.kind} ${f.ref.namespace ? `${f.ref.namespace}/` : ""}${f.ref.name}`] : []));
  const subs = from.flatMap((f) => (f.sub === undefined ? [] : [f.sub]));
  const resolved = missing.length === 0 ? condition("SubjectsResolved", "True", "SubjectsResolved") : condition("SubjectsResolved", "False", "SourceNotFound", `no such source: ${missing.join(", ")}`);
  const auth =
    subs.length === 0 || issuersConfigured
      ? condition("AuthenticationEnabled", "True", "AuthenticationEnabled")
      : condition("AuthenticationEnabled", "False", "NoOIDCIssuers", "the Worker variable OIDC_ISSUERS lists no issuer: no token can prove a sub");
  const failing = [resolved, auth].find((c) => c.status !== "True");
  return { from: subs, conditions: [failing ? readyCondition(false, failing.reason!, failing.message) : readyCondition(true, "EventPolicyReady"), resolved, auth] };
}
