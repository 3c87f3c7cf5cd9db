/**
 * Schemas of the manifests the router serves, and the one walk that checks a manifest against its
 * schema as Kubernetes' strict field validation does: fields the schema does not name are unknown
 * (reported with the closest known sibling, and pruned), values of the wrong JSON type are invalid.
 * The schemas say which fields exist and their types; ranges, formats, required fields and every rule
 * between fields stay in each kind's validator.
 */
import type { FieldError } from "../delivery/policy.ts";

interface Described {
  description?: string;
}
export interface ScalarSchema extends Described {
  type: "string" | "integer" | "number" | "boolean";
}
export interface ArraySchema extends Described {
  type: "array";
  items: Schema;
}
export interface ObjectSchema extends Described {
  type: "object";
  /** The known fields; any other is unknown unless `additionalProperties` or `preserveUnknownFields` says otherwise. */
  properties?: Record<string, Schema>;
  /** A map: every key is allowed, each value has this schema. */
  additionalProperties?: Schema;
  /** Kubernetes' `x-kubernetes-preserve-unknown-fields`: free-form, kept as given. */
  preserveUnknownFields?: true;
}
/** One of several shapes (v1alpha1's `topics: a,b` or `[a, b]`). */
export interface AnyOfSchema extends Described {
  anyOf: Schema[];
}
export type Schema = ScalarSchema | ArraySchema | ObjectSchema | AnyOfSchema;

export interface SchemaFindings {
  /** Fields the schema does not know, each with the closest known sibling when one is near. */
  unknown: { field: string; hint?: string }[];
  /** Values of the wrong JSON type. */
  invalid: FieldError[];
  /** The value without its unknown fields (what Kubernetes stores after pruning). */
  pruned: unknown;
}

export function checkSchema(value: unknown, schema: Schema): SchemaFindings {
  const findings: SchemaFindings = { unknown: [], invalid: [], pruned: undefined };
  findings.pruned = walk(value, schema, "", findings);
  return findings;
}

function walk(value: unknown, schema: Schema, path: string, out: SchemaFindings): unknown {
  if (value === undefined) return value;
  const shape = "anyOf" in schema ? schema.anyOf.find((s) => !("anyOf" in s) && matches(value, s)) : matches(value, schema) ? schema : undefined;
  if (shape === undefined || "anyOf" in shape) {
    out.invalid.push({ field: path, message: `must be of type ${typeName(schema)}` });
    return value;
  }
  if (shape.type === "array") return (value as unknown[]).map((item, i) => walk(item, shape.items, `${path}[${i}]`, out));
  if (shape.type !== "object" || shape.preserveUnknownFields) return value;
  const known = shape.properties ?? {};
  const kept: [string, unknown][] = [];
  for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
    const field = path === "" ? key : `${path}.${key}`;
    const own = Object.hasOwn(known, key) ? known[key] : shape.additionalProperties;
    // A null field is an omitted one, as Kubernetes decodes it: dropped, so no check ever sees a null.
    if (own && v === null) continue;
    if (own) kept.push([key, walk(v, own, field, out)]);
    else {
      const hint = closest(key, Object.keys(known));
      out.unknown.push(hint === undefined ? { field } : { field, hint });
    }
  }
  // fromEntries defines own properties, so a key such as "__proto__" stays data.
  return Object.fromEntries(kept);
}

function matches(value: unknown, schema: ScalarSchema | ArraySchema | ObjectSchema): boolean {
  if (schema.type === "integer") return Number.isInteger(value);
  if (schema.type === "number") return typeof value === "number" && Number.isFinite(value);
  return typeOf(value) === schema.type;
}

function typeOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  return typeof value === "object" ? "object" : typeof value;
}

function typeName(schema: Schema): string {
  return "anyOf" in schema ? schema.anyOf.map(typeName).join(" or ") : schema.type;
}

/** The known name nearest to `key` by edit distance, when it is near enough to be a likely typo. */
export function closest(key: string, candidates: string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const d = editDistance(key.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  // Up to half the longer name may differ: `retries` -> `retry` (3 of 7), never `foo` -> `uri`.
  return best !== undefined && bestDistance <= Math.floor(Math.max(key.length, best.length) / 2) ? best : undefined;
}

/** Levenshtein distance (insertions, deletions, substitutions), one row at a time. */
function editDistance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) next[j] = Math.min(row[j] + 1, next[j - 1] + 1, row[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    row = next;
  }
  return row[b.length];
}
