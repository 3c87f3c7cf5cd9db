/**
 * ExpressionReview (API.md §3): evaluate a CESQL or CEL expression against one event and say
 * what it gave, as JSON. CESQL reports its value even with an error (spec §3.3); an expression
 * that does not compile has no type, so it reports CESQL's zero value for an unknown type,
 * `false` (spec §3.2), and CEL `null`.
 */
import { encodeBase64 } from "../base64.ts";
import type { CloudEvent } from "../cloudevents/event.ts";
import { compileCel } from "./cel.ts";
import { compileCesql, type CesqlError } from "./cesql/index.ts";

export interface ExpressionReviewStatus {
  value: unknown;
  type: string;
  error: null | { kind: string; message: string };
}

/** Deepest list/map nesting a CEL value may have to be shown. */
export const MAX_REVIEW_VALUE_DEPTH = 64;

export function reviewExpression(language: "cesql" | "cel", expression: string, event: CloudEvent): ExpressionReviewStatus {
  return language === "cesql" ? reviewCesql(expression, event) : reviewCel(expression, event);
}

function cesqlError(e: CesqlError): { kind: string; message: string } {
  return { kind: e.kind, message: e.position === undefined ? e.message : `${e.message} (at position ${e.position})` };
}

function reviewCesql(expression: string, event: CloudEvent): ExpressionReviewStatus {
  const compiled = compileCesql(expression);
  if ("error" in compiled) return { value: false, type: "Boolean", error: cesqlError(compiled.error) };
  const r = compiled.program.evaluate(event);
  return { value: r.value, type: r.type, error: r.errors.length === 0 ? null : cesqlError(r.errors[0]) };
}

function reviewCel(expression: string, event: CloudEvent): ExpressionReviewStatus {
  const compiled = compileCel(expression, { result: "any" });
  if ("error" in compiled) return { value: null, type: "Null", error: compiled.error };
  const r = compiled.program.evaluate(event);
  if (r.error !== null) return r;
  try {
    return { value: toJson(r.value, 0), type: r.type, error: null };
  } catch (e) {
    return { value: null, type: r.type, error: { kind: "evaluation", message: (e as Error).message } };
  }
}

/**
 * CEL values as JSON: int and uint as numbers while exact (else decimal strings), non-finite
 * doubles, timestamps (RFC 3339), durations ("1.5s") and types as strings, bytes as base64.
 */
function toJson(value: unknown, depth: number): unknown {
  if (depth > MAX_REVIEW_VALUE_DEPTH) throw new Error(`value is nested deeper than ${MAX_REVIEW_VALUE_DEPTH} levels`);
  switch (typeof value) {
    case "bigint":
      return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value.toString();
    case "number":
      return Number.isFinite(value) ? value : String(value);
    case "string":
    case "boolean":
      return value;
    case "undefined":
      return null;
  }
  if (value === null) return null;
  if (value instanceof Date) return value.toISOString();
  if (value instanceof Uint8Array) return encodeBase64(value);
  if (Array.isArray(value)) return value.map((v) => toJson(v, depth + 1));
  if (value instanceof Map) return Object.fromEntries([...value].map(([k, v]) => [String(k), toJson(v, depth + 1)]));
  if (Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(Object.entries(value as object).map(([k, v]) => [k, toJson(v, depth + 1)]));
  }
  const primitive = (value as { valueOf(): unknown }).valueOf();
  return typeof primitive === "bigint" ? toJson(primitive, depth) : String(value);
}
