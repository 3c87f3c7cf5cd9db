/**
 * The checks Kubernetes makes of the RBAC kinds (pkg/apis/rbac/validation), with its field paths and
 * wording; shapes and unknown fields are the schema's (shared/resources/schemas.ts).
 */
import type { FieldError } from "../delivery/policy.ts";
import type { Manifest } from "../resources/manifest.ts";
import type { BindingObject, RoleObject } from "./authorizer.ts";
import type { PolicyRule } from "./rules.ts";

const GROUP = "rbac.authorization.k8s.io";
const OPERATORS = ["In", "NotIn", "Exists", "DoesNotExist"];

function validateRule(rule: PolicyRule, at: string, namespaced: boolean): FieldError[] {
  const causes: FieldError[] = [];
  if ((rule.verbs ?? []).length === 0) causes.push({ field: `${at}.verbs`, message: "verbs must contain at least one value" });
  if ((rule.nonResourceURLs ?? []).length > 0) {
    if (namespaced) causes.push({ field: `${at}.nonResourceURLs`, message: "namespaced rules cannot apply to non-resource URLs" });
    if ((rule.apiGroups ?? []).length > 0 || (rule.resources ?? []).length > 0)
      causes.push({ field: `${at}.nonResourceURLs`, message: "rules cannot apply to both regular resources and non-resource URLs" });
    return causes;
  }
  if ((rule.apiGroups ?? []).length === 0) causes.push({ field: `${at}.apiGroups`, message: "resource rules must supply at least one api group" });
  if ((rule.resources ?? []).length === 0) causes.push({ field: `${at}.resources`, message: "resource rules must supply at least one resource" });
  return causes;
}

export function validateRole(m: Manifest, namespaced: boolean): FieldError[] {
  const role = m as unknown as RoleObject;
  const causes = (role.rules ?? []).flatMap((r, i) => validateRule(r, `rules[${i}]`, namespaced));
  if (role.aggregationRule !== undefined) {
    const selectors = role.aggregationRule.clusterRoleSelectors ?? [];
    if (selectors.length === 0)
      causes.push({ field: "aggregationRule.clusterRoleSelectors", message: "at least one clusterRoleSelector required if aggregationRule is non-nil" });
    for (const [i, s] of selectors.entries()) {
      for (const [j, e] of (s.matchExpressions ?? []).entries()) {
        if (!OPERATORS.includes(e.operator))
          causes.push({
            field: `aggregationRule.clusterRoleSelectors[${i}].matchExpressions[${j}].operator`,
            message: `must be one of ${OPERATORS.join(", ")}`,
          });
      }
    }
  }
  return causes;
}

export function validateBinding(m: Manifest, namespaced: boolean): FieldError[] {
  const b = m as unknown as BindingObject;
  const causes: FieldError[] = [];
  const ref = b.roleRef;
  if (ref === undefined) return [{ field: "roleRef", message: "Required value" }];
  if (ref.apiGroup !== GROUP)
    causes.push({ field: "roleRef.apiGroup", message: `Unsupported value: ${JSON.stringify(ref.apiGroup ?? "")}: supported values: "${GROUP}"` });
  const kinds = namespaced ? ["Role", "ClusterRole"] : ["ClusterRole"];
  if (!kinds.includes(ref.kind))
    causes.push({
      field: "roleRef.kind",
      message: `Unsupported value: ${JSON.stringify(ref.kind ?? "")}: supported values: ${kinds.map((k) => `"${k}"`).join(", ")}`,
    });
  if (!ref.name) causes.push({ field: "roleRef.name", message: "Required value" });
  (b.subjects ?? []).forEach((s, i) => {
    const at = `subjects[${i}]`;
    if (!s.name) causes.push({ field: `${at}.name`, message: "Required value" });
    if (s.kind === "ServiceAccount") {
      if (s.apiGroup) causes.push({ field: `${at}.apiGroup`, message: `Unsupported value: ${JSON.stringify(s.apiGroup)}: supported values: ""` });
      if (!namespaced && !s.namespace) causes.push({ field: `${at}.namespace`, message: "Required value" });
    } else if (s.kind === "User" || s.kind === "Group") {
      if (s.apiGroup !== GROUP)
        causes.push({ field: `${at}.apiGroup`, message: `Unsupported value: ${JSON.stringify(s.apiGroup ?? "")}: supported values: "${GROUP}"` });
    } else {
      causes.push({ field: `${at}.kind`, message: `Unsupported value: ${JSON.stringify(s.kind ?? "")}: supported values: "ServiceAccount", "User", "Group"` });
    }
  });
  return causes;
}
