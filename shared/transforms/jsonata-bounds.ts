/**
 * The bounds of one JSONata run. Workers' clock stands still while code runs, so nothing here is a time:
 * each bound counts work, deterministically, and a run that passes one fails with a JSONata-style error
 * (code `U10xx`) at once.
 *
 * - Steps: every expression node evaluated counts one (JSONata's entry hook).
 * - Sizes: every value a node gives is measured as JSON (shared parts counted each time they appear, as
 *   serialising would; measured once per object and run) and may not pass MAX_VALUE_SIZE, so no later
 *   `$string`, `&` or `$join` of it can be larger than that. What function calls and operators return
 *   counts towards MAX_PRODUCED, which bounds the memory a run builds up; what they are given (their
 *   arguments, and a string they take from the context) towards MAX_ARGUMENTS, which bounds the work of
 *   built-ins that read their input once (`$length`, `$uppercase`, `$base64encode`...).
 * - Built-ins whose own work a node count cannot see are replaced by checked versions that call
 *   JSONata's: `$pad` and `$join` are refused before they build an oversized string, `$replace` before it
 *   could, `$split` and `$match` stop at MAX_SEQUENCE items, `$distinct` (quadratic) takes a bounded
 *   array, `$toMillis` with a picture (matched by a backtracking pattern) a short timestamp.
 * - Regular expressions run on RE2 (./re2-regex.ts), and the characters they read count towards
 *   MAX_REGEX_SCAN.
 */
import jsonata from "jsonata";
import { Re2Regex } from "./re2-regex.ts";

/** Nodes one run may evaluate: 100,000 is some 100 ms of CPU in workerd; the documented examples take a few hundred. */
export const MAX_STEPS = 100_000;
/** Nested evaluations (recursion) one run may reach. */
export const MAX_DEPTH = 500;
/** Items one sequence may hold (a range such as [1..1e7] is refused at once). */
export const MAX_SEQUENCE = 100_000;
/** Largest value, as characters of JSON: twice the largest event the router accepts (1 MiB). */
export const MAX_VALUE_SIZE = 2 * 1024 * 1024;
/** Characters of JSON that function calls and operators may return in one run, all together. */
export const MAX_PRODUCED = 16 * 1024 * 1024;
/** Characters of JSON given to function calls in one run, all together (built-ins read some 30 million a second). */
export const MAX_ARGUMENTS = 32 * 1024 * 1024;
/** Characters regular expressions may read in one run (RE2 reads about one a microsecond). */
export const MAX_REGEX_SCAN = 2 * 1024 * 1024;
/** `$distinct` compares every pair: items it takes, and fewer when any is an object or array (a costlier comparison). */
export const MAX_DISTINCT = 10_000;
export const MAX_DISTINCT_STRUCTURED = 500;
/** Longest timestamp `$toMillis` parses with a picture (JSONata matches pictures with a backtracking pattern). */
export const MAX_PICTURE_TIMESTAMP = 64;

/** The options the run bounds need from JSONata itself. */
export const JSONATA_OPTIONS = { stack: MAX_DEPTH, sequence: MAX_SEQUENCE };

/** Thrown as JSONata throws its own errors: a code, a message, and the expression's position when known. */
const fail = (code: string, message: string, at?: { position?: number }): never => {
  throw { code, message, ...(at?.position !== undefined ? { position: at.position } : {}) };
};

interface Run {
  steps: number;
  produced: number;
  given: number;
  scanned: number;
  sizes: WeakMap<object, number>;
}
type Base = { [RUN]?: Run; RegexEngine?: unknown };
type Environment = { base: Base };
type Node = { type: string; position?: number; arguments?: Node[]; lhs?: Node };

const RUN = Symbol("run");

/** The run's counters, made on its first step; its regular expressions get an engine that counts what they read. */
function runOf(environment: Environment): Run {
  const base = environment.base;
  if (base[RUN]) return base[RUN];
  const run: Run = { steps: 0, produced: 0, given: 0, scanned: 0, sizes: new WeakMap() };
  base[RUN] = run;
  // JSONata constructs its engine with `new base.RegexEngine(literal)`; a constructor returning an object gives that object.
  // biome-ignore lint/complexity/useArrowFunction: called with `new`, which an arrow function refuses
  base.RegexEngine = function (pattern: RegExp) {
    return new Re2Regex(pattern, (chars) => {
      run.scanned += chars;
      if (run.scanned > MAX_REGEX_SCAN) fail("U1004", `regular expressions read more than ${MAX_REGEX_SCAN} characters`);
    });
  };
  return run;
}

/** Nodes whose value is handed to a function: a call's arguments, the left side of `~>`. */
const ARGUMENTS = new WeakSet<Node>();

function enter(expr: Node, input: unknown, environment: Environment): void {
  const run = runOf(environment);
  if (++run.steps > MAX_STEPS) fail("U1001", `the expression ran too long: more than ${MAX_STEPS} evaluation steps`);
  if (expr.type === "function" || expr.type === "partial") {
    for (const arg of expr.arguments ?? []) ARGUMENTS.add(arg);
    // A built-in called without its string argument takes the context (`name.$uppercase()`).
    if (typeof input === "string") give(run, input.length, expr);
  } else if (expr.type === "apply" && expr.lhs) ARGUMENTS.add(expr.lhs);
}

