/**
 * No one may grant what they do not hold (pkg/registry/rbac: the policy-based storage of roles and bindings,
 * and validation.ConfirmNoEscalation). Writing a Role or ClusterRole needs every one of its rules, or the
 * `escalate` verb on it; a ClusterRole's aggregationRule can gather anything, so it needs everything.
 * An update that keeps a role's rules (a new label, say) is not checked, as in Kubernetes.
 * Writing a RoleBinding or ClusterRoleBinding needs every rule of the role it references (in the binding's
 * namespace), or the `bind` verb on that role. Members of `system:masters` (the admin token) may do all.
 */
import { authorize, RBAC_GROUP, type RbacSnapshot, roleRefRules, rulesFor, type BindingObject, type RoleObject, type UserInfo } from "./authorizer.ts";
import { MASTERS } from "./builtin.ts";
import { compactString, covers, goQuoted, type PolicyRule } from "./rules.ts";

const FULL_AUTHORITY: PolicyRule[] = [
  { apiGroups: ["*"], resources: ["*"], verbs: ["*"] },
  { nonResourceURLs: ["*"], verbs: ["*"] },
];

export type RbacWrite =
  /** `previous`: the stored object an update replaces (an update that keeps its rules grants nothing new). */
  | { kind: "Role" | "ClusterRole"; namespace: string; object: RoleObject; previous?: RoleObject | null }
  | { kind: "RoleBinding" | "ClusterRoleBinding"; namespace: string; object: BindingObject };

/** Why the write would escalate (the error Kubernetes wraps in its Forbidden), or null when it may be made. */
export function escalationRefusal(snapshot: RbacSnapshot, user: UserInfo, write: RbacWrite): string | null {
  if (user.groups.includes(MASTERS)) return null;
  const { namespace } = write;
  const held = () => rulesFor(snapshot, user, namespace);
  const notHeld = (missing: PolicyRule[]) =>
    `user ${JSON.stringify(user.name)} (groups=${goQuoted(user.groups)}) is attempting to grant RBAC permissions not currently held:\n${missing.map(compactString).join("\n")}`;
  if (write.kind === "Role" || write.kind === "ClusterRole") {
    const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
    if (write.previous && same(write.previous.rules, write.object.rules) && same(write.previous.aggregationRule, write.object.aggregationRule)) return null;
    const resource = write.kind === "Role" ? "roles" : "clusterroles";
    if (authorize(snapshot, user, { verb: "escalate", apiGroup: RBAC_GROUP, resource, namespace, name: write.object.metadata.name })) return null;
    const rules = covers(held(), write.object.rules ?? []);
    if (!rules.covered) return notHeld(rules.missing);
    if (write.object.aggregationRule && !covers(held(), FULL_AUTHORITY).covered) return "must have cluster-admin privileges to use the aggregationRule";
    return null;
  }
  const ref = (write.object as BindingObject).roleRef;
  const roleResource = ref.kind === "Role" ? "roles" : "clusterroles";
  if (authorize(snapshot, user, { verb: "bind", apiGroup: RBAC_GROUP, resource: roleResource, namespace, name: ref.name })) return null;
  const granted = covers(held(), roleRefRules(snapshot, ref, namespace));
  return granted.covered ? null : notHeld(granted.missing);
}
