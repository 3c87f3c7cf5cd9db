/**
 * An EventPolicy's status, as Knative reports it: `from` (the subjects it admits), `SubjectsResolved`
 * (every `from.ref` names a source that exists), `AuthenticationEnabled` (a `sub` can only be proven
 * with a token from an issuer the router trusts, and names a sender only with its `issuer` while it trusts
 * several) and `Ready` over both.
 */
import { condition, type Condition, readyCondition } from "../resources/manifest.ts";
import type { EventPolicySpec } from "./spec.ts";

export function policyStatus(
  spec: EventPolicySpec,
  exists: (kind: string, name: string, namespace?: string) => boolean,
  issuers: string[],
): { from: string[]; conditions: Condition[] } {
  const from = spec.from ?? [];
  const missing = from.flatMap((f) =>
    f.ref && !exists(f.ref.kind, f.ref.name, f.ref.namespace) ? [`${f.ref.kind} ${f.ref.namespace ? `${f.ref.namespace}/` : ""}${f.ref.name}`] : [],
  );
  const subs = from.flatMap((f) => (f.sub === undefined ? [] : [f]));
  const resolved =
    missing.length === 0
      ? condition("SubjectsResolved", "True", "SubjectsResolved")
      : condition("SubjectsResolved", "False", "SourceNotFound", `no such source: ${missing.join(", ")}`);
  const unknown = subs.flatMap((f) => (f.issuer !== undefined && !issuers.includes(f.issuer) ? [f.issuer] : []));
  const untied = issuers.length > 1 ? subs.flatMap((f) => (f.issuer === undefined ? [f.sub!] : [])) : [];
  const auth =
    subs.length > 0 && issuers.length === 0
      ? condition("AuthenticationEnabled", "False", "NoOIDCIssuers", "the Worker variable OIDC_ISSUERS lists no issuer: no token can prove a sub")
      : unknown.length > 0
        ? condition(
            "AuthenticationEnabled",
            "False",
            "UnknownIssuer",
            `OIDC_ISSUERS does not list ${[...new Set(unknown)].join(", ")}: no token of it is accepted`,
          )
        : untied.length > 0
          ? condition(
              "AuthenticationEnabled",
              "False",
              "IssuerRequired",
              `OIDC_ISSUERS lists ${issuers.length} issuers: a sub names a sender only with its issuer (from[].issuer), so ${untied.map((s) => JSON.stringify(s)).join(", ")} names no one`,
            )
          : condition("AuthenticationEnabled", "True", "AuthenticationEnabled");
  const failing = [resolved, auth].find((c) => c.status !== "True");
  return {
    from: subs.map((f) => f.sub!),
    conditions: [failing ? readyCondition(false, failing.reason!, failing.message) : readyCondition(true, "EventPolicyReady"), resolved, auth],
  };
}
