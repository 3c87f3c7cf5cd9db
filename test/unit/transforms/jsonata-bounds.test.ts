import { describe, expect, it } from "vitest";
import { compileJsonata } from "../../../shared/transforms/jsonata.ts";
import {
  MAX_ARGUMENTS,
  MAX_DISTINCT,
  MAX_DISTINCT_STRUCTURED,
  MAX_PICTURE_TIMESTAMP,
  MAX_PRODUCED,
  MAX_REGEX_SCAN,
  MAX_SEQUENCE,
  MAX_VALUE_SIZE,
} from "../../../shared/transforms/jsonata-bounds.ts";

const run = async (expression: string, input: unknown = {}) => {
  const compiled = compileJsonata(expression);
  if ("error" in compiled) throw new Error(compiled.error.message);
  const r = await compiled.run(input);
  // JSONata marks its sequences with extra members; compare values as JSON has them.
  return "value" in r && r.value !== undefined ? { value: JSON.parse(JSON.stringify(r.value)) } : r;
};
const refused = (text: string | RegExp) => ({ error: expect.objectContaining({ kind: "functionEvaluation", message: expect.stringMatching(text) }) });

describe("JSONata's regular expressions run on RE2", () => {
  it("keep JSONata's results for $match, $replace, $split and $contains, flags included", async () => {
    expect(await run('$match("ab12cd34", /([a-z]+)(\\d+)/)')).toEqual({
      value: [
        { match: "ab12", index: 0, groups: ["ab", "12"] },
        { match: "cd34", index: 4, groups: ["cd", "34"] },
      ],
    });
    expect(await run('$replace("John Smith", /(\\w+)\\s(\\w+)/, "$2, $1")')).toEqual({ value: "Smith, John" });
    expect(await run('$split("a1b22c", /\\d+/)')).toEqual({ value: ["a", "b", "c"] });
    expect(await run('[$contains("Hello", /L+/i), $contains("Hello", /L+/)]')).toEqual({ value: [true, false] });
    expect(await run('$match("x\\ny", /^y$/m).index')).toEqual({ value: 2 });
    expect(await run('$match("é😀b", /b/).index')).toEqual({ value: 3 });
  });

  it("answer a pattern that backtracks exponentially at once, on any input", async () => {
    expect(await run("$match(s, /^(a+)+$/)", { s: `${"a".repeat(5000)}!` })).toEqual({ value: undefined });
    expect(await run('$replace(s, /(x+x+)+y/, "-")', { s: "x".repeat(5000) })).toEqual({ value: "x".repeat(5000) });
  });

  it("refuse what RE2 leaves out (backreferences, lookahead) when the expression is compiled, with the position", () => {
    expect(compileJsonata("$match(s, /(a)\\1/)")).toEqual({
      error: expect.objectContaining({ kind: "parse", position: expect.any(Number), message: expect.stringContaining("/(a)\\1/ is not supported") }),
    });
    expect(compileJsonata('$eval("1") ~> $contains(/a(?=b)/)')).toEqual({ error: expect.objectContaining({ kind: "parse" }) });
  });

  it("count the characters they read: a run reads at most MAX_REGEX_SCAN", async () => {
    const s = "a".repeat(MAX_REGEX_SCAN / 10 - 1);
    expect(await run("( $s := s; $count([1..10].$match($s, /b/)) )", { s })).toEqual({ value: 0 });
    expect(await run("( $s := s; $count([1..11].$match($s, /b/)) )", { s })).toEqual(
      refused(`regular expressions read more than ${MAX_REGEX_SCAN} characters`),
    );
  });
});

