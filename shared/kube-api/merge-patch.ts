/**
 * JSON Merge Patch (RFC 7386), what `kubectl apply` (client-side), `kubectl patch --type merge`,
 * `kubectl label` and `kubectl annotate` send for custom resources: objects merge key by key, `null`
 * removes a key, anything else (arrays included) replaces.
 */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return patch;
  // Without a prototype, any key is plain data here, even one the body parser should have refused.
  const out: Record<string, unknown> = Object.assign(Object.create(null), isObject(target) ? target : {});
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else out[key] = mergePatch(out[key], value);
  }
  return out;
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
