/** Casts between the three CESQL types (spec §3.7): every pair is defined, a failed cast gives the zero value + Cast error. */
import { fail, INT_MAX, INT_MIN, quote, type CesqlType, type EvalState, type Value } from "./types.ts";

const DECIMAL = /^[+-]?[0-9]+$/;

/** Base 10 with an optional sign, within 32 bits; `undefined` when the value cannot be cast. */
export function asInteger(value: Value): number | undefined {
  if (typeof value === "number") return value;
  if (typeof value === "boolean") return value ? 1 : 0;
  if (!DECIMAL.test(value)) return undefined;
  const n = Number(value);
  return n >= INT_MIN && n <= INT_MAX ? n || 0 : undefined;
}

/** `true`/`false` in any case; an Integer is true when not 0. */
export function asBoolean(value: Value): boolean | undefined {
  if (typeof value === "boolean") return value;
  if (typeof value === "number") return value !== 0;
  const lower = value.toLowerCase();
  return lower === "true" ? true : lower === "false" ? false : undefined;
}

/** Never fails: Integer in base 10, Boolean as lower-case `true`/`false`. */
export function toText(value: Value): string {
  return typeof value === "string" ? value : String(value);
}

export function castMessage(value: Value, type: CesqlType): string {
  const expected = type === "Integer" ? "a base-10 32-bit integer" : "'true' or 'false'";
  return `cannot cast ${quote(value)} to ${type}: expected ${expected}`;
}

export function toInteger(value: Value, state: EvalState, position: number): number {
  const n = asInteger(value);
  if (n !== undefined) return n;
  fail(state, "cast", castMessage(value, "Integer"), position);
  return 0;
}

export function toBoolean(value: Value, state: EvalState, position: number): boolean {
  const b = asBoolean(value);
  if (b !== undefined) return b;
  fail(state, "cast", castMessage(value, "Boolean"), position);
  return false;
}

export function castTo(value: Value, type: CesqlType, state: EvalState, position: number): Value {
  switch (type) {
    case "Boolean":
      return toBoolean(value, state, position);
    case "Integer":
      return toInteger(value, state, position);
    case "String":
      return toText(value);
  }
}
