/**
 * Kubernetes API discovery as kubectl reads it (the legacy, unaggregated documents, which every kubectl
 * falls back to): `/version`, `/api`, `/api/v1`, `/apis` and `/apis/{group}/{version}`, built from the
 * kind registry so a new kind is discovered without another table. Core v1 serves only what kubectl reads
 * around the router's kinds: `events` (empty: `kubectl describe` lists an object's events) and
 * `namespaces` (get: every valid name exists, as namespaces are implicit in the router; kubectl reads one
 * to word a 404).
 */
import { BROKER_SUBRESOURCES } from "../rbac/builtin.ts";
import { KINDS, type KindInfo } from "../resources/kinds.ts";

/** The Kubernetes version whose API the router answers like (kubectl warns beyond one minor of skew). */
export const SERVED_KUBERNETES = { major: "1", minor: "32" };

/** Every verb the management API answers for a kind. */
const VERBS = ["create", "delete", "get", "list", "patch", "update", "watch"];
/** What the router serves beside the kinds: the broker's subresources, self reviews, the audit trail. */
const EXTRA: Record<string, Record<string, unknown>[]> = {
  "eventing.knative.dev/v1": BROKER_SUBRESOURCES.map((s) => ({
    name: `brokers/${s}`,
    singularName: "",
    namespaced: true,
    kind: "Broker",
    verbs: s === "deadletters" ? ["create", "get"] : ["get"],
  })),
  "edge-eventing.dev/v1alpha1": [
    { name: "auditevents", singularName: "auditevent", namespaced: true, kind: "AuditEvent", verbs: ["list"] },
    { name: "filterreviews", singularName: "filterreview", namespaced: false, kind: "FilterReview", verbs: ["create"] },
    { name: "expressionreviews", singularName: "expressionreview", namespaced: false, kind: "ExpressionReview", verbs: ["create"] },
  ],
  "authorization.k8s.io/v1": [
    { name: "selfsubjectaccessreviews", singularName: "selfsubjectaccessreview", namespaced: false, kind: "SelfSubjectAccessReview", verbs: ["create"] },
    { name: "selfsubjectrulesreviews", singularName: "selfsubjectrulesreview", namespaced: false, kind: "SelfSubjectRulesReview", verbs: ["create"] },
  ],
  "authentication.k8s.io/v1": [
    { name: "selfsubjectreviews", singularName: "selfsubjectreview", namespaced: false, kind: "SelfSubjectReview", verbs: ["create"] },
  ],
};

export function versionInfo(): Record<string, string> {
  return {
    major: SERVED_KUBERNETES.major,
    minor: SERVED_KUBERNETES.minor,
    gitVersion: `v${SERVED_KUBERNETES.major}.${SERVED_KUBERNETES.minor}.0-edge-eventing`,
    platform: "cloudflare/workers",
  };
}

export function coreVersions() {
  return { kind: "APIVersions", versions: ["v1"], serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress: "" }] };
}

export function coreResources() {
  return {
    kind: "APIResourceList",
    groupVersion: "v1",
    resources: [
      { name: "events", singularName: "event", namespaced: true, kind: "Event", verbs: ["list"], shortNames: ["ev"] },
      { name: "namespaces", singularName: "namespace", namespaced: false, kind: "Namespace", verbs: ["get"], shortNames: ["ns"] },
    ],
  };
}

/** A namespace as the core API shows it: the router has no namespace objects, every valid one is Active. */
export function namespaceObject(name: string) {
  return { apiVersion: "v1", kind: "Namespace", metadata: { name }, spec: { finalizers: ["kubernetes"] }, status: { phase: "Active" } };
}

/** Groups in the order kinds are registered; the first version listed is the preferred one. */
function groups(): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const served = [...KINDS.flatMap((k) => k.versions.map((v) => [k.group, v])), ...Object.keys(EXTRA).map((gv) => gv.split("/"))];
  for (const [group, version] of served) {
    const versions = out.get(group) ?? [];
    if (!versions.includes(version)) versions.push(version);
    out.set(group, versions);
  }
  return out;
}

export function groupList() {
  return {
    kind: "APIGroupList",
    apiVersion: "v1",
    groups: [...groups()].map(([name, versions]) => {
      const list = versions.map((version) => ({ groupVersion: `${name}/${version}`, version }));
      return { name, versions: list, preferredVersion: list[0] };
    }),
  };
}

function resource(k: KindInfo) {
  return {
    name: k.plural,
    singularName: k.kind.toLowerCase(),
    namespaced: !k.clusterScoped,
    kind: k.kind,
    verbs: VERBS,
    ...(k.shortNames ? { shortNames: [...k.shortNames] } : {}),
    ...(k.categories ? { categories: [...k.categories] } : {}),
  };
}

/** The kinds served in one group version, or null when the router serves none there. */
export function resourceList(group: string, version: string) {
  const kinds = KINDS.filter((k) => k.group === group && k.versions.includes(version));
  const extra = EXTRA[`${group}/${version}`] ?? [];
  if (kinds.length === 0 && extra.length === 0) return null;
  return { kind: "APIResourceList", apiVersion: "v1", groupVersion: `${group}/${version}`, resources: [...kinds.map(resource), ...extra] };
}

/** Every served group version, as `group/version`. */
export function groupVersions(): string[] {
  return [...groups()].flatMap(([name, versions]) => versions.map((v) => `${name}/${v}`));
}
