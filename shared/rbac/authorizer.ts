/**
 * Kubernetes' RBAC authorizer over a snapshot of the four RBAC kinds (plugin/pkg/auth/authorizer/rbac and
 * pkg/registry/rbac/validation's rule resolver): the rules a user holds in a namespace are those of every
 * ClusterRoleBinding and, for a namespaced request, of every RoleBinding of that namespace whose subjects
 * name the user, one of their groups, or their service account. A RoleBinding may reference a ClusterRole:
 * its rules then hold in the binding's namespace only. A ClusterRole with an `aggregationRule` holds the
 * rules of every ClusterRole its selectors match, as Kubernetes' aggregation controller fills them in.
 */
import { selectorMatches, type PolicySelector } from "../policy/spec.ts";
import type { Manifest } from "../resources/manifest.ts";
import { type Attributes, isResourceRequest, type PolicyRule, ruleAllows } from "./rules.ts";

export const RBAC_GROUP = "rbac.authorization.k8s.io";

export interface Subject {
  kind: "User" | "Group" | "ServiceAccount";
  name: string;
  apiGroup?: string;
  namespace?: string;
}
export interface RoleRef {
  apiGroup: string;
  kind: "Role" | "ClusterRole";
  name: string;
}
/** Role and ClusterRole keep their content at the top level, not under `spec`, as in Kubernetes. */
export type RoleObject = Pick<Manifest, "metadata"> & { rules?: PolicyRule[]; aggregationRule?: { clusterRoleSelectors?: PolicySelector[] } };
export type BindingObject = Pick<Manifest, "metadata"> & { subjects?: Subject[]; roleRef: RoleRef };

/** Everything the authorizer reads: built-in objects included (shared/rbac/builtin.ts). */
export interface RbacSnapshot {
  roles: RoleObject[];
  clusterRoles: RoleObject[];
  roleBindings: BindingObject[];
  clusterRoleBindings: BindingObject[];
}

export interface UserInfo {
  name: string;
  groups: string[];
}

/** Kubernetes' service account user name: `system:serviceaccount:{namespace}:{name}`. */
const serviceAccountUser = (namespace: string, name: string) => `system:serviceaccount:${namespace}:${name}`;

export function appliesToUser(user: UserInfo, subject: Subject, bindingNamespace: string): boolean {
  switch (subject.kind) {
    case "User":
      return user.name === subject.name;
    case "Group":
      return user.groups.includes(subject.name);
    case "ServiceAccount": {
      const ns = subject.namespace || bindingNamespace;
      return ns !== "" && user.name === serviceAccountUser(ns, subject.name);
    }
  }
}

/**
 * A ClusterRole's rules, aggregated ones included: an aggregated role may match another aggregated role
 * (`edit` matches `view`), whose rules are its aggregate in turn; each role counts once.
 */
export function clusterRoleRules(snapshot: RbacSnapshot, name: string, seen = new Set<string>()): PolicyRule[] {
  const role = snapshot.clusterRoles.find((r) => r.metadata.name === name);
  if (!role || seen.has(name)) return [];
  seen.add(name);
  const selectors = role.aggregationRule?.clusterRoleSelectors;
  if (!selectors) return role.rules ?? [];
  const matched = snapshot.clusterRoles.filter((r) => selectors.some((s) => selectorMatches(s, r.metadata.labels ?? {})));
  return [...(role.rules ?? []), ...matched.flatMap((r) => clusterRoleRules(snapshot, r.metadata.name, seen))];
}

/** The rules a binding's roleRef grants (none when the role does not exist: Kubernetes allows such bindings). */
export function roleRefRules(snapshot: RbacSnapshot, ref: RoleRef, bindingNamespace: string): PolicyRule[] {
  if (ref.kind === "ClusterRole") return clusterRoleRules(snapshot, ref.name);
  return snapshot.roles.find((r) => r.metadata.namespace === bindingNamespace && r.metadata.name === ref.name)?.rules ?? [];
}

/** Every rule the user holds in `namespace` ("" for cluster-scoped requests: ClusterRoleBindings only). */
export function rulesFor(snapshot: RbacSnapshot, user: UserInfo, namespace: string): PolicyRule[] {
  const bound = (b: BindingObject, ns: string) => (b.subjects ?? []).some((s) => appliesToUser(user, s, ns));
  const cluster = snapshot.clusterRoleBindings.filter((b) => bound(b, "")).flatMap((b) => roleRefRules(snapshot, b.roleRef, ""));
  if (namespace === "") return cluster;
  const local = snapshot.roleBindings
    .filter((b) => b.metadata.namespace === namespace && bound(b, namespace))
    .flatMap((b) => roleRefRules(snapshot, b.roleRef, namespace));
  return [...cluster, ...local];
}

export function authorize(snapshot: RbacSnapshot, user: UserInfo, a: Attributes): boolean {
  const namespace = isResourceRequest(a) ? (a.namespace ?? "") : "";
  return rulesFor(snapshot, user, namespace).some((rule) => ruleAllows(a, rule));
}

/** The API server's wording of a refusal (apiserver's responsewriters.forbiddenMessage). */
export function forbiddenMessage(user: UserInfo, a: Attributes): string {
  if (!isResourceRequest(a)) return `User ${JSON.stringify(user.name)} cannot ${a.verb} path ${JSON.stringify(a.path)}`;
  const resource = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
  const where = a.namespace ? `in the namespace ${JSON.stringify(a.namespace)}` : "at the cluster scope";
  return `User ${JSON.stringify(user.name)} cannot ${a.verb} resource ${JSON.stringify(resource)} in API group ${JSON.stringify(a.apiGroup)} ${where}`;
}
