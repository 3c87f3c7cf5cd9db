/**
 * The ClusterRoles and ClusterRoleBindings every router has, served read-only beside the stored ones, as
 * Kubernetes' bootstrap policy (plugin/pkg/auth/authorizer/rbac/bootstrappolicy) shapes them:
 * - `cluster-admin`: everything, bound to the group `system:masters` (the admin token's group);
 * - `admin` ⊇ `edit` ⊇ `view`, aggregated from ClusterRoles labelled `rbac.authorization.k8s.io/aggregate-to-
 *   {admin,edit,view}: "true"`, so a platform team extends them with a labelled ClusterRole of its own; the
 *   router's part is in `edge-eventing:aggregate-to-{admin,edit,view}` (Knative ships the same for its CRDs);
 * - `system:basic-user` (self reviews), `system:discovery` (discovery paths) and `edge-eventing:reviews`
 *   (FilterReview, ExpressionReview: pure computations) for every authenticated user;
 * - `system:monitoring` (`/metrics`), bound to nobody: bind it to who scrapes metrics.
 */
import { KINDS } from "../resources/kinds.ts";
import { type BindingObject, RBAC_GROUP, type RbacSnapshot, type RoleObject } from "./authorizer.ts";
import type { PolicyRule } from "./rules.ts";

export const AGGREGATE_LABEL = (role: "admin" | "edit" | "view") => `${RBAC_GROUP}/aggregate-to-${role}`;
/** The subresources of a Broker (all under eventing.knative.dev, whichever path serves them). */
export const BROKER_SUBRESOURCES = ["events", "live", "metrics", "deadletters"] as const;

const READ = ["get", "list", "watch"];
const WRITE = ["create", "delete", "deletecollection", "patch", "update"];
const AUTHENTICATED = "system:authenticated";
export const MASTERS = "system:masters";

/** The router's kinds (not RBAC's) by group, with the broker subresources beside brokers. */
function routerResources(): Map<string, string[]> {
  const byGroup = new Map<string, string[]>();
  for (const k of KINDS.filter((k) => k.group !== RBAC_GROUP)) {
    const list = byGroup.get(k.group) ?? [];
    list.push(k.plural, ...(k.kind === "Broker" ? BROKER_SUBRESOURCES.map((s) => `brokers/${s}`) : []));
    byGroup.set(k.group, list);
  }
  byGroup.set("edge-eventing.dev", [...(byGroup.get("edge-eventing.dev") ?? []), "eventdisplays"]);
  return byGroup;
}

const rulesOver = (verbs: string[]): PolicyRule[] => [...routerResources()].map(([group, resources]) => ({ apiGroups: [group], resources, verbs }));

const clusterRole = (name: string, rules: PolicyRule[], labels?: Record<string, string>, aggregateFrom?: string): RoleObject => ({
  metadata: { name, ...(labels ? { labels } : {}), annotations: { "rbac.authorization.kubernetes.io/autoupdate": "true" } },
  rules,
  ...(aggregateFrom ? { aggregationRule: { clusterRoleSelectors: [{ matchLabels: { [aggregateFrom]: "true" } }] } } : {}),
});

const binding = (name: string, role: string, group: string): BindingObject => ({
  metadata: { name, annotations: { "rbac.authorization.kubernetes.io/autoupdate": "true" } },
  roleRef: { apiGroup: RBAC_GROUP, kind: "ClusterRole", name: role },
  subjects: [{ kind: "Group", apiGroup: RBAC_GROUP, name: group }],
});

export const BUILTIN_CLUSTER_ROLES: RoleObject[] = [
  clusterRole("cluster-admin", [
    { apiGroups: ["*"], resources: ["*"], verbs: ["*"] },
    { nonResourceURLs: ["*"], verbs: ["*"] },
  ]),
  clusterRole("admin", [], undefined, AGGREGATE_LABEL("admin")),
  clusterRole("edit", [], { [AGGREGATE_LABEL("admin")]: "true" }, AGGREGATE_LABEL("edit")),
  clusterRole("view", [], { [AGGREGATE_LABEL("edit")]: "true" }, AGGREGATE_LABEL("view")),
  clusterRole(
    "edge-eventing:aggregate-to-admin",
    [
      { apiGroups: [RBAC_GROUP], resources: ["roles", "rolebindings"], verbs: [...READ, ...WRITE] },
      { apiGroups: ["edge-eventing.dev"], resources: ["auditevents"], verbs: ["list"] },
    ],
    { [AGGREGATE_LABEL("admin")]: "true" },
  ),
  clusterRole(
    "edge-eventing:aggregate-to-edit",
    [...rulesOver(WRITE), { apiGroups: ["eventing.knative.dev"], resources: ["brokers/deadletters"], verbs: ["create"] }],
    { [AGGREGATE_LABEL("edit")]: "true" },
  ),
  clusterRole("edge-eventing:aggregate-to-view", [...rulesOver(READ), { apiGroups: [""], resources: ["namespaces", "events"], verbs: READ }], {
    [AGGREGATE_LABEL("view")]: "true",
  }),
  clusterRole("system:basic-user", [
    { apiGroups: ["authorization.k8s.io"], resources: ["selfsubjectaccessreviews", "selfsubjectrulesreviews"], verbs: ["create"] },
    { apiGroups: ["authentication.k8s.io"], resources: ["selfsubjectreviews"], verbs: ["create"] },
  ]),
  clusterRole("system:discovery", [
    { nonResourceURLs: ["/api", "/api/*", "/apis", "/apis/*", "/healthz", "/openapi", "/openapi/*", "/version", "/version/"], verbs: ["get"] },
  ]),
  clusterRole("system:monitoring", [{ nonResourceURLs: ["/metrics", "/healthz"], verbs: ["get"] }]),
  clusterRole("edge-eventing:reviews", [{ apiGroups: ["edge-eventing.dev"], resources: ["filterreviews", "expressionreviews"], verbs: ["create"] }]),
];

export const BUILTIN_CLUSTER_ROLE_BINDINGS: BindingObject[] = [
  binding("cluster-admin", "cluster-admin", MASTERS),
  binding("system:basic-user", "system:basic-user", AUTHENTICATED),
  binding("system:discovery", "system:discovery", AUTHENTICATED),
  binding("edge-eventing:reviews", "edge-eventing:reviews", AUTHENTICATED),
];

/** Whether `name` is a built-in object of that kind (served read-only). */
export function isBuiltin(kind: string, name: string): boolean {
  if (kind === "ClusterRole") return BUILTIN_CLUSTER_ROLES.some((r) => r.metadata.name === name);
  if (kind === "ClusterRoleBinding") return BUILTIN_CLUSTER_ROLE_BINDINGS.some((b) => b.metadata.name === name);
  return false;
}

/** The stored objects with the built-in ones. */
export function withBuiltins(stored: RbacSnapshot): RbacSnapshot {
  return {
    ...stored,
    clusterRoles: [...BUILTIN_CLUSTER_ROLES, ...stored.clusterRoles],
    clusterRoleBindings: [...BUILTIN_CLUSTER_ROLE_BINDINGS, ...stored.clusterRoleBindings],
  };
}
