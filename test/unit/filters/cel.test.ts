/** CEL filters: the `event` variable, JSON data, compile-time checks, errors that never throw, and the review. */
import { describe, expect, it } from "vitest";
import type { CloudEvent } from "../../../shared/cloudevents/event.ts";
import { compileCel } from "../../../shared/filters/cel.ts";
import { reviewExpression } from "../../../shared/filters/review.ts";

const attributes = { specversion: "1.0", id: "1", source: "/orders", type: "order.created", exint: 42, exbool: true };
const withJson = (json: string): CloudEvent => ({ attributes: { ...attributes, datacontenttype: "application/json" }, data: { kind: "json", json } });
const EVENT = withJson('{"count": 7, "price": 9.5, "items": [{"sku": "a"}, {"sku": "b"}], "customer": {"tier": "gold"}}');

function evaluate(expression: string, event: CloudEvent = EVENT) {
  const compiled = compileCel(expression, { result: "any" });
  if ("error" in compiled) throw new Error(compiled.error.message);
  return compiled.program.evaluate(event);
}

describe("compileCel", () => {
  it.each([
    ["event.type ==", "parse", /^Unexpected token: EOF at position 13$/],
    ['event.type = "a"', "parse", /Unexpected character: = at position 11/],
    ['1 + "a" == 2', "type", /no such overload: int \+ string at position 0/],
    ["foo == 1", "type", /Unknown variable: foo/],
    ["size(event.type)", "type", "a filter must return bool, this expression returns int"],
  ])("refuses %s with a %s error", (expression, kind, message) => {
    const compiled = compileCel(expression);
    expect("error" in compiled && compiled.error.kind).toBe(kind);
    if ("error" in compiled) expect(compiled.error.message).toMatch(message);
  });

  it("accepts dyn expressions as filters, which are checked at evaluation", () => {
    expect("program" in compileCel("event.type")).toBe(true);
    expect("program" in compileCel("size(event.type)", { result: "any" })).toBe(true);
  });

  it("limits the expression size and depth", () => {
    expect(compileCel(`${"(".repeat(70)}true${")".repeat(70)}`)).toMatchObject({ error: { kind: "parse" } });
    expect(compileCel(`"${"a".repeat(16384)}" == ""`)).toMatchObject({ error: { kind: "parse", message: /limit is 16384/ } });
  });
});

describe("the event variable", () => {
  it.each([
    ['event.type == "order.created" && event.source.startsWith("/ord")', true],
    ["event.exint + 1 == 43", true],
    ["event.exbool", true],
    ["event.data.count > 5", true],
    ["event.data.count == 7", true],
    ["event.data.count in [6, 7]", true],
    ["event.data.price < 10", true],
    ["int(event.data.count) + 1 == 8", true],
    ["event.data.count + 1.0 == 8.0", true],
    ['event.data.items.exists(i, i.sku == "b")', true],
    ['event.data.customer.tier == "gold"', true],
    ["has(event.subject)", false],
    ["has(event.data.missing)", false],
  ])("%s is %s", (expression, value) => {
    expect(evaluate(expression)).toEqual({ value, type: "Boolean", error: null });
  });

  it("reports type errors and missing keys as errors, never throws", () => {
    for (const expression of ["event.data.count + 1 == 8", 'event.subject == "x"', "event.data.nope.deeper", "event.exint / 0 == 1"]) {
      const r = evaluate(expression);
      expect(r).toMatchObject({ value: null, type: "Null", error: { kind: "evaluation" } });
    }
    expect(evaluate('event.subject == "x"').error?.message).toBe("No such key: subject at position 6");
  });

  it("has no data unless the data is JSON", () => {
    const text: CloudEvent = { attributes: { ...attributes, datacontenttype: "text/plain" }, data: { kind: "text", text: "hi" } };
    const bytes: CloudEvent = { attributes, data: { kind: "binary", bytes: new Uint8Array([1, 2]) } };
    const jsonBytes: CloudEvent = {
      attributes: { ...attributes, datacontenttype: "application/json" },
      data: { kind: "binary", bytes: new TextEncoder().encode('{"n": 1}') },
    };
    expect(evaluate("has(event.data)", text).value).toBe(false);
    expect(evaluate("has(event.data)", bytes).value).toBe(false);
    expect(evaluate("has(event.data)", { attributes }).value).toBe(false);
    expect(evaluate("event.data.n == 1", jsonBytes).value).toBe(true);
    expect(evaluate("event.data == null", withJson("null")).value).toBe(true);
  });

  it("parses data only for expressions that can read it", () => {
    const broken = withJson("{not json");
    expect(evaluate('event.type == "order.created"', broken)).toEqual({ value: true, type: "Boolean", error: null });
    for (const expression of ["event.data.x == 1", 'event["data"].x == 1', "[event][0].data.x == 1", 'event.exists(k, k == "data")']) {
      expect(evaluate(expression, broken).error?.kind).toBe("evaluation");
    }
    expect(evaluate('event["data"].count == 7').value).toBe(true);
    expect(evaluate('event.exists(k, k == "data")').value).toBe(true);
  });
});