describe("JSONata's built-ins, bounded by the work they do", () => {
  it("$pad and $join are refused before they build a string larger than MAX_VALUE_SIZE", async () => {
    expect(await run('$pad("", 50000000)')).toEqual(refused("\\$pad's result would be 50000000 characters"));
    expect(await run('$pad("", -50000000, "#")')).toEqual(refused("\\$pad's result would be 50000000"));
    expect(await run('$pad("ab", -4, "#")')).toEqual({ value: "##ab" });
    expect(await run("$join([1..100].$string(), s)", { s: "x".repeat(MAX_VALUE_SIZE / 50) })).toEqual(refused("\\$join's result would be"));
    expect(await run('$join(["a", "b"], "-")')).toEqual({ value: "a-b" });
  });

  it("$replace is refused when its result could pass MAX_VALUE_SIZE, with a string, a regular expression or a function", async () => {
    const s = "a".repeat(100_000);
    expect(await run('$replace(s, "a", "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb")', { s })).toEqual(
      refused("\\$replace's result would be 5200000"),
    );
    expect(await run('$replace(s, /a/, "$0$0$0$0$0$0$0$0$0$0$0$0$0$0$0$0$0$0$0$0$0$0$0$0$0")', { s })).toEqual(refused("\\$replace's result would be"));
    expect(await run('$replace(s, /a/, function($m){ "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb" })', { s })).toEqual(
      refused("\\$replace's result would be"),
    );
    expect(await run('$replace(s, /a/, "<$0>", 2)', { s: "aaa" })).toEqual({ value: "<a><a>a" });
  });

  it("$split and $match stop at MAX_SEQUENCE items", async () => {
    expect(await run('$count($split(s, ""))', { s: "x".repeat(MAX_SEQUENCE) })).toEqual({ value: MAX_SEQUENCE });
    expect(await run('$count($split(s, ""))', { s: "x".repeat(MAX_SEQUENCE + 1) })).toEqual(refused(`maximum sequence length of ${MAX_SEQUENCE}`));
    expect(await run('$count($split(s, "", 3))', { s: "x".repeat(MAX_SEQUENCE + 1) })).toEqual({ value: 3 });
  });

  it("$distinct takes a bounded array; $toMillis with a picture a short timestamp", async () => {
    expect(await run(`$count($distinct([1..${MAX_DISTINCT}]))`)).toEqual({ value: MAX_DISTINCT });
    expect(await run(`$distinct([1..${MAX_DISTINCT + 1}])`)).toEqual(refused(`at most ${MAX_DISTINCT} items`));
    expect(await run(`$distinct([1..${MAX_DISTINCT_STRUCTURED + 1}].{"n": $})`)).toEqual(
      refused(`at most ${MAX_DISTINCT_STRUCTURED} items when any is an object`),
    );
    expect(await run('$toMillis("2018-03-01", "[Y]-[M]-[D]")')).toEqual({ value: 1519862400000 });
    expect(await run('$toMillis(s, "[Y][M][D]")', { s: "1".repeat(MAX_PICTURE_TIMESTAMP + 1) })).toEqual(
      refused(`at most ${MAX_PICTURE_TIMESTAMP} characters`),
    );
  });
});

describe("values and memory of one run", () => {
  it("no value may pass MAX_VALUE_SIZE as JSON, counting a shared part each time it appears", async () => {
    // 1,000 references to one 1 MB string: little memory, a gigabyte once serialised by $string or &.
    expect(await run('( $s := $pad("", 1000000, "x"); $string([1..1000].($s)) )')).toEqual(refused(`larger than ${MAX_VALUE_SIZE} characters`));
    expect(await run('( $s := $pad("", 1000000, "x"); "" & [1..1000].{"k": $s} )')).toEqual(refused(`larger than ${MAX_VALUE_SIZE} characters`));
    expect(await run("$sum([1..100000])")).toEqual({ value: 5000050000 });
  });

  it("what function calls and operators return counts towards MAX_PRODUCED", async () => {
    expect(await run('( $s := $pad("", 1000000, "x"); $count([1..10].$exists($s & "y")) )')).toEqual({ value: 10 });
    expect(await run('( $s := $pad("", 1000000, "x"); $count([1..20].$exists($s & "y")) )')).toEqual(refused(`returned more than ${MAX_PRODUCED} characters`));
  });

  it("the budgets are per run", async () => {
    const compiled = compileJsonata('( $s := $pad("", 1000000, "x"); $count([1..10].$exists($s & "y")) )');
    if ("error" in compiled) throw new Error(compiled.error.message);
    for (let i = 0; i < 3; i++) expect(await compiled.run({})).toEqual({ value: 10 });
  });
});

describe("work of built-ins that read their input once", () => {
  it("what function calls are given counts towards MAX_ARGUMENTS, arguments and string contexts alike", async () => {
    const s = "x".repeat(1_000_000);
    // Cheap built-ins, so that only the count matters: 30 calls given 1 MB each pass, 40 do not.
    expect(await run("( $s := s; $count([1..30].$boolean($s)) )", { s })).toEqual({ value: 30 });
    expect(await run("( $s := s; $count([1..40].$boolean($s)) )", { s })).toEqual(refused(`given more than ${MAX_ARGUMENTS} characters`));
    expect(await run("( $s := s; $count([1..40].($s.$boolean())) )", { s })).toEqual(refused(`given more than ${MAX_ARGUMENTS} characters`));
    expect(await run("( $s := s; $count([1..40].($s ~> $boolean())) )", { s })).toEqual(refused(`given more than ${MAX_ARGUMENTS} characters`));
  });
});
