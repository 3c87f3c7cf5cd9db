/**
 * Knative's EventTransform expressions: JSONata (the `jsonata` package) over the whole event as structured
 * JSON, whose result must be a CloudEvent. An expression is compiled once (per configuration) and each run
 * is bounded by the work it does (./jsonata-bounds.ts), its regular expressions on RE2.
 */
import jsonata from "jsonata";
import { decodeStructured, encodeStructured } from "../cloudevents/index.ts";
import { bound, JSONATA_OPTIONS, unsupportedRegex } from "./jsonata-bounds.ts";
import type { CloudEvent } from "../cloudevents/event.ts";

/** Longest expression accepted. */
export const MAX_EXPRESSION_LENGTH = 64 * 1024;

export type JsonataError = { kind: "parse" | "functionEvaluation"; message: string; position?: number };

export interface CompiledJsonata {
  source: string;
  run(input: unknown): Promise<{ value: unknown } | { error: JsonataError }>;
}

/** A JSONata error object: `code`, `message`, and where it applies `position` (a character offset). */
type RawError = { code?: string; message?: string; position?: number; token?: string };

function describe(e: RawError, kind: JsonataError["kind"]): JsonataError {
  const where = typeof e.position === "number" ? ` (at position ${e.position})` : "";
  const code = e.code ? `${e.code}: ` : "";
  return { kind, message: `${code}${e.message ?? String(e)}${where}`, ...(typeof e.position === "number" ? { position: e.position } : {}) };
}

export function compileJsonata(expression: string): CompiledJsonata | { error: JsonataError } {
  if (expression.length > MAX_EXPRESSION_LENGTH) return { error: { kind: "parse", message: `is longer than ${MAX_EXPRESSION_LENGTH} characters` } };
  let compiled: ReturnType<typeof jsonata>;
  try {
    compiled = jsonata(expression, JSONATA_OPTIONS);
  } catch (e) {
    return { error: describe(e as RawError, "parse") };
  }
  const regex = unsupportedRegex(compiled.ast());
  if (regex) return { error: { kind: "parse", ...regex } };
  bound(compiled);
  return {
    source: expression,
    async run(input) {
      try {
        return { value: await compiled.evaluate(input) };
      } catch (e) {
        return { error: describe(e as RawError, "functionEvaluation") };
      }
    },
  };
}

/** The event as Knative hands it to the expression: attributes and extensions as members, `data` parsed when JSON. */
export function eventAsJson(event: CloudEvent): Record<string, unknown> {
  return JSON.parse(encodeStructured(event));
}

/** An expression's value as a CloudEvent, or why it is not one. */
export function valueAsEvent(value: unknown): CloudEvent | { error: string } {
  if (value === undefined) return { error: "the expression returned nothing (undefined), not a CloudEvent" };
  if (typeof value !== "object" || value === null || Array.isArray(value))
    return { error: `the expression returned ${JSON.stringify(value)}, not a CloudEvent object` };
  const decoded = decodeStructured(JSON.stringify(value));
  return "error" in decoded
    ? { error: `the expression's result is not a valid CloudEvent: ${decoded.error}${decoded.field ? ` (${decoded.field})` : ""}` }
    : decoded;
}

/**
 * Run an expression over an event; the result must be a CloudEvent. Whatever goes wrong is this event's
 * failure (a dead letter), never an exception that would make the delivery look unanswered and retried.
 */
export async function transformEvent(expression: CompiledJsonata, event: CloudEvent): Promise<CloudEvent | { error: string }> {
  try {
    const r = await expression.run(eventAsJson(event));
    if ("error" in r) return { error: `JSONata evaluation failed: ${r.error.message}` };
    return valueAsEvent(r.value);
  } catch (e) {
    return { error: `JSONata evaluation failed: ${(e as Error).message}` };
  }
}

/** JSON's name for a value's type, as ExpressionReview reports it. */
function typeName(value: unknown): string {
  if (value === null || value === undefined) return "Null";
  if (Array.isArray(value)) return "Array";
  return { string: "String", number: "Number", boolean: "Boolean" }[typeof value as string] ?? "Object";
}

/**
 * ExpressionReview with `language: jsonata`: the transformed event when the value is a CloudEvent (type
 * `CloudEvent`), else the expression's value and why a delivery would fail with it (`eventError`).
 */
export async function reviewJsonata(
  expression: string,
  event: CloudEvent,
): Promise<{ value: unknown; type: string; error: JsonataError | null; eventError?: string }> {
  const compiled = compileJsonata(expression);
  if ("error" in compiled) return { value: null, type: "Null", error: compiled.error };
  const r = await compiled.run(eventAsJson(event));
  if ("error" in r) return { value: null, type: "Null", error: r.error };
  const asEvent = valueAsEvent(r.value);
  if (!("error" in asEvent)) return { value: eventAsJson(asEvent), type: "CloudEvent", error: null };
  const value = r.value === undefined ? null : JSON.parse(JSON.stringify(r.value));
  return { value, type: typeName(value), error: null, eventError: asEvent.error };
}