function give(run: Run, size: number, expr: Node): void {
  run.given += size;
  if (run.given > MAX_ARGUMENTS) fail("U1007", `function calls were given more than ${MAX_ARGUMENTS} characters in all`, expr);
}

/** Node types whose value is made by the node (a call, an operator), not found in the input or the expression. */
const MAKERS = new Set(["function", "apply", "binary"]);

function leave(expr: Node, _input: unknown, environment: Environment, result: unknown): void {
  if (typeof result !== "string" && (typeof result !== "object" || result === null)) return;
  const run = runOf(environment);
  const size = sizeOf(result, run);
  if (size > MAX_VALUE_SIZE) fail("U1002", `a value is larger than ${MAX_VALUE_SIZE} characters as JSON`, expr);
  if (ARGUMENTS.has(expr)) give(run, size, expr);
  if (!MAKERS.has(expr.type)) return;
  run.produced += size;
  if (run.produced > MAX_PRODUCED) fail("U1003", `function calls and operators returned more than ${MAX_PRODUCED} characters in all`, expr);
}

const isCallable = (v: object) => "_jsonata_lambda" in v || "_jsonata_function" in v;

/** Characters of `value` as JSON, near enough; past MAX_VALUE_SIZE the count stops (any larger number means "too large"). */
function sizeOf(value: unknown, run: Run): number {
  switch (typeof value) {
    case "string":
      return value.length + 2;
    case "number":
      return Number.isSafeInteger(value) ? Math.floor(Math.log10(Math.abs(value) || 1)) + 1 + (value < 0 ? 1 : 0) : 24;
    case "boolean":
      return 5;
    case "object":
      break;
    default:
      return 0; // undefined and functions are not serialised
  }
  if (value === null) return 4;
  const known = run.sizes.get(value);
  if (known !== undefined) return known;
  if (isCallable(value)) return 0;
  run.sizes.set(value, 0); // a cycle (never in JSON) ends here
  let size = 2;
  if (Array.isArray(value)) {
    for (const item of value) {
      size += sizeOf(item, run) + 1;
      if (size > MAX_VALUE_SIZE) break;
    }
  } else {
    for (const key of Object.keys(value)) {
      size += key.length + 4 + sizeOf((value as Record<string, unknown>)[key], run);
      if (size > MAX_VALUE_SIZE) break;
    }
  }
  run.sizes.set(value, size);
  return size;
}

type Focus = { environment: Environment };
type Implementation = (this: Focus, ...args: never[]) => unknown;
type Builtin = { implementation: Implementation };
const BUILTINS = ["pad", "join", "replace", "split", "match", "distinct", "toMillis"] as const;
let builtins: Promise<Record<(typeof BUILTINS)[number], Builtin>> | undefined;

/** JSONata's own implementation of a built-in, which the checked version calls once its checks pass. */
async function original(name: (typeof BUILTINS)[number]): Promise<Implementation> {
  builtins ??= jsonata(`{${BUILTINS.map((b) => `"${b}": $${b}`).join(", ")}}`).evaluate({});
  return (await builtins)[name].implementation;
}

async function call(focus: Focus, name: (typeof BUILTINS)[number], args: unknown[]): Promise<unknown> {
  return (await original(name)).apply(focus, args as never[]);
}

const tooLarge = (what: string, size: number) => fail("U1002", `${what} would be ${size} characters, more than ${MAX_VALUE_SIZE}`);
type Matcher = (s: string) => Promise<RegexMatch | undefined> | RegexMatch | undefined;
type RegexMatch = { match: string; next: () => Promise<RegexMatch | undefined> | RegexMatch | undefined };

/** Every match of a pattern (a string or a matcher such as a regular expression), up to `limit`: their count and total length. */
async function matches(str: string, pattern: string | Matcher, limit: number): Promise<{ count: number; chars: number }> {
  let count = 0;
  let chars = 0;
  if (typeof pattern === "string") {
    for (let at = str.indexOf(pattern); at !== -1 && count < limit; at = str.indexOf(pattern, at + pattern.length))
      [count, chars] = [count + 1, chars + pattern.length];
    return { count, chars };
  }
  for (let m = await pattern(str); m !== undefined && count < limit; m = await m.next()) [count, chars] = [count + 1, chars + m.match.length];
  return { count, chars };
}

/** `$split` and `$match` stop one item past the sequence limit, which is then refused. */
async function capped(focus: Focus, name: "split" | "match", str: unknown, pattern: unknown, limit: number | undefined): Promise<unknown> {
  const result = await call(focus, name, [str, pattern, limit === undefined || limit > MAX_SEQUENCE ? MAX_SEQUENCE + 1 : limit]);
  if (Array.isArray(result) && result.length > MAX_SEQUENCE) throw { code: "D2015", value: MAX_SEQUENCE };
  return result;
}

