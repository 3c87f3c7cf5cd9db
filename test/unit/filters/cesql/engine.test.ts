/** CESQL behaviour the TCK leaves open: positions, limits, 32-bit overflow, precedence, Unicode, functions. */
import { describe, expect, it } from "vitest";
import type { AttributeValue, CloudEvent } from "../../../../shared/cloudevents/event.ts";
import { compileCesql, MAX_EXPRESSION_LENGTH, MAX_NESTING, type CesqlFunction } from "../../../../shared/filters/cesql/index.ts";

const EVENT: CloudEvent = { attributes: { specversion: "1.0", id: "1", source: "/s", type: "t", exint: 42, exbool: true, name: "a😀b" } };

function run(expression: string, attributes: Record<string, AttributeValue> = EVENT.attributes, functions?: CesqlFunction[]) {
  const compiled = compileCesql(expression, { functions });
  if ("error" in compiled) throw new Error(`${compiled.error.kind}: ${compiled.error.message}`);
  const r = compiled.program.evaluate({ attributes });
  return { value: r.value, type: r.type, error: r.errors[0]?.kind ?? null };
}

function compileError(expression: string) {
  const compiled = compileCesql(expression);
  if ("program" in compiled) throw new Error(`${expression} compiled`);
  return compiled.error;
}

describe("compile errors", () => {
  it.each([
    ["ABC(", "parse", 4],
    ["x LIKE 123", "parse", 7],
    ["1 +", "parse", 3],
    ["'abc", "parse", 0],
    ["a # b", "parse", 2],
    ["(1 = 1", "parse", 6],
    ["1 2", "parse", 2],
    ["EXISTS 'a'", "parse", 7],
    ["x IN ()", "parse", 6],
    ["my_attr = 1", "parse", 0],
    ["", "parse", 0],
    ["2147483648", "parse", 0],
    ["-2147483649", "parse", 0],
    ["LEFT('a')", "missingFunction", 0],
    ["1 = nope(1)", "missingFunction", 4],
  ])("%s is a %s error at %i", (expression, kind, position) => {
    expect(compileError(expression)).toMatchObject({ kind, position });
  });

  it("names the arities a function has", () => {
    expect(compileError("SUBSTRING('a')").message).toBe("no function SUBSTRING with 1 arguments; it takes 2 or 3 arguments");
  });

  it("limits the length and the nesting", () => {
    expect(compileError(`'${"a".repeat(MAX_EXPRESSION_LENGTH)}'`).message).toMatch(/limit is 16384/);
    const nested = (n: number) => `${"(".repeat(n)}1${")".repeat(n)}`;
    expect(run(nested(MAX_NESTING)).value).toBe(1);
    expect(compileError(nested(MAX_NESTING + 1))).toMatchObject({ kind: "parse", position: MAX_NESTING });
    expect(compileError(`${"NOT ".repeat(MAX_NESTING + 1)}TRUE`).kind).toBe("parse");
  });

  it("evaluates a long OR chain without deep recursion", () => {
    const terms = Array.from({ length: 2000 }, (_, i) => `exint = ${i}`).join(" OR ");
    expect(terms.length).toBeLessThan(MAX_EXPRESSION_LENGTH * 2);
    const compiled = compileCesql(terms.slice(0, terms.lastIndexOf(" OR ", MAX_EXPRESSION_LENGTH)));
    expect("program" in compiled && compiled.program.evaluate(EVENT).value).toBe(true);
  });
});

describe("integers are 32-bit", () => {
  it.each([
    ["-2147483648", -2147483648, null],
    ["2147483647 + 1", -2147483648, "math"],
    ["-2147483648 - 1", 2147483647, "math"],
    ["65536 * 65536", 0, "math"],
    ["-2147483648 * -1", -2147483648, "math"],
    ["-2147483648 / -1", -2147483648, "math"],
    ["--2147483648", -2147483648, "math"],
    ["46341 * 46340", 2147441940, null],
    ["-7 / 2", -3, null],
    ["-7 % 2", -1, null],
    ["7 % -2", 1, null],
    ["-1 % 1", 0, null],
    ["exint + 1", 43, null],
    ["'12' * '2'", 24, null],
    ["'abc' + 1", 0, "cast"],
    ["'99999999999' + 1", 0, "cast"],
  ])("%s = %s (%s error)", (expression, value, error) => {
    expect(run(expression)).toEqual({ value, type: "Integer", error });
    expect(Object.is(run(expression).value, -0)).toBe(false);
  });
});

