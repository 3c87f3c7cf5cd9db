/**
 * CEL filters (API.md §3 `spec.filters[].cel`) on @marcbachmann/cel-js. The environment has one
 * variable, `event`, a map of the event's attributes and extensions plus `data`:
 * - Attributes keep their CloudEvents type: String and Boolean as such, Integer as CEL `int`.
 *   `time` and the URI attributes are strings, as CESQL reads them.
 * - `event.data` is the parsed JSON when the data is JSON (`dataAsJson`), otherwise absent, so
 *   `has(event.data)` tells. It is parsed once per evaluation, and only by expressions that can read it.
 * - JSON numbers are CEL `double`, as in cel-go's JSON mapping. CEL compares numbers across types,
 *   so `event.data.count > 5`, `== 7` and `in [7, 8]` work with int literals; arithmetic does not
 *   mix types (`event.data.count + 1` is an error): write `+ 1.0` or `int(event.data.count) + 1`.
 * - A missing key (`event.subject` on an event without subject) is an error, so the filter fails;
 *   guard with `has(event.subject)`.
 * - `matches()` runs on RE2 (re2js), the regular-expression syntax CEL specifies, in time linear in its
 *   input: the pattern may come from the event, and a backtracking engine would let one event stall the
 *   broker. Each `.matches(` call site is renamed to `.re2Matches(` before parsing (see `withLinearMatches`).
 * Parse and type errors are found at compile time; evaluation never throws.
 */
import { Environment, EvaluationError, ParseError, TypeError as CelTypeError } from "@marcbachmann/cel-js";
import { Duration, UnsignedInt } from "@marcbachmann/cel-js/evaluator";
import type { CloudEvent } from "../cloudevents/event.ts";
import { RE2JS } from "re2js";
import { dataAsJson } from "../cloudevents/index.ts";

/** Longest accepted expression, in UTF-16 code units. */
export const MAX_CEL_EXPRESSION_LENGTH = 16384;
/** Parse-time limits handed to cel-js. */
export const CEL_LIMITS = { maxAstNodes: 2000, maxDepth: 64, maxListElements: 256, maxMapEntries: 256, maxCallArguments: 32 };

export type CelErrorKind = "parse" | "type" | "evaluation";
export interface CelError {
  kind: CelErrorKind;
  message: string;
}
export interface CelResult {
  value: unknown;
  /** Boolean, Integer, UnsignedInteger, Double, String, Bytes, Null, List, Map, Timestamp, Duration or Type. */
  type: string;
  error: CelError | null;
}
export interface CelProgram {
  evaluate(event: CloudEvent): CelResult;
  /** The filter's question, without building a result: true only for `true` without error. */
  matches(event: CloudEvent, scratch?: FilterScratch): boolean;
}

/** Per-event scratch shared by the filters evaluated on one event (see shared/filters/knative.ts). */
export interface FilterScratch {
  cel?: Record<string, unknown>;
}
export interface CelOptions {
  /** `bool` (the default, for filters) refuses expressions whose checked type can only be something else. */
  result?: "bool" | "any";
}

/** Compiled RE2 patterns kept, by pattern text: literal patterns compile once, event-supplied ones are bounded. */
const PATTERN_CACHE_SIZE = 256;
const patterns = new Map<string, RE2JS>();

function re2Matches(input: string, pattern: string): boolean {
  let re = patterns.get(pattern);
  if (!re) {
    try {
      re = RE2JS.compile(pattern);
    } catch (e) {
      throw new Error(`invalid regular expression ${JSON.stringify(pattern.slice(0, 100))}: ${(e as Error).message}`);
    }
    if (patterns.size >= PATTERN_CACHE_SIZE) patterns.delete(patterns.keys().next().value!);
    patterns.set(pattern, re);
  }
  return re.matcher(input).find();
}

// Built once: cel-js environments are expensive to create, and nothing registers into it later.
const environment = new Environment({ limits: CEL_LIMITS })
  .registerVariable("event", "map")
  .registerFunction("string.re2Matches(string): bool", re2Matches);

function describe(e: unknown): string {
  if (e instanceof ParseError || e instanceof EvaluationError || e instanceof CelTypeError) {
    const at = e.range ? ` at position ${e.range.start}` : "";
    return `${e.summary}${at}`;
  }
  return e instanceof Error ? e.message : String(e);
}

