/**
 * JSON Merge Patch (RFC 7386), what `kubectl apply` (client-side), `kubectl patch --type merge`,
 * `kubectl label` and `kubectl annotate` send for custom resources: objects merge key by key, `null`
 * removes a key, anything else (arrays included) replaces.
 */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return patch;
  const out: Record<string, unknown> = {};
  if (isObject(target)) for (const [key, value] of Object.entries(target)) defineOwn(out, key, value);
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else defineOwn(out, key, mergePatch(Object.hasOwn(out, key) ? out[key] : undefined, value));
  }
  return out;
}

/**
 * Set a member as an own data property, so that no key (`__proto__` included, even one the body parser
 * should have refused) reaches a prototype. Objects stay plain: Durable Object RPC cannot carry an
 * object without a prototype.
 */
export function defineOwn(o: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(o, key, { value, writable: true, enumerable: true, configurable: true });
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
