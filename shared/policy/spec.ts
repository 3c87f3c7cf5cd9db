/**
 * Knative's EventPolicy (eventing.knative.dev/v1alpha1): which senders may post to which addressables.
 * `spec.to` names Brokers, EventTransforms, Sequences, Parallels, RequestReplies and JobSinks (a `ref`,
 * or a label `selector`; empty: every one of the namespace),
 * `spec.from` names senders (an OIDC `sub`, `*` allowed at its end, with the `issuer` that signs it, or a
 * `ref` to a source the router runs), `spec.filters` are Knative's filters an event must pass. Validation, which addressables a policy
 * applies to, and the rule the ingress checks (shared/policy/admit.ts).
 */
import type { FieldError } from "../delivery/policy.ts";
import { compileTriggerFilter } from "../filters/knative.ts";
import type { Manifest } from "../resources/manifest.ts";
import { isSecureEndpoint, SECURE_ENDPOINT_RULE } from "../transport.ts";

export interface PolicyRef {
  apiVersion?: string;
  kind: string;
  name: string;
  namespace?: string;
}

export interface LabelSelectorRequirement {
  key: string;
  operator: "In" | "NotIn" | "Exists" | "DoesNotExist";
  values?: string[];
}

export interface PolicySelector {
  apiVersion?: string;
  kind?: string;
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}

export interface EventPolicySpec {
  to?: { ref?: PolicyRef; selector?: PolicySelector }[];
  /**
   * `issuer` (our addition to Knative's schema, which trusts one issuer): the `iss` whose tokens prove the
   * `sub`. Without it a `sub` names a sender only while OIDC_ISSUERS lists a single issuer.
   */
  from?: { ref?: PolicyRef; sub?: string; issuer?: string }[];
  filters?: unknown[];
}

/** A source the router runs, as a `from.ref` names it (namespace resolved). */
export interface SourceIdentity {
  kind: string;
  namespace: string;
  name: string;
}

/** What the ingress checks for one applying policy: its routing-table entry. */
export interface PolicyRule {
  name: string;
  subjects: { sub: string; issuer?: string }[];
  sources: SourceIdentity[];
  filters?: unknown[];
}

/** The addressables a policy's `to` may name (what the router takes events at), with their API groups. */
export const POLICY_TARGETS = {
  Broker: "eventing.knative.dev",
  EventTransform: "eventing.knative.dev",
  Sequence: "flows.knative.dev",
  Parallel: "flows.knative.dev",
  RequestReply: "eventing.knative.dev",
  JobSink: "sinks.knative.dev",
} as const;
export type PolicyTarget = keyof typeof POLICY_TARGETS;
const TARGET_NAMES = Object.keys(POLICY_TARGETS).join(", ");

/** Knative's audience of an addressable (`status.address.audience`, `{group}/{kind}/{namespace}/{name}`, as `auth.GetAudience` makes it): the `aud` tokens must carry. */
export function audienceOf(kind: PolicyTarget, namespace: string, name: string): string {
  return `${POLICY_TARGETS[kind]}/${kind.toLowerCase()}/${namespace}/${name}`;
}

/** Whether an `aud` is an addressable's audience: a token naming one is meant for its ingress, not the management API. */
export function isAddressAudience(aud: string): boolean {
  return Object.entries(POLICY_TARGETS).some(([kind, group]) => aud.startsWith(`${group}/${kind.toLowerCase()}/`));
}

