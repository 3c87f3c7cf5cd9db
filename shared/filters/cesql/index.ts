/**
 * CloudEvents SQL Expression Language v1.0 (cloudevents/spec cesql/spec.md, cesql@v1.0.0):
 * compiled once into closures, evaluated per event without parsing. Passes the official TCK
 * (test/unit/cesql). Identifiers read `event.attributes[name]`; attribute values keep their
 * JSON type (number: Integer, boolean: Boolean, string: String).
 */
import type { CloudEvent } from "../../cloudevents/event.ts";
import { compileNode } from "./compile.ts";
import { functionTable, type CesqlFunction } from "./functions.ts";
import { CesqlSyntaxError } from "./lexer.ts";
import { parse } from "./parser.ts";
import { typeOf, type CesqlError, type CesqlType, type EvalState, type Evaluator, type Value } from "./types.ts";

export type { CesqlError, CesqlErrorKind, CesqlType } from "./types.ts";
export type { CesqlFunction, Raise } from "./functions.ts";
export { MAX_EXPRESSION_LENGTH, MAX_NESTING } from "./parser.ts";

export interface CesqlResult {
  value: Value;
  type: CesqlType;
  /** Empty, or the one error that stopped evaluation (fail-fast, spec §4.1). */
  errors: CesqlError[];
}

export interface CesqlProgram {
  evaluate(event: CloudEvent): CesqlResult;
}

export interface CesqlOptions {
  /** User-defined functions (spec §3.5), added to the built-ins. */
  functions?: readonly CesqlFunction[];
}

/** Shared by every error-free result; frozen so no caller can change it. */
const NO_ERRORS = Object.freeze([]) as unknown as CesqlError[];
const BUILTINS = functionTable();

/**
 * Parse and compile. Fails with a `parse` error (bad syntax, a LIKE pattern that is not a string
 * literal, an integer literal outside 32 bits, limits) or a `missingFunction` error (no function
 * of that name and arity), each with the offset where it was found. Throws only for invalid
 * `options.functions`, which is a programming error.
 */
export function compileCesql(expression: string, options: CesqlOptions = {}): { program: CesqlProgram } | { error: CesqlError } {
  const functions = options.functions ? functionTable(options.functions) : BUILTINS;
  let root: Evaluator;
  try {
    root = compileNode(parse(expression), functions);
  } catch (e) {
    if (e instanceof CesqlSyntaxError) return { error: { kind: e.kind, message: e.message, position: e.position } };
    throw e;
  }
  return {
    program: {
      evaluate(event) {
        const state: EvalState = { error: null };
        const value = root(event.attributes, state);
        return { value, type: typeOf(value), errors: state.error === null ? NO_ERRORS : [state.error] };
      },
    },
  };
}
