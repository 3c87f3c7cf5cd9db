/** Values, types and errors of CESQL v1 (cesql/spec.md §3.1, §3.3). */
import type { AttributeValue } from "../../cloudevents/event.ts";

export type Value = boolean | number | string;
export type CesqlType = "Boolean" | "Integer" | "String";
export type CesqlErrorKind = "parse" | "math" | "cast" | "missingAttribute" | "missingFunction" | "functionEvaluation" | "generic";

export interface CesqlError {
  kind: CesqlErrorKind;
  message: string;
  /** 0-based offset (UTF-16 code units) in the expression of the token or subexpression at fault. */
  position?: number;
}

/**
 * One evaluation's state. Evaluation is fail-fast (spec §4.1, as sdk-go and the TCK expect):
 * the first error is kept and every enclosing operator returns its own zero value.
 */
export interface EvalState {
  error: CesqlError | null;
}

export type Attributes = Readonly<Record<string, AttributeValue>>;
/** A compiled subexpression: reads the event's attributes, returns a value, records an error in `state`. */
export type Evaluator = (attributes: Attributes, state: EvalState) => Value;

export const INT_MIN = -2147483648;
export const INT_MAX = 2147483647;

export function typeOf(value: Value): CesqlType {
  return typeof value === "boolean" ? "Boolean" : typeof value === "number" ? "Integer" : "String";
}

export function zeroOf(type: CesqlType): Value {
  return type === "Boolean" ? false : type === "Integer" ? 0 : "";
}

/** Records the first error only: after an error every operator stops, so later ones cannot happen. */
export function fail(state: EvalState, kind: CesqlErrorKind, message: string, position: number): void {
  if (state.error === null) state.error = { kind, message, position };
}

/** Quotes a value for an error message, cut to a readable length. */
export function quote(value: Value): string {
  const text = typeof value === "string" ? JSON.stringify(value.length > 64 ? `${value.slice(0, 64)}...` : value) : String(value);
  return `${typeOf(value)} ${text}`;
}
