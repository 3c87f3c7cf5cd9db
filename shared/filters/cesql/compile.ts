/**
 * Syntax tree to closures. Each operator casts its operands to its parameter types (spec §3.7)
 * and, fail-fast, returns its own zero value as soon as an operand or cast has raised an error.
 */
import { castTo, toBoolean, toInteger, toText } from "./casts.ts";
import { parameterType, resolve, type FunctionTable, type Raise } from "./functions.ts";
import { compileLike } from "./like.ts";
import { CesqlSyntaxError } from "./lexer.ts";
import type { BinaryOp, LogicOp, Node } from "./parser.ts";
import { fail, INT_MAX, INT_MIN, typeOf, zeroOf, type EvalState, type Evaluator, type Value } from "./types.ts";

/** Always present in a valid event, so EXISTS is true without looking (spec §3.4.4). */
const REQUIRED = new Set(["specversion", "id", "source", "type"]);

export function compileNode(node: Node, functions: FunctionTable): Evaluator {
  switch (node.type) {
    case "literal": {
      const value = node.value;
      return () => value;
    }
    case "attribute":
      return attribute(node.name, node.position);
    case "exists": {
      const name = node.name;
      if (REQUIRED.has(name)) return () => true;
      return (attrs) => isValue(attrs[name]);
    }
    case "not": {
      const operand = compileNode(node.operand, functions);
      const at = node.position;
      return (attrs, state) => {
        const v = operand(attrs, state);
        if (state.error) return false;
        const b = toBoolean(v, state, at);
        return state.error ? false : !b;
      };
    }
    case "negate": {
      const operand = compileNode(node.operand, functions);
      const at = node.position;
      return (attrs, state) => {
        const v = operand(attrs, state);
        if (state.error) return 0;
        const n = toInteger(v, state, at);
        if (state.error) return 0;
        return checked(-n, -n, state, at);
      };
    }
    case "binary":
      return binary(node.op, compileNode(node.left, functions), compileNode(node.right, functions), node.position);
    case "logic":
      return logic(
        node.op,
        node.operands.map((n) => compileNode(n, functions)),
        node.position,
      );
    case "like": {
      const operand = compileNode(node.operand, functions);
      const matches = compileLike(node.pattern);
      const negated = node.negated;
      return (attrs, state) => {
        const v = operand(attrs, state);
        if (state.error) return false;
        return matches(toText(v)) !== negated;
      };
    }
    case "in":
      return inSet(
        compileNode(node.operand, functions),
        node.set.map((n) => compileNode(n, functions)),
        node.negated,
        node.position,
      );
    case "call":
      return call(node, functions);
  }
}

function isValue(v: unknown): boolean {
  return typeof v === "string" || typeof v === "number" || typeof v === "boolean";
}

/** Attribute names are lower-case; a missing one is `false` (type unknown: Boolean) + MissingAttributeError. */
function attribute(name: string, at: number): Evaluator {
  const message = `missing attribute '${name}'`;
  return (attrs, state) => {
    const v = attrs[name];
    // typeof also rules out inherited members such as `constructor`.
    if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") return v;
    fail(state, "missingAttribute", message, at);
    return false;
  };
}

/**
 * `exact` is the mathematical result (exact in a double, or far out of range); out of the 32-bit
 * range it raises a Math error and gives the two's-complement `wrapped` value, as Go's int32 does.
 * `| 0` also turns -0 into 0.
 */
function checked(exact: number, wrapped: number, state: EvalState, at: number): number {
  if (exact < INT_MIN || exact > INT_MAX) fail(state, "math", `integer overflow: ${exact} is outside the 32-bit range`, at);
  return wrapped | 0;
}

const ARITHMETIC: Record<"+" | "-" | "*" | "/" | "%", (x: number, y: number) => number> = {
  "+": (x, y) => x + y,
  "-": (x, y) => x - y,
  "*": (x, y) => x * y,
  "/": (x, y) => Math.trunc(x / y),
  "%": (x, y) => x % y,
};

const COMPARE: Record<"<" | "<=" | ">" | ">=", (x: number, y: number) => boolean> = {
  "<": (x, y) => x < y,
  "<=": (x, y) => x <= y,
  ">": (x, y) => x > y,
  ">=": (x, y) => x >= y,
};

