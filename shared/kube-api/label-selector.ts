/**
 * Kubernetes label selectors (`?labelSelector=`, `kubectl get -l`): `k=v`, `k==v`, `k!=v`, `k`, `!k`,
 * `k in (a,b)`, `k notin (a,b)`, joined by commas, all of which must hold.
 */
export type Requirement = (labels: Record<string, string>) => boolean;

/** The selector as one predicate, or an error message naming the part that does not parse. */
export function parseLabelSelector(text: string): Requirement | { error: string } {
  const parts = splitTopLevel(text.trim());
  const reqs: Requirement[] = [];
  for (const raw of parts) {
    const part = raw.trim();
    if (part === "") continue;
    const set = /^([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(part);
    if (set) {
      const [, key, op, list] = set;
      const values = new Set(
        list
          .split(",")
          .map((v) => v.trim())
          .filter((v) => v !== ""),
      );
      reqs.push(op === "in" ? (l) => key in l && values.has(l[key]) : (l) => !(key in l) || !values.has(l[key]));
      continue;
    }
    const equality = /^([\w./-]+)\s*(==|=|!=)\s*([\w.-]*)$/.exec(part);
    if (equality) {
      const [, key, op, value] = equality;
      reqs.push(op === "!=" ? (l) => l[key] !== value : (l) => l[key] === value);
      continue;
    }
    const exists = /^(!?)([\w./-]+)$/.exec(part);
    if (!exists) return { error: `unable to parse requirement: "${part}"` };
    const [, not, key] = exists;
    reqs.push(not ? (l) => !(key in l) : (l) => key in l);
  }
  return (labels) => reqs.every((r) => r(labels));
}

/** Commas inside `( )` belong to a set. */
function splitTopLevel(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    if (text[i] === "(") depth++;
    else if (text[i] === ")") depth--;
    else if (text[i] === "," && depth === 0) {
      out.push(text.slice(start, i));
      start = i + 1;
    }
  }
  out.push(text.slice(start));
  return out;
}