export function compileCel(expression: string, options: CelOptions = {}): { program: CelProgram } | { error: CelError } {
  if (expression.length > MAX_CEL_EXPRESSION_LENGTH) {
    return { error: { kind: "parse", message: `expression is ${expression.length} characters long; the limit is ${MAX_CEL_EXPRESSION_LENGTH}` } };
  }
  let evaluator: ReturnType<Environment["parse"]>;
  try {
    evaluator = environment.parse(expression);
    const checked = evaluator.check(); // on the text as written, so positions in errors are the user's
    if (!checked.valid) return { error: { kind: "type", message: describe(checked.error) } };
    const linear = withLinearMatches(expression, evaluator.ast);
    if (linear !== expression) evaluator = environment.parse(linear);
  } catch (e) {
    return { error: { kind: "parse", message: describe(e) } };
  }
  const checked = evaluator.check();
  if (!checked.valid) return { error: { kind: "type", message: describe(checked.error) } };
  const type = String(checked.type);
  const withData = readsData(evaluator.ast);
  if ((options.result ?? "bool") === "bool" && type !== "bool" && type !== "dyn") {
    return { error: { kind: "type", message: `a filter must return bool, this expression returns ${type}` } };
  }
  return {
    program: {
      evaluate(event) {
        try {
          const value: unknown = evaluator({ event: celEvent(event, withData, {}) });
          return { value, type: celTypeOf(value), error: null };
        } catch (e) {
          return { value: null, type: "Null", error: { kind: "evaluation", message: describe(e) } };
        }
      },
      matches(event, scratch = {}) {
        try {
          return evaluator({ event: celEvent(event, withData, scratch) }) === true;
        } catch {
          return false;
        }
      },
    },
  };
}

/**
 * The `event` map: attributes by name (Integer as int), and `data` once an expression that can read it
 * asks. Built once per event and kept in `scratch` for the other filters on the same event.
 */
function celEvent(event: CloudEvent, withData: boolean, scratch: FilterScratch): Record<string, unknown> {
  let view = scratch.cel;
  if (!view) {
    view = { ...event.attributes };
    for (const name in view) {
      const v = view[name];
      if (typeof v === "number") view[name] = BigInt(v);
    }
    scratch.cel = view;
  }
  if (withData && event.data !== undefined && !("data" in view)) {
    const data = dataAsJson(event);
    if (data !== undefined) view.data = data;
  }
  return view;
}

type AstNode = { op: string; args: unknown };

function isNode(value: unknown): value is AstNode {
  return typeof value === "object" && value !== null && "op" in value && "args" in value;
}

/**
 * Whether the expression can reach `event.data`: true unless every use of `event` is a field
 * access to another field (`event.type`). Passing `event` whole (`[event]`, macros over it,
 * `event["data"]`) counts as reading data. Walks cel-js's parsed tree (pinned version; the tests
 * fail if its shape changes).
 */
function readsData(node: unknown): boolean {
  if (Array.isArray(node)) return node.some(readsData);
  if (!isNode(node)) return false;
  if (node.op === "id") return node.args === "event";
  const args = node.args;
  if ((node.op === "." || node.op === ".?") && Array.isArray(args) && isNode(args[0]) && args[0].op === "id" && args[0].args === "event") {
    return args[1] === "data";
  }
  return readsData(args);
}

/**
 * The expression with every `x.matches(p)` method call renamed to `x.re2Matches(p)`. The method name is found
 * from the parsed tree: after the receiver's end, past white space, comments and the dot.
 */
function withLinearMatches(expression: string, ast: unknown): string {
  const sites: number[] = [];
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) {
      for (const child of node) walk(child);
      return;
    }
    if (!isNode(node)) return;
    const args = node.args as unknown[];
    if (node.op === "rcall" && args[0] === "matches") {
      const receiver = args[1] as { end: number };
      const dot = skipSpace(expression, receiver.end);
      const at = skipSpace(expression, dot + 1);
      if (expression[dot] !== "." || !expression.startsWith("matches", at)) throw new Error("cannot place a matches() call");
      sites.push(at);
    }
    walk(node.args);
  };
  walk(ast);
  let out = expression;
  for (const at of sites.sort((a, b) => b - a)) out = `${out.slice(0, at)}re2Matches${out.slice(at + "matches".length)}`;
  return out;
}

/** Past white space and `//` comments from `i`. */
function skipSpace(s: string, i: number): number {
  for (;;) {
    while (/\s/.test(s[i] ?? "")) i++;
    if (!s.startsWith("//", i)) return i;
    const eol = s.indexOf("\n", i);
    i = eol < 0 ? s.length : eol + 1;
  }
}

/** The value's CEL type, named as ExpressionReview names types (API.md §3). */
function celTypeOf(value: unknown): string {
  switch (typeof value) {
    case "boolean":
      return "Boolean";
    case "bigint":
      return "Integer";
    case "number":
      return "Double";
    case "string":
      return "String";
  }
  if (value === null || value === undefined) return "Null";
  if (value instanceof UnsignedInt) return "UnsignedInteger";
  if (value instanceof Duration) return "Duration";
  if (value instanceof Date) return "Timestamp";
  if (value instanceof Uint8Array) return "Bytes";
  if (Array.isArray(value)) return "List";
  // cel-js type values (`type(x)`) are an unexported class tagged `Type<name>`.
  if (Object.prototype.toString.call(value).startsWith("[object Type<")) return "Type";
  return "Map";
}