function binary(op: BinaryOp, left: Evaluator, right: Evaluator, at: number): Evaluator {
  if (op === "=" || op === "!=") {
    const equal = op === "=";
    // Ambiguous operator: the right operand's type picks the overload, the left is cast to it.
    return (attrs, state) => {
      const l = left(attrs, state);
      if (state.error) return false;
      const r = right(attrs, state);
      if (state.error) return false;
      const lc = castTo(l, typeOf(r), state, at);
      return state.error ? false : (lc === r) === equal;
    };
  }
  if (op === "<" || op === "<=" || op === ">" || op === ">=") {
    const compare = COMPARE[op];
    return (attrs, state) => {
      const l = left(attrs, state);
      if (state.error) return false;
      const r = right(attrs, state);
      if (state.error) return false;
      const x = toInteger(l, state, at);
      const y = toInteger(r, state, at);
      return state.error ? false : compare(x, y);
    };
  }
  const arithmetic = ARITHMETIC[op];
  const divides = op === "/" || op === "%";
  const multiplies = op === "*";
  return (attrs, state) => {
    const l = left(attrs, state);
    if (state.error) return 0;
    const r = right(attrs, state);
    if (state.error) return 0;
    const x = toInteger(l, state, at);
    const y = toInteger(r, state, at);
    if (state.error) return 0;
    if (divides && y === 0) {
      fail(state, "math", `division by zero`, at);
      return 0;
    }
    const exact = arithmetic(x, y);
    // A product beyond 2^53 is inexact in a double; Math.imul wraps it exactly.
    return checked(exact, multiplies ? Math.imul(x, y) : exact, state, at);
  };
}

/** AND and OR short-circuit (spec §3.4.2); XOR reads every operand. */
function logic(op: LogicOp, operands: Evaluator[], at: number): Evaluator {
  const last = operands.length - 1;
  const stopOn = op === "OR";
  return (attrs, state) => {
    let acc = false;
    for (let i = 0; i <= last; i++) {
      const v = operands[i](attrs, state);
      if (state.error) return false;
      const b = toBoolean(v, state, at);
      if (state.error) return false;
      if (op === "XOR") acc = acc !== b;
      else if (b === stopOn || i === last) return b;
    }
    return acc;
  };
}

/** The left operand's type is the target type of every element (spec §3.4.5). */
function inSet(operand: Evaluator, set: Evaluator[], negated: boolean, at: number): Evaluator {
  return (attrs, state) => {
    const x = operand(attrs, state);
    if (state.error) return false;
    const type = typeOf(x);
    for (let i = 0; i < set.length; i++) {
      const y = set[i](attrs, state);
      if (state.error) return false;
      const yc = castTo(y, type, state, at);
      if (state.error) return false;
      if (yc === x) return !negated;
    }
    return negated;
  };
}

/** Resolved at compile time: a call that cannot be dispatched is a MissingFunctionError before any event. */
function call(node: Extract<Node, { type: "call" }>, functions: FunctionTable): Evaluator {
  const fn = resolve(functions, node.name, node.args.length);
  if (fn === undefined) {
    const arities = (functions.get(node.name) ?? []).map((o) => `${o.parameters.length}${o.variadic ? " or more" : ""}`);
    const known = arities.length > 0 ? `; it takes ${arities.join(" or ")} arguments` : "";
    throw new CesqlSyntaxError("missingFunction", `no function ${node.name} with ${node.args.length} arguments${known}`, node.position);
  }
  const args = node.args.map((n) => compileNode(n, functions));
  const types = args.map((_, i) => parameterType(fn, i));
  const values: Value[] = new Array<Value>(args.length);
  const zero = zeroOf(fn.returns);
  const at = node.position;
  const name = node.name;
  // Built once per call site and reset before each call, so a call allocates nothing.
  const raised: { kind: Parameters<Raise>[0] | null; message: string } = { kind: null, message: "" };
  const raise: Raise = (kind, message) => {
    if (raised.kind !== null) return;
    raised.kind = kind;
    raised.message = message;
  };
  return (attrs, state) => {
    for (let i = 0; i < args.length; i++) {
      const v = args[i](attrs, state);
      if (state.error) return zero;
      const type = types[i];
      values[i] = type === "Any" ? v : castTo(v, type, state, at);
      if (state.error) return zero;
    }
    raised.kind = null;
    let result: Value;
    try {
      result = fn.run(values, raise);
    } catch (e) {
      fail(state, "functionEvaluation", `${name}: ${e instanceof Error ? e.message : String(e)}`, at);
      return zero;
    }
    if (raised.kind !== null) fail(state, raised.kind, raised.message, at);
    if (typeOf(result) !== fn.returns || (typeof result === "number" && !Number.isInteger(result))) {
      fail(state, "functionEvaluation", `${name} returned ${typeof result}, not ${fn.returns}`, at);
      return zero;
    }
    return result;
  };
}
