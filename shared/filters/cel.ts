/**
 * CEL filters (API.md §3 `spec.filters[].cel`) on @marcbachmann/cel-js. The environment has one
 * variable, `event`, a map of the event's attributes and extensions plus `data`:
 * - Attributes keep their CloudEvents type: String and Boolean as such, Integer as CEL `int`.
 *   `time` and the URI attributes are strings, as CESQL reads them.
 * - `event.data` is the parsed JSON when the data is JSON (`dataAsJson`), otherwise absent, so
 *   `has(event.data)` tells. It is parsed once per event, and only once an expression that can read it runs.
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
  /** The whole `event` map, for expressions that use `event` other than by naming fields. */
  cel?: Record<string, unknown>;
  /** The event's data as CEL reads it, parsed once: `value` is undefined when the data is not JSON. */
  celData?: { value: unknown };
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
const environment = new Environment({ limits: CEL_LIMITS }).registerVariable("event", "map").registerFunction("string.re2Matches(string): bool", re2Matches);

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
  const context = eventContext(fieldsRead(evaluator.ast));
  if ((options.result ?? "bool") === "bool" && type !== "bool" && type !== "dyn") {
    return { error: { kind: "type", message: `a filter must return bool, this expression returns ${type}` } };
  }
  return {
    program: {
      evaluate(event) {
        try {
          const value: unknown = evaluator(context(event, {}));
          return { value, type: celTypeOf(value), error: null };
        } catch (e) {
          return { value: null, type: "Null", error: { kind: "evaluation", message: describe(e) } };
        }
      },
      matches(event, scratch) {
        try {
          return evaluator(context(event, scratch)) === true;
        } catch {
          return false;
        }
      },
    },
  };
}

const hasOwn = Object.hasOwn;

type EventContext = (event: CloudEvent, scratch?: FilterScratch) => { event: Record<string, unknown> | EventFields };

/**
 * How an expression gets its context, the `event` map: attributes by name, Integer as `int`, and `data`
 * when JSON.
 * An expression that only names fields (`event.type`, `has(event.subject)`) reads them from the event
 * through the one `EventFields` (`fieldsView`): nothing is copied. Any other use of `event` gets a
 * copy of the attributes, made once per event and shared through `scratch` with the other filters on
 * it. Either way data is parsed at most once per event, when an expression that can read it runs.
 */
function eventContext(fields: readonly string[] | null): EventContext {
  if (fields === null) {
    return (event, scratch = {}) => {
      let view = scratch.cel;
      if (!view) {
        view = { ...event.attributes };
        for (const name in view) view[name] = celValue(view[name]);
        const data = celData(event, scratch);
        if (data !== undefined) view.data = data;
        scratch.cel = view;
      }
      return { event: view };
    };
  }
  const readsData = fields.includes("data");
  return (event, scratch) => {
    fieldsView.event = event;
    fieldsView.scratch = readsData ? (scratch ?? {}) : undefined;
    return fieldsContext;
  };
}

/**
 * The `event` map of an expression that only names fields: each field read from the event when cel-js
 * asks for it. One serves every such expression and event (an evaluation is synchronous, and such an
 * expression cannot return the map itself); it keeps only the last event evaluated. cel-js takes a Map
 * where a value's `constructor` is Map and reads its fields with `get` only; undefined is an absent key
 * (`has()` false, access an error), as in a plain object.
 */
class EventFields extends Map<string, unknown> {
  event: CloudEvent = { attributes: {} };
  scratch: FilterScratch | undefined;

  override get(name: string): unknown {
    if (name === "data") return this.scratch && celData(this.event, this.scratch);
    const attributes = this.event.attributes;
    const value = attributes[name];
    switch (typeof value) {
      case "string":
      case "boolean":
      case "undefined":
        return value;
      case "number":
        return BigInt(value);
      default: // a Map extension, or something of Object.prototype (`event.constructor` is no attribute)
        return hasOwn(attributes, name) ? value : undefined;
    }
  }
}
Object.defineProperty(EventFields.prototype, "constructor", { value: Map });

const fieldsView = new EventFields();
const fieldsContext = { event: fieldsView };

/** An attribute as CEL sees it: Integer (a JS number) as `int`. */
function celValue(value: unknown): unknown {
  return typeof value === "number" ? BigInt(value) : value;
}

/** `event.data`: the parsed JSON, undefined when the data is not JSON; parsed once per event (broken JSON throws, every time). */
function celData(event: CloudEvent, scratch: FilterScratch): unknown {
  if (event.data === undefined) return undefined;
  scratch.celData ??= { value: dataAsJson(event) };
  return scratch.celData.value;
}

type AstNode = { op: string; args: unknown };

function isNode(value: unknown): value is AstNode {
  return typeof value === "object" && value !== null && "op" in value && "args" in value;
}

/**
 * The fields of `event` the expression names (`data` included), or null when it uses `event` other
 * than by a field access (`[event]`, macros over it, `event["data"]`): then it may read any field.
 * Walks cel-js's parsed tree (pinned version; the tests fail if its shape changes).
 */
function fieldsRead(ast: unknown): string[] | null {
  const fields = new Set<string>();
  const walk = (node: unknown): boolean => {
    if (Array.isArray(node)) return node.every(walk);
    if (!isNode(node)) return true;
    if (node.op === "id") return node.args !== "event";
    const args = node.args;
    if ((node.op === "." || node.op === ".?") && Array.isArray(args) && isNode(args[0]) && args[0].op === "id" && args[0].args === "event") {
      fields.add(args[1] as string);
      return true;
    }
    return walk(args);
  };
  return walk(ast) ? [...fields] : null;
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