/** The Worker variable OIDC_ISSUERS: comma-separated issuer URLs, exactly as the tokens' `iss` gives them. */
export function listedIssuers(text: string | undefined): string[] {
  return (text ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

const OPERATORS = ["In", "NotIn", "Exists", "DoesNotExist"];
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const groupOf = (apiVersion: string | undefined) => apiVersion?.split("/")[0];

/**
 * Every cause, by field. `sourceKinds`: the router's source kinds and their groups (what a `from.ref`
 * may name).
 */
export function validateEventPolicy(m: Manifest<EventPolicySpec>, sourceKinds: readonly { kind: string; group: string }[]): FieldError[] {
  const spec = m.spec ?? {};
  const causes: FieldError[] = [];
  const list = (value: unknown, path: string): unknown[] => {
    if (value === undefined || value === null) return [];
    if (Array.isArray(value)) return value;
    causes.push({ field: path, message: "must be a list" });
    return [];
  };
  list(spec.to, "spec.to").forEach((entry, i) => {
    const path = `spec.to[${i}]`;
    if (!isObject(entry) || (entry.ref === undefined) === (entry.selector === undefined)) {
      causes.push({ field: path, message: "needs exactly one of ref or selector" });
      return;
    }
    if (entry.ref !== undefined) {
      const ref = entry.ref;
      if (!isObject(ref) || typeof ref.name !== "string" || ref.name === "") causes.push({ field: `${path}.ref.name`, message: "is required" });
      if (!isObject(ref) || !isTargetKind(ref.kind, ref.apiVersion))
        causes.push({ field: `${path}.ref.kind`, message: `must be one of ${TARGET_NAMES}: policies apply where the router takes events` });
      if (isObject(ref) && ref.namespace !== undefined && ref.namespace !== m.metadata.namespace)
        causes.push({ field: `${path}.ref.namespace`, message: "must be the policy's own namespace" });
    } else {
      causes.push(...validateSelector(entry.selector, `${path}.selector`));
    }
  });
  const from = list(spec.from, "spec.from");
  if (from.length === 0 && (spec.from == null || Array.isArray(spec.from)))
    causes.push({ field: "spec.from", message: "must name at least one sender (sub or ref)" });
  from.forEach((entry, i) => {
    const path = `spec.from[${i}]`;
    if (!isObject(entry) || (entry.ref === undefined) === (entry.sub === undefined)) {
      causes.push({ field: path, message: "needs exactly one of sub or ref" });
      return;
    }
    if (entry.sub !== undefined) {
      if (typeof entry.sub !== "string" || entry.sub === "") causes.push({ field: `${path}.sub`, message: "must be a non-empty string" });
      else if (entry.sub.indexOf("*") !== -1 && entry.sub.indexOf("*") !== entry.sub.length - 1)
        causes.push({ field: `${path}.sub`, message: "may hold `*` only as its last character" });
      if (entry.issuer !== undefined && !isSecureEndpoint(entry.issuer))
        causes.push({ field: `${path}.issuer`, message: `must be an issuer URL as its tokens' iss gives it: it ${SECURE_ENDPOINT_RULE}` });
      return;
    }
    if (entry.issuer !== undefined) causes.push({ field: `${path}.issuer`, message: "goes with sub only: a source the router runs needs no token" });
    const ref = entry.ref;
    if (!isObject(ref) || typeof ref.name !== "string" || ref.name === "") causes.push({ field: `${path}.ref.name`, message: "is required" });
    const known =
      isObject(ref) && sourceKinds.some((k) => k.kind === ref.kind && (ref.apiVersion === undefined || groupOf(String(ref.apiVersion)) === k.group));
    if (!known)
      causes.push({ field: `${path}.ref.kind`, message: `must be a source the router runs: ${sourceKinds.map((k) => `${k.group} ${k.kind}`).join(", ")}` });
  });
  if (spec.filters !== undefined) {
    const compiled = compileTriggerFilter({ filters: spec.filters as unknown[] });
    if ("causes" in compiled) causes.push(...compiled.causes);
  }
  return causes;
}

function isTargetKind(kind: unknown, apiVersion: unknown): boolean {
  return Object.hasOwn(POLICY_TARGETS, String(kind)) && (apiVersion === undefined || groupOf(String(apiVersion)) === POLICY_TARGETS[kind as PolicyTarget]);
}

function validateSelector(value: unknown, path: string): FieldError[] {
  if (!isObject(value)) return [{ field: path, message: "must be an object" }];
  const causes: FieldError[] = [];
  if (value.kind !== undefined && !isTargetKind(value.kind, value.apiVersion))
    causes.push({ field: `${path}.kind`, message: `must be one of ${TARGET_NAMES}` });
  if (value.matchLabels !== undefined && (!isObject(value.matchLabels) || Object.values(value.matchLabels).some((v) => typeof v !== "string"))) {
    causes.push({ field: `${path}.matchLabels`, message: "must map label keys to string values" });
  }
  const expressions = value.matchExpressions;
  if (expressions !== undefined && !Array.isArray(expressions)) causes.push({ field: `${path}.matchExpressions`, message: "must be a list" });
  for (const [i, e] of (Array.isArray(expressions) ? expressions : []).entries()) {
    const at = `${path}.matchExpressions[${i}]`;
    if (!isObject(e) || typeof e.key !== "string" || e.key === "") {
      causes.push({ field: `${at}.key`, message: "is required" });
      continue;
    }
    if (!OPERATORS.includes(e.operator as string)) {
      causes.push({ field: `${at}.operator`, message: `must be one of ${OPERATORS.join(", ")}` });
      continue;
    }
    const values = e.values ?? [];
    const needsValues = e.operator === "In" || e.operator === "NotIn";
    if (!Array.isArray(values) || values.some((v) => typeof v !== "string")) causes.push({ field: `${at}.values`, message: "must be a list of strings" });
    else if (needsValues !== values.length > 0)
      causes.push({ field: `${at}.values`, message: needsValues ? `is required for ${e.operator}` : `must be empty for ${e.operator}` });
  }
  return causes;
}

/**
 * Whether a policy applies to an addressable (a POLICY_TARGETS kind of the same namespace; no `to`: every
 * one of it). A `ref` names a kind and a name; a selector without a kind selects by labels among every kind.
 */
export function appliesTo(policy: Manifest<EventPolicySpec>, target: Pick<Manifest, "kind" | "metadata">): boolean {
  if (policy.metadata.namespace !== target.metadata.namespace || !Object.hasOwn(POLICY_TARGETS, target.kind)) return false;
  const to = policy.spec.to ?? [];
  if (to.length === 0) return true;
  const labels = target.metadata.labels ?? {};
  return to.some((t) =>
    t.ref
      ? t.ref.kind === target.kind && t.ref.name === target.metadata.name
      : (t.selector!.kind ?? target.kind) === target.kind && selectorMatches(t.selector!, labels),
  );
}

/** Kubernetes' LabelSelector: every matchLabels pair and every expression must hold. */
export function selectorMatches(selector: PolicySelector, labels: Record<string, string>): boolean {
  const pairs = Object.entries(selector.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
  return (
    pairs &&
    (selector.matchExpressions ?? []).every((e) => {
      switch (e.operator) {
        case "In":
          return e.key in labels && (e.values ?? []).includes(labels[e.key]);
        case "NotIn":
          return !(e.key in labels) || !(e.values ?? []).includes(labels[e.key]);
        case "Exists":
          return e.key in labels;
        case "DoesNotExist":
          return !(e.key in labels);
        default:
          return false;
      }
    })
  );
}

/** The rule the ingress checks, from a stored (valid) policy. */
export function policyRule(policy: Manifest<EventPolicySpec>): PolicyRule {
  const from = policy.spec.from ?? [];
  const ns = policy.metadata.namespace!;
  return {
    name: policy.metadata.name,
    subjects: from.flatMap((f) => (f.sub === undefined ? [] : [f.issuer === undefined ? { sub: f.sub } : { sub: f.sub, issuer: f.issuer }])),
    sources: from.flatMap((f) => (f.ref ? [{ kind: f.ref.kind, namespace: f.ref.namespace ?? ns, name: f.ref.name }] : [])),
    ...(policy.spec.filters?.length ? { filters: policy.spec.filters } : {}),
  };
}