describe("the event view shared by the filters on one event", () => {
  const program = (expression: string) => {
    const compiled = compileCel(expression);
    if ("error" in compiled) throw new Error(compiled.error.message);
    return compiled.program;
  };
  /** An event whose JSON data counts how often it is read, so a test can tell how often it was parsed. */
  const counted = (json: string) => {
    const reads = { count: 0 };
    const event: CloudEvent = {
      attributes: { ...attributes, datacontenttype: "application/json" },
      data: {
        kind: "json",
        get json() {
          reads.count++;
          return json;
        },
      },
    };
    return { event, reads };
  };

  it("reads each event's own fields when one program runs over many events", () => {
    const filter = program('event.exint > 40 && has(event.region) && event.region == "eu"');
    expect(filter.matches({ attributes: { ...attributes, region: "eu" } })).toBe(true);
    expect(filter.matches({ attributes: { ...attributes, exint: 40, region: "eu" } })).toBe(false);
    expect(filter.matches({ attributes })).toBe(false); // no region: has() is false
    expect(filter.matches({ attributes: { ...attributes, region: "eu" } }, {})).toBe(true);
    expect(evaluate("event.exint", { attributes: { ...attributes, exint: 7 } })).toEqual({ value: 7n, type: "Integer", error: null });
  });

  it("sees no field of Object.prototype, and a 0.3 Map extension as a map", () => {
    expect(evaluate("has(event.constructor) || has(event.toString) || has(event.__proto__)")).toEqual({ value: false, type: "Boolean", error: null });
    expect(evaluate("event.constructor").error?.message).toBe("No such key: constructor at position 6");
    const v03: CloudEvent = { attributes: { specversion: "0.3", id: "1", source: "/s", type: "t", labels: { tier: "gold" } } };
    expect(evaluate('event.labels.tier == "gold"', v03).value).toBe(true);
  });

  it("parses data once per event, whichever filters read it", () => {
    const { event, reads } = counted('{"count": 7}');
    const scratch = {};
    expect(program('event.type == "order.created"').matches(event, scratch)).toBe(true);
    expect(reads.count).toBe(0);
    expect(program("event.data.count == 7.0").matches(event, scratch)).toBe(true);
    expect(program("event.data.count > 5 && event.data.count < 8").matches(event, scratch)).toBe(true);
    expect(program('event.exists(k, k == "data") && event.data.count == 7').matches(event, scratch)).toBe(true);
    expect(reads.count).toBe(1);
    const other = counted('{"count": 1}');
    expect(program("event.data.count == 7.0").matches(other.event, {})).toBe(false);
    expect(other.reads.count).toBe(1);
  });

  it("gives the whole map to an expression that uses event whole, after field-only filters on the same event", () => {
    const scratch = {};
    const event = withJson('{"n": 1}');
    expect(program("event.exint == 42").matches(event, scratch)).toBe(true);
    expect(program(`event.size() == ${Object.keys(event.attributes).length + 1} && event.exint == 42 && event.data.n == 1`).matches(event, scratch)).toBe(true);
    expect(program("event.exbool && event.exint == 42").matches(event, scratch)).toBe(true);
  });

  it("fails every filter that reads broken JSON data, not only the first", () => {
    const scratch = {};
    const broken = withJson("{not json");
    expect(program("event.data.x == 1").matches(broken, scratch)).toBe(false);
    expect(program("has(event.data)").matches(broken, scratch)).toBe(false);
    expect(evaluate("has(event.data)", broken).error?.kind).toBe("evaluation");
  });
});