/** The checked built-ins, each with JSONata's own signature. */
const CHECKED: Record<(typeof BUILTINS)[number], [Implementation, string]> = {
  pad: [
    function (this: Focus, str: string | undefined, width: number, char?: string) {
      if (str !== undefined && Math.abs(Math.trunc(width)) > MAX_VALUE_SIZE) tooLarge("$pad's result", Math.abs(Math.trunc(width)));
      return call(this, "pad", [str, width, char]);
    } as Implementation,
    "<s-ns?:s>",
  ],
  join: [
    function (this: Focus, strs: string[] | undefined, separator?: string) {
      if (strs !== undefined) {
        const size = strs.reduce((n, s) => n + s.length, 0) + Math.max(strs.length - 1, 0) * (separator ?? "").length;
        if (size > MAX_VALUE_SIZE) tooLarge("$join's result", size);
      }
      return call(this, "join", [strs, separator]);
    } as Implementation,
    "<a<s>s?:s>",
  ],
  replace: [
    async function (this: Focus, str: string | undefined, pattern: string | Matcher, replacement: string | ((m: unknown) => unknown), limit?: number) {
      if (str === undefined || pattern === "" || (limit !== undefined && limit < 0)) return call(this, "replace", [str, pattern, replacement, limit]);
      if (typeof replacement !== "string") {
        // A function's replacements are counted as they come: the result is the input plus all of them.
        let size = str.length;
        const counted = async (m: unknown) => {
          const r = await replacement(m);
          if (typeof r === "string") {
            size += r.length;
            if (size > MAX_VALUE_SIZE) tooLarge("$replace's result", size);
          }
          return r;
        };
        return call(this, "replace", [str, pattern, counted, limit]);
      }
      // A string pattern is replaced as is; a regular expression's `$n` inserts a group, at most its whole match.
      const { count, chars } = await matches(str, pattern, limit ?? Number.POSITIVE_INFINITY);
      const dollars = typeof pattern === "string" ? 0 : replacement.split("$").length - 1;
      const size = str.length - chars + count * replacement.length + dollars * chars;
      if (size > MAX_VALUE_SIZE) tooLarge("$replace's result", size);
      return call(this, "replace", [str, pattern, replacement, limit]);
    } as Implementation,
    "<s-(sf)(sf)n?:s>",
  ],
  split: [
    function (this: Focus, str: unknown, separator: unknown, limit?: number) {
      return capped(this, "split", str, separator, limit);
    } as Implementation,
    "<s-(sf)n?:a<s>>",
  ],
  match: [
    function (this: Focus, str: unknown, regex: unknown, limit?: number) {
      return capped(this, "match", str, regex, limit);
    } as Implementation,
    "<s-f<s:o>n?:a<o>>",
  ],
  distinct: [
    function (this: Focus, arr: unknown) {
      if (Array.isArray(arr)) {
        const structured = arr.some((v) => typeof v === "object" && v !== null);
        const max = structured ? MAX_DISTINCT_STRUCTURED : MAX_DISTINCT;
        if (arr.length > max) fail("U1005", `$distinct takes at most ${max} items${structured ? " when any is an object or array" : ""}, not ${arr.length}`);
      }
      return call(this, "distinct", [arr]);
    } as Implementation,
    "<x:x>",
  ],
  toMillis: [
    function (this: Focus, timestamp: string | undefined, picture?: string) {
      if (timestamp !== undefined && picture !== undefined && timestamp.length > MAX_PICTURE_TIMESTAMP) {
        fail("U1006", `$toMillis with a picture parses at most ${MAX_PICTURE_TIMESTAMP} characters, not ${timestamp.length}`);
      }
      return call(this, "toMillis", [timestamp, picture]);
    } as Implementation,
    "<s-s?:n>",
  ],
};

/** Bound every run of a compiled expression. */
export function bound(compiled: jsonata.Expression): void {
  compiled.assign(Symbol.for("jsonata.__evaluate_entry") as never, enter);
  compiled.assign(Symbol.for("jsonata.__evaluate_exit") as never, leave);
  for (const [name, [implementation, signature]] of Object.entries(CHECKED)) compiled.registerFunction(name, implementation as never, signature);
}

/** The first regular-expression literal RE2 cannot run (a backreference, a lookahead), with its position. */
export function unsupportedRegex(ast: unknown, seen = new Set<object>()): { message: string; position?: number } | null {
  if (typeof ast !== "object" || ast === null || seen.has(ast)) return null;
  seen.add(ast);
  const node = ast as Node & { value?: unknown };
  if (node.type === "regex" && node.value instanceof RegExp) {
    try {
      new Re2Regex(node.value);
    } catch (e) {
      return {
        message: `regular expression /${node.value.source}/ is not supported (RE2 syntax: no backreferences or lookaround): ${(e as Error).message}`,
        position: node.position,
      };
    }
  }
  for (const child of Object.values(ast)) {
    const found = unsupportedRegex(child, seen);
    if (found) return found;
  }
  return null;
}
