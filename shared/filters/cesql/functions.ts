/**
 * CESQL functions (spec §3.5): the built-ins every engine must have, and user-defined ones.
 * Overloading is by arity only; a variadic overload must have more fixed parameters than any
 * other overload of its name has parameters, and there is at most one per name.
 */
import { asBoolean, asInteger, castMessage, toText } from "./casts.ts";
import { INT_MAX, INT_MIN, type CesqlType, type Value } from "./types.ts";

/** Raised by a function that still returns a value (`LEFT('abc', -2)` is `'abc'` + error). */
export type Raise = (kind: "math" | "functionEvaluation" | "cast", message: string) => void;

export interface CesqlFunction {
  /** Letters and `_`, starting with a letter; case-insensitive. */
  name: string;
  /** Arguments are cast to these types before the call (spec §3.7). "Any" passes them as they are. */
  parameters: readonly (CesqlType | "Any")[];
  /** Type of any further arguments, for a variadic function. */
  variadic?: CesqlType;
  returns: CesqlType;
  /**
   * Must return a value of type `returns`. To fail, either call `raise` and return the value the
   * function defines, or throw: the call then gives the zero value + FunctionEvaluationError.
   */
  run(args: readonly Value[], raise: Raise): Value;
}

export type FunctionTable = ReadonlyMap<string, readonly CesqlFunction[]>;

const NAME = /^[a-zA-Z][a-zA-Z_]*$/;

/** Counts code points, as the spec's "characters". */
function length(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n--;
        i++;
      }
    }
  }
  return n;
}

/** Code points `from` (0-based) to `to` (exclusive); code units when the string has no surrogates. */
function slice(s: string, from: number, to: number): string {
  return length(s) === s.length ? s.slice(from, to) : Array.from(s).slice(from, to).join("");
}

const str = (v: Value) => v as string;
const int = (v: Value) => v as number;

const BUILTINS: CesqlFunction[] = [
  { name: "LENGTH", parameters: ["String"], returns: "Integer", run: ([x]) => length(str(x)) },
  { name: "CONCAT", parameters: [], variadic: "String", returns: "String", run: (args) => args.join("") },
  {
    name: "CONCAT_WS",
    parameters: ["String"],
    variadic: "String",
    returns: "String",
    run: (args) => args.slice(1).join(str(args[0])),
  },
  { name: "LOWER", parameters: ["String"], returns: "String", run: ([x]) => str(x).toLowerCase() },
  { name: "UPPER", parameters: ["String"], returns: "String", run: ([x]) => str(x).toUpperCase() },
  // String.prototype.trim removes Unicode White_Space and line terminators.
  { name: "TRIM", parameters: ["String"], returns: "String", run: ([x]) => str(x).trim() },
  {
    name: "LEFT",
    parameters: ["String", "Integer"],
    returns: "String",
    run: ([x, n], raise) => {
      if (int(n) < 0) raise("functionEvaluation", `LEFT: length ${int(n)} is negative`);
      return int(n) < 0 ? x : slice(str(x), 0, int(n));
    },
  },
  {
    name: "RIGHT",
    parameters: ["String", "Integer"],
    returns: "String",
    run: ([x, n], raise) => {
      if (int(n) < 0) raise("functionEvaluation", `RIGHT: length ${int(n)} is negative`);
      const len = length(str(x));
      return int(n) < 0 || int(n) >= len ? x : slice(str(x), len - int(n), len);
    },
  },
  { name: "SUBSTRING", parameters: ["String", "Integer"], returns: "String", run: ([x, pos], raise) => substring(str(x), int(pos), INT_MAX, raise) },
  {
    name: "SUBSTRING",
    parameters: ["String", "Integer", "Integer"],
    returns: "String",
    run: ([x, pos, len], raise) => substring(str(x), int(pos), int(len), raise),
  },
  {
    name: "ABS",
    parameters: ["Integer"],
    returns: "Integer",
    run: ([x], raise) => {
      if (int(x) !== INT_MIN) return Math.abs(int(x));
      raise("math", `ABS(${INT_MIN}) overflows the 32-bit range`);
      return INT_MAX;
    },
  },
  // The casts take any type and raise a Cast error themselves (spec §3.7).
  { name: "INT", parameters: ["Any"], returns: "Integer", run: ([x], raise) => asInteger(x) ?? castFailed(x, "Integer", raise) },
  { name: "BOOL", parameters: ["Any"], returns: "Boolean", run: ([x], raise) => asBoolean(x) ?? castFailed(x, "Boolean", raise) },
  { name: "STRING", parameters: ["Any"], returns: "String", run: ([x]) => toText(x) },
];

function castFailed(value: Value, type: CesqlType, raise: Raise): Value {
  raise("cast", castMessage(value, type));
  return type === "Integer" ? 0 : false;
}

/** 1-based `pos`, negative counts from the end, 0 gives "" (spec §3.5.1). */
function substring(x: string, pos: number, len: number, raise: Raise): string {
  const size = length(x);
  if (pos > size || pos < -size) {
    raise("functionEvaluation", `SUBSTRING: position ${pos} is outside a string of length ${size}`);
    return "";
  }
  if (len < 0) {
    raise("functionEvaluation", `SUBSTRING: length ${len} is negative`);
    return "";
  }
  if (pos === 0) return "";
  const from = pos > 0 ? pos - 1 : size + pos;
  return slice(x, from, Math.min(size, from + len));
}

function overloadError(fn: CesqlFunction, message: string): Error {
  return new Error(`CESQL function ${fn.name}/${fn.parameters.length}${fn.variadic ? "+" : ""}: ${message}`);
}

/** Builds the table of built-ins plus `extra`, rejecting names and overloads the spec forbids. */
export function functionTable(extra: readonly CesqlFunction[] = []): FunctionTable {
  const table = new Map<string, CesqlFunction[]>();
  for (const fn of [...BUILTINS, ...extra]) {
    if (!NAME.test(fn.name)) throw overloadError(fn, "name must be letters and '_', starting with a letter");
    const key = fn.name.toUpperCase();
    const overloads = table.get(key) ?? [];
    const arity = fn.parameters.length;
    if (overloads.some((o) => o.parameters.length === arity && !o.variadic === !fn.variadic)) {
      throw overloadError(fn, "an overload with this arity already exists");
    }
    overloads.push(fn);
    table.set(key, overloads);
    const variadic = overloads.filter((o) => o.variadic);
    if (variadic.length > 1) throw overloadError(fn, "only one variadic overload per name is allowed");
    const fixedMax = Math.max(-1, ...overloads.filter((o) => !o.variadic).map((o) => o.parameters.length));
    if (variadic.length === 1 && variadic[0].parameters.length <= fixedMax && overloads.length > 1) {
      throw overloadError(fn, "a variadic overload needs more fixed parameters than any other overload of its name");
    }
  }
  return table;
}

/** The overload for `arity` arguments: an exact fixed arity first, else the variadic one. */
export function resolve(table: FunctionTable, name: string, arity: number): CesqlFunction | undefined {
  const overloads = table.get(name) ?? [];
  return overloads.find((o) => !o.variadic && o.parameters.length === arity) ?? overloads.find((o) => o.variadic !== undefined && arity >= o.parameters.length);
}

export function parameterType(fn: CesqlFunction, index: number): CesqlType | "Any" {
  return index < fn.parameters.length ? fn.parameters[index] : (fn.variadic as CesqlType);
}