describe("ExpressionReview for CEL", () => {
  it.each([
    ["event.data.count", 7, "Double"],
    ["event.exint * 2", 84, "Integer"],
    ["9223372036854775807", "9223372036854775807", "Integer"],
    ["5u", 5, "UnsignedInteger"],
    ["1.0 / 0.0", "Infinity", "Double"],
    ['b"ab"', "YWI=", "Bytes"],
    ["[1, 2]", [1, 2], "List"],
    ['{"a": [1]}', { a: [1] }, "Map"],
    ["event.data.items[0]", { sku: "a" }, "Map"],
    ['timestamp("2024-01-01T10:00:00+02:00")', "2024-01-01T08:00:00.000Z", "Timestamp"],
    ['duration("1.5s")', "1.5s", "Duration"],
    ["null", null, "Null"],
  ])("%s gives %j (%s)", (expression, value, type) => {
    expect(reviewExpression("cel", expression, EVENT)).toEqual({ value, type, error: null });
  });

  it("reports compile and evaluation errors with their message", () => {
    expect(reviewExpression("cel", "1 +", EVENT)).toEqual({
      value: null,
      type: "Null",
      error: { kind: "parse", message: "Unexpected token: EOF at position 3" },
    });
    expect(reviewExpression("cel", "event.nope", EVENT)).toEqual({
      value: null,
      type: "Null",
      error: { kind: "evaluation", message: "No such key: nope at position 6" },
    });
  });

  it("refuses values nested too deeply to show", () => {
    const deep = withJson(`${"[".repeat(70)}${"]".repeat(70)}`);
    expect(reviewExpression("cel", "event.data", deep).error).toEqual({ kind: "evaluation", message: "value is nested deeper than 64 levels" });
  });
});

describe("matches() on RE2", () => {
  const evil = (input: string, pattern: string): CloudEvent => withJson(JSON.stringify({ input, pattern }));

  it("matches as CEL specifies (RE2 syntax, a match anywhere in the string)", () => {
    expect(evaluate('event.type.matches("^order\\\\.")').value).toBe(true);
    expect(evaluate('event.type.matches("created")').value).toBe(true);
    expect(evaluate('event.type . matches ("^created")').value).toBe(false);
    expect(evaluate('"x.matches(y)" == "x.matches(y)" && event.source.matches("orders$")').value).toBe(true);
    expect(evaluate("event.data.customer.tier.matches(event.data.items[0].sku)").value).toBe(false);
  });

  it("evaluates a catastrophic pattern from the event in linear time", () => {
    const filter = compileCel("event.data.input.matches(event.data.pattern)");
    if ("error" in filter) throw new Error(filter.error.message);
    const started = performance.now();
    // Native backtracking needs minutes for (a+)+$ against 40 a's and a b; RE2 answers at once.
    for (const [input, pattern] of [
      [`${"a".repeat(40)}b`, "(a+)+$"],
      [`${"x".repeat(5000)}!`, "(x|x|xx)*y"],
      [`${"a".repeat(100_000)}`, "(a*)*b"],
    ]) {
      expect(filter.program.matches(evil(input, pattern))).toBe(false);
    }
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it("reports an invalid pattern as an evaluation error; the filter does not match", () => {
    const bad = evaluate("event.data.input.matches(event.data.pattern)", evil("a", "("));
    expect(bad.error).toMatchObject({ kind: "evaluation" });
    expect(bad.error?.message).toMatch(/invalid regular expression/);
    // A lookahead is JavaScript syntax, not RE2's: refused, where a native RegExp would have matched.
    const lookahead = evaluate('event.type.matches("^(?=order)")');
    expect(lookahead.error?.message).toMatch(/invalid regular expression/);
  });
});
