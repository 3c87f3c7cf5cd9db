/**
 * Kubernetes RBAC's rule arithmetic (rbac.authorization.k8s.io/v1), as k8s.io/kubernetes computes it:
 * whether a rule allows a request (plugin/pkg/auth/authorizer/rbac: RuleAllows and the rbacv1helpers
 * matchers), and whether one set of rules covers another (pkg/registry/rbac/validation: Covers, the check
 * behind "no one may grant what they do not hold").
 */

export interface PolicyRule {
  verbs: string[];
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
}

/** What a request asks, as the API server's authorizer.Attributes. */
export type Attributes =
  | { verb: string; apiGroup: string; resource: string; subresource?: string; namespace?: string; name?: string }
  | { verb: string; path: string };

export const isResourceRequest = (a: Attributes): a is Extract<Attributes, { resource: string }> => "resource" in a;

const ALL = "*";

export function verbMatches(rule: PolicyRule, verb: string): boolean {
  return rule.verbs.some((v) => v === ALL || v === verb);
}

export function apiGroupMatches(rule: PolicyRule, group: string): boolean {
  return (rule.apiGroups ?? []).some((g) => g === ALL || g === group);
}

/** `*`, the exact `resource/subresource`, or `*\/subresource` for any resource's subresource. */
export function resourceMatches(rule: PolicyRule, combined: string, subresource: string | undefined): boolean {
  return (rule.resources ?? []).some((r) => r === ALL || r === combined || (!!subresource && r === `*/${subresource}`));
}

export function resourceNameMatches(rule: PolicyRule, name: string | undefined): boolean {
  const names = rule.resourceNames ?? [];
  return names.length === 0 || names.includes(name ?? "");
}

/** `*`, the exact path, or a prefix ending in `*`. */
export function nonResourceURLMatches(rule: PolicyRule, path: string): boolean {
  return (rule.nonResourceURLs ?? []).some((u) => u === ALL || u === path || (u.endsWith("*") && path.startsWith(u.slice(0, -1))));
}

export function ruleAllows(a: Attributes, rule: PolicyRule): boolean {
  if (!isResourceRequest(a)) return verbMatches(rule, a.verb) && nonResourceURLMatches(rule, a.path);
  const combined = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
  return verbMatches(rule, a.verb) && apiGroupMatches(rule, a.apiGroup) && resourceMatches(rule, combined, a.subresource) && resourceNameMatches(rule, a.name);
}

/**
 * A rule split into rules of one verb, group, resource (and name, when it names some) each, as
 * Kubernetes' BreakdownRule: coverage is decided per atom.
 */
export function breakdown(rule: PolicyRule): PolicyRule[] {
  const out: PolicyRule[] = [];
  for (const group of rule.apiGroups ?? []) {
    for (const resource of rule.resources ?? []) {
      for (const verb of rule.verbs) {
        if ((rule.resourceNames ?? []).length === 0) out.push({ apiGroups: [group], resources: [resource], verbs: [verb] });
        for (const name of rule.resourceNames ?? []) out.push({ apiGroups: [group], resources: [resource], resourceNames: [name], verbs: [verb] });
      }
    }
  }
  for (const url of rule.nonResourceURLs ?? []) for (const verb of rule.verbs) out.push({ nonResourceURLs: [url], verbs: [verb] });
  return out;
}

const hasAll = (set: string[] | undefined, want: string[] | undefined) => (want ?? []).every((w) => (set ?? []).includes(w));

function resourceCoversAll(owner: string[] | undefined, wanted: string[] | undefined): boolean {
  const have = owner ?? [];
  if (have.includes(ALL)) return true;
  return (wanted ?? []).every((w) => {
    if (have.includes(w)) return true;
    const slash = w.indexOf("/");
    return slash >= 0 && have.includes(`*/${w.slice(slash + 1)}`);
  });
}

function nonResourceURLsCoverAll(owner: string[] | undefined, wanted: string[] | undefined): boolean {
  return (wanted ?? []).every((w) => (owner ?? []).some((o) => o === w || (o.endsWith("*") && w.startsWith(o.slice(0, -1)))));
}

function ruleCovers(owner: PolicyRule, sub: PolicyRule): boolean {
  const verbs = owner.verbs.includes(ALL) || hasAll(owner.verbs, sub.verbs);
  const groups = (owner.apiGroups ?? []).includes(ALL) || hasAll(owner.apiGroups, sub.apiGroups);
  const names = (owner.resourceNames ?? []).length === 0 || ((sub.resourceNames ?? []).length > 0 && hasAll(owner.resourceNames, sub.resourceNames));
  return verbs && groups && resourceCoversAll(owner.resources, sub.resources) && names && nonResourceURLsCoverAll(owner.nonResourceURLs, sub.nonResourceURLs);
}

/** Whether `owner` covers every rule of `servant`, and the atoms it does not cover. */
export function covers(owner: PolicyRule[], servant: PolicyRule[]): { covered: boolean; missing: PolicyRule[] } {
  const missing = servant.flatMap(breakdown).filter((atom) => !owner.some((o) => ruleCovers(o, atom)));
  return { covered: missing.length === 0, missing };
}

/** Go's `%q` of a string slice, as Kubernetes' messages print lists: `["a" "b"]`. */
export const goQuoted = (list: string[]) => `[${list.map((s) => JSON.stringify(s)).join(" ")}]`;

/** Kubernetes' CompactString of a rule: `{APIGroups:["x"], Resources:["y"], Verbs:["get"]}`. */
export function compactString(r: PolicyRule): string {
  const parts: string[] = [];
  if ((r.apiGroups ?? []).length > 0) parts.push(`APIGroups:${goQuoted(r.apiGroups!)}`);
  if ((r.resources ?? []).length > 0) parts.push(`Resources:${goQuoted(r.resources!)}`);
  if ((r.resourceNames ?? []).length > 0) parts.push(`ResourceNames:${goQuoted(r.resourceNames!)}`);
  if ((r.nonResourceURLs ?? []).length > 0) parts.push(`NonResourceURLs:${goQuoted(r.nonResourceURLs!)}`);
  if (r.verbs.length > 0) parts.push(`Verbs:${goQuoted(r.verbs)}`);
  return `{${parts.join(", ")}}`;
}
