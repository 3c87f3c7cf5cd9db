/**
 * Knative's EventTransform expressions: JSONata (the `jsonata` package) over the whole event as structured
 * JSON, whose result must be a CloudEvent. An expression is compiled once (per configuration) and each run
 * is bounded: Workers' clock does not move while code computes, so JSONata's own timeout cannot stop a
 * runaway expression there; a budget of evaluation steps (every node JSONata evaluates counts one), a
 * stack depth and a sequence length can, deterministically.
 */
import jsonata from "jsonata";
import { decodeStructured, encodeStructured } from "../cloudevents/index.ts";
import type { CloudEvent } from "../cloudevents/event.ts";

/** Nodes one run may evaluate: 100,000 is some 100 ms of CPU in workerd; the documented examples take a few hundred. */
export const MAX_STEPS = 100_000;
/** Nested evaluations (recursion) one run may reach. */
export const MAX_DEPTH = 500;
/** Items one sequence may hold (a range such as [1..1e7] is refused at once). */
export const MAX_SEQUENCE = 100_000;
/** Longest expression accepted. */
export const MAX_EXPRESSION_LENGTH = 64 * 1024;

export type JsonataError = { kind: "parse" | "functionEvaluation"; message: string; position?: number };

export interface CompiledJsonata {
  source: string;
  run(input: unknown): Promise<{ value: unknown } | { error: JsonataError }>;
}

/** A JSONata error object: `code`, `message`, and where it applies `position` (a character offset). */
type RawError = { code?: string; message?: string; position?: number; token?: string };

const STEPS = Symbol("steps");
type Frame = { base: Record<symbol, number> };

function countStep(_expr: unknown, _input: unknown, environment: Frame): void {
  const base = environment.base;
  base[STEPS] = (base[STEPS] ?? 0) + 1;
  if (base[STEPS] > MAX_STEPS) throw { code: "U1001", message: `the expression ran too long: more than ${MAX_STEPS} evaluation steps` };
}

function describe(e: RawError, kind: JsonataError["kind"]): JsonataError {
  const where = typeof e.position === "number" ? ` (at position ${e.position})` : "";
  const code = e.code ? `${e.code}: ` : "";
  return { kind, message: `${code}${e.message ?? String(e)}${where}`, ...(typeof e.position === "number" ? { position: e.position } : {}) };
}

export function compileJsonata(expression: string): CompiledJsonata | { error: JsonataError } {
  if (expression.length > MAX_EXPRESSION_LENGTH) return { error: { kind: "parse", message: `is longer than ${MAX_EXPRESSION_LENGTH} characters` } };
  let compiled: ReturnType<typeof jsonata>;
  try {
    compiled = jsonata(expression, { stack: MAX_DEPTH, sequence: MAX_SEQUENCE } as never);
  } catch (e) {
    return { error: describe(e as RawError, "parse") };
  }
  compiled.assign(Symbol.for("jsonata.__evaluate_entry") as never, countStep);
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
  if (typeof value !== "object" || value === null || Array.isArray(value)) return { error: `the expression returned ${JSON.stringify(value)}, not a CloudEvent object` };
  const decoded = decodeStructured(JSON.stringify(value));
  return "error" in decoded ? { error: `the expression's result is not a valid CloudEvent: ${decoded.error}${decoded.field ? ` (${decoded.field})` : ""}` } : decoded;
}

/** Run an expression over an event; the result must be a CloudEvent. */
export async function transformEvent(expression: CompiledJsonata, event: CloudEvent): Promise<CloudEvent | { error: string }> {
  const r = await expression.run(eventAsJson(event));
  if ("error" in r) return { error: `JSONata evaluation failed: ${r.error.message}` };
  return valueAsEvent(r.value);
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
export async function reviewJsonata(expression: string, event: CloudEvent): Promise<{ value: unknown; type: string; error: JsonataError | null; eventError?: string }> {
  const compiled = compileJsonata(expression);
  if ("error" in compiled) return { value: null, type: "Null", error: compiled.error };
  const r = await compiled.run(eventAsJson(event));
  if ("error" in r) return { value: null, type: "Null", error: r.error };
  const asEvent = valueAsEvent(r.value);
  if (!("error" in asEvent)) return { value: eventAsJson(asEvent), type: "CloudEvent", error: null };
  const value = r.value === undefined ? null : JSON.parse(JSON.stringify(r.value));
  return { value, type: typeName(value), error: null, eventError: asEvent.error };
}