describe("precedence and evaluation order (the v1 ANTLR grammar, as sdk-go)", () => {
  it.each([
    ["1 + 2 * 3", 7],
    ["1 + 1 = 2", true],
    ["NOT TRUE = FALSE", true],
    ["-exint < 0", true],
    ["FALSE AND TRUE OR TRUE", false],
    ["TRUE OR FALSE AND FALSE", true],
    ["TRUE XOR TRUE XOR TRUE", true],
    ["2 * 3 IN (6)", 0],
    ["FALSE AND missing", false],
    ["TRUE OR missing", true],
    ["ID = '1' AND Type = 't'", true],
    ["NOT EXISTS missing", true],
    ["EXISTS exbool", true],
  ])("%s is %s", (expression, value) => {
    expect(run(expression)).toMatchObject({ value, error: null });
  });

  it("stops at the first error and returns the enclosing operator's zero value", () => {
    expect(run("LEFT('abc', -2)")).toEqual({ value: "abc", type: "String", error: "functionEvaluation" });
    expect(run("LEFT('abc', -2) = 'abc'")).toEqual({ value: false, type: "Boolean", error: "functionEvaluation" });
    expect(run("LENGTH(missing)")).toEqual({ value: 0, type: "Integer", error: "missingAttribute" });
    expect(run("missing XOR TRUE")).toEqual({ value: false, type: "Boolean", error: "missingAttribute" });
    expect(run("exint IN ('x', 42)")).toEqual({ value: false, type: "Boolean", error: "cast" });
    expect(run("exint NOT IN (1, missing)")).toEqual({ value: false, type: "Boolean", error: "missingAttribute" });
  });

  it("does not read inherited object members as attributes", () => {
    expect(run("constructor = 'x'")).toMatchObject({ value: false, error: "missingAttribute" });
    expect(run("EXISTS constructor").value).toBe(false);
  });
});

describe("strings", () => {
  it.each([
    [String.raw`'it\'s'`, "it's"],
    [String.raw`"say \"hi\""`, 'say "hi"'],
    [String.raw`'a\\b'`, String.raw`a\\b`],
    ["LENGTH(name)", 3],
    ["SUBSTRING(name, 2, 1)", "😀"],
    ["RIGHT(name, 2)", "😀b"],
    ["LEFT(name, 2)", "a😀"],
    ["SUBSTRING('abc', 3)", "c"],
    ["SUBSTRING('abc', -3, 100)", "abc"],
    ["TRIM('\u00a0\u2003 a \t\n')", "a"],
    ["CONCAT_WS('-', 1, TRUE, 'x')", "1-true-x"],
    ["STRING(exbool)", "true"],
    ["UPPER(name)", "A😀B"],
  ])("%s gives %s", (expression, value) => {
    expect(run(expression)).toMatchObject({ value, error: null });
  });

  it.each([
    ["name LIKE 'a_b'", true],
    ["name LIKE '___'", true],
    ["name LIKE '____'", false],
    ["'aaab' LIKE '%ab'", true],
    ["'abcabd' LIKE '%ab_'", true],
    ["'abcabd' LIKE 'a%c%d'", true],
    ["'abcabd' LIKE 'a%c%e'", false],
    ["'x' LIKE '%%'", true],
    ["'' LIKE '%'", true],
    ["'' LIKE '_'", false],
    [String.raw`'50%' LIKE '50\%'`, true],
    [String.raw`'500' LIKE '50\%'`, false],
    [String.raw`'a\b' LIKE 'a\b'`, true],
    // As sdk-go: `\` before `\%` is an ordinary character, so no pattern is "a backslash, then anything".
    [String.raw`'a\%' LIKE 'a\\%'`, true],
    [String.raw`'a\x' LIKE 'a\\%'`, false],
    ["'abc' LIKE 'ABC'", false],
    ["exint LIKE '4_'", true],
  ])("%s is %s", (expression, value) => {
    expect(run(expression)).toMatchObject({ value, error: null });
  });
});

describe("user-defined functions", () => {
  const fail: CesqlFunction = {
    name: "boom",
    parameters: [],
    returns: "Integer",
    run: () => {
      throw new Error("no");
    },
  };
  const wrong: CesqlFunction = { name: "WRONG", parameters: [], returns: "Integer", run: () => "x" };
  const two: CesqlFunction = { name: "TWO", parameters: ["Integer", "Integer"], returns: "Integer", run: ([a, b]) => (a as number) + (b as number) };

  it("casts arguments and reports failures as functionEvaluation with the zero value", () => {
    expect(run("TWO('1', TRUE)", EVENT.attributes, [two])).toEqual({ value: 2, type: "Integer", error: null });
    expect(run("TWO('x', 1)", EVENT.attributes, [two])).toEqual({ value: 0, type: "Integer", error: "cast" });
    expect(run("BOOM()", EVENT.attributes, [fail])).toEqual({ value: 0, type: "Integer", error: "functionEvaluation" });
    expect(run("wrong()", EVENT.attributes, [wrong])).toEqual({ value: 0, type: "Integer", error: "functionEvaluation" });
  });

  it("rejects definitions the spec forbids", () => {
    const variadic = (name: string, fixed: number): CesqlFunction => ({
      name,
      parameters: Array(fixed).fill("String"),
      variadic: "String",
      returns: "String",
      run: () => "",
    });
    expect(() => compileCesql("1", { functions: [{ ...two, name: "1x" }] })).toThrow(/1x\/2: name must be letters/);
    expect(() => compileCesql("1", { functions: [{ ...two, name: "left" }] })).toThrow(/already exists/);
    expect(() => compileCesql("1", { functions: [variadic("V", 0)] })).not.toThrow();
    expect(() => compileCesql("1", { functions: [two, variadic("TWO", 2)] })).toThrow(/more fixed parameters/);
    expect(() => compileCesql("1", { functions: [two, variadic("TWO", 3)] })).not.toThrow();
    expect(() => compileCesql("1", { functions: [variadic("V", 3), variadic("V", 4)] })).toThrow(/one variadic/);
  });
});
