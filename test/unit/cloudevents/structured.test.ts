import { describe, expect, it } from "vitest";
import { MAX_JSON_DEPTH } from "../../../shared/cloudevents/json-scan.ts";
import { dataAsJson, decodeStructured, encodeStructured } from "../../../shared/cloudevents/index.ts";
import type { CloudEvent } from "../../../shared/cloudevents/index.ts";
import { REQUIRED, binary, enc, expectRefused, only, structured } from "./helpers.ts";

/** REQUIRED's members as JSON text, to splice more members after. */
const head = JSON.stringify(REQUIRED).slice(0, -1);
const withMembers = (members: string) => `${head},${members}}`;

describe("structured mode: attributes", () => {
  it("keeps each attribute's JSON type and the members' order", () => {
    const event = only(structured(withMembers('"count":-2147483648,"flag":true,"ext":"x","max":2147483647')));
    expect(event.attributes).toEqual({ ...REQUIRED, count: -2147483648, flag: true, ext: "x", max: 2147483647 });
    expect(Object.keys(event.attributes)).toEqual([...Object.keys(REQUIRED), "count", "flag", "ext", "max"]);
  });

  it("decodes JSON string escapes", () => {
    expect(only(structured(withMembers('"ext":"caf\\u00e9 \\"q\\" \\/"'))).attributes.ext).toBe('café "q" /');
  });

  it("reads an optional attribute set to null as absent", () => {
    expect(only(structured(withMembers('"subject":null,"ext":null'))).attributes).toEqual(REQUIRED);
  });

  it.each([
    ["a float", '"ext":1.5'],
    ["an integer written as a float", '"ext":1.0'],
    ["an exponent", '"ext":1e2'],
    ["an integer above int32", '"ext":2147483648'],
    ["an integer below int32", '"ext":-2147483649'],
    ["an object", '"ext":{"a":1}'],
    ["an array", '"ext":["a"]'],
    ["a control character", '"ext":"a\\u0007"'],
    ["a lone surrogate", '"ext":"\\ud800"'],
    ["a noncharacter", '"ext":"\\uffff"'],
    ["a duplicate", '"ext":"a","ext":"b"'],
  ])("refuses %s, naming the attribute", (_, member) => {
    expectRefused(structured(withMembers(member)), 400, "ext");
  });

  it.each(["Ext", "my-ext", "my_ext", ""])("refuses the attribute name %j", (name) => {
    expectRefused(structured(withMembers(`${JSON.stringify(name)}:"v"`)), 400, name);
  });

  it("accepts names longer than 20 characters", () => {
    const name = "a".repeat(64);
    expect(only(structured({ ...REQUIRED, [name]: "v" })).attributes[name]).toBe("v");
  });

  it("refuses a duplicate data member", () => {
    expectRefused(structured(withMembers('"data":1,"data":2')), 400, "data");
  });

  it.each(["[]", '"event"', "42"])("refuses the non-object body %s", (body) => {
    expectRefused(structured(body), 400);
  });
});

describe("structured mode: data", () => {
  it("keeps data as its exact text", () => {
    expect(only(structured(withMembers('"data": {"a": 1.0, "b" : [1e2, "\\u00e9"]} '))).data).toEqual({
      kind: "json",
      json: '{"a": 1.0, "b" : [1e2, "\\u00e9"]}',
    });
  });

  it.each(["0", "false", "null", '""', "[]"])("keeps data %s", (json) => {
    expect(only(structured(withMembers(`"data":${json}`))).data).toEqual({ kind: "json", json });
  });

  it.each(["application/json", "application/json; charset=utf-8", "application/cloudevents+json", "TEXT/JSON"])(
    "keeps a string under %s as JSON text (not parsed a second time)",
    (contentType) => {
      const event = only(structured({ ...REQUIRED, datacontenttype: contentType, data: '{"a":1}' }));
      expect(event.data).toEqual({ kind: "json", json: JSON.stringify('{"a":1}') });
    },
  );

  it("reads a string under a non-JSON media type as text", () => {
    const event = only(structured({ ...REQUIRED, datacontenttype: "text/xml", data: '<much wow="xml"/>' }));
    expect(event.data).toEqual({ kind: "text", text: '<much wow="xml"/>' });
  });

  it("keeps non-string data under a non-JSON media type as JSON", () => {
    const event = only(structured(withMembers('"datacontenttype":"text/plain","data":{"a":1}')));
    expect(event.data).toEqual({ kind: "json", json: '{"a":1}' });
  });

  it("decodes data_base64 to bytes", () => {
    const event = only(structured({ ...REQUIRED, datacontenttype: "image/png", data_base64: "AAEC/w==" }));
    expect(event.data).toEqual({ kind: "binary", bytes: new Uint8Array([0, 1, 2, 255]) });
  });

  it.each([
    ["", 0],
    ["Zg==", 1],
    ["Zm8=", 2],
    ["Zm9v", 3],
  ])("decodes data_base64 %j to %i bytes", (text, length) => {
    const event = only(structured({ ...REQUIRED, data_base64: text }));
    expect(event.data).toEqual({ kind: "binary", bytes: enc.encode("foo".slice(0, length)) });
  });

  it("reads data_base64: null as no data", () => {
    expect(only(structured({ ...REQUIRED, data_base64: null }))).not.toHaveProperty("data");
  });

  it.each(["Zm9", "Zm9v!", "Z=9v", "Zm9v====", "Zm 9v", "Zm9v_-=="])("refuses the invalid data_base64 %j", (text) => {
    expectRefused(structured({ ...REQUIRED, data_base64: text }), 400, "data_base64");
  });

  it("refuses a non-string data_base64", () => {
    expectRefused(structured({ ...REQUIRED, data_base64: 12 }), 400, "data_base64");
  });

  it.each([
    ['"data":{}', '"data_base64":"AA=="'],
    ['"data":null', '"data_base64":"AA=="'],
  ])("refuses %s beside %s", (a, b) => {
    expectRefused(structured(withMembers(`${a},${b}`)), 400, "data_base64");
  });

  it("0.3 datacontentencoding base64: data is the decoded bytes, written back in 0.3's form", () => {
    const event = only(
      structured({ ...REQUIRED, specversion: "0.3", datacontentencoding: "base64", datacontenttype: "application/json", data: "eyJhIjoxfQ==" }),
    );
    expect(event.data).toEqual({ kind: "binary", bytes: enc.encode('{"a":1}') });
    // 0.3 has no data_base64: the bytes go back as base64 text in `data`, with the encoding attribute.
    expect(JSON.parse(encodeStructured(event))).toEqual({
      ...REQUIRED,
      specversion: "0.3",
      datacontentencoding: "base64",
      datacontenttype: "application/json",
      data: "eyJhIjoxfQ==",
    });
    expect(decodeStructured(encodeStructured(event))).toEqual(event);
  });

  it.each([
    ["non-string", 5],
    ["non-base64", "not base64!"],
  ])("0.3 datacontentencoding base64 refuses %s data", (_, data) => {
    expectRefused(structured({ ...REQUIRED, specversion: "0.3", datacontentencoding: "base64", data }), 400, "data");
  });
});

describe("invalid JSON", () => {
  /** Each case: members after REQUIRED's, and the text at which the error is (null: the closing brace). */
  it.each([
    ["a missing comma", '"a":1 "b":2', '"b"'],
    ["a trailing comma", '"a":1,', null],
    ["a bad literal", '"data":tru', "tru"],
    ["a raw newline in a string", '"a":"x\ny"', "\n"],
    ["a bad escape", '"a":"\\x"', "\\x"],
    ["a leading zero", '"data":01', "1"],
    ["a lone minus", '"data":-', null],
  ])("refuses %s, saying where", (_, members, at) => {
    const body = withMembers(members);
    const error = expectRefused(structured(body), 400, undefined);
    expect(error.error).toContain(`position ${head.length + 1 + (at === null ? members.length : members.indexOf(at))}`);
  });

  it.each([
    ["a truncated body", '{"specversion":"1.0"', 20],
    ["trailing text", '{"id":"1"} x', 11],
    ["an empty body", "", 0],
    ["whitespace only", "  ", 2],
  ])("refuses %s, saying where", (_, body, position) => {
    const error = expectRefused(structured(body), 400, undefined);
    expect(error.error).toContain(`position ${position}`);
  });

  it(`refuses data nested deeper than ${MAX_JSON_DEPTH} levels without exhausting the stack`, () => {
    const deep = (n: number) => withMembers(`"data":${"[".repeat(n)}${"]".repeat(n)}`);
    expect(only(structured(deep(MAX_JSON_DEPTH))).data?.kind).toBe("json");
    expectRefused(structured(deep(MAX_JSON_DEPTH + 1)), 400);
    expectRefused(structured(deep(100_000)), 400);
  });
});

describe("encodeStructured", () => {
  it("writes attributes in order, then data as it came", () => {
    const event: CloudEvent = { attributes: { ...REQUIRED, n: 7, b: false }, data: { kind: "json", json: '{"a": 1.0}' } };
    expect(encodeStructured(event)).toBe(`${head},"n":7,"b":false,"data":{"a": 1.0}}`);
  });

  it("writes text as a JSON string and bytes as data_base64", () => {
    expect(encodeStructured({ attributes: REQUIRED, data: { kind: "text", text: 'a"b' } })).toBe(`${head},"data":"a\\"b"}`);
    expect(encodeStructured({ attributes: REQUIRED, data: { kind: "binary", bytes: new Uint8Array([0, 1, 2, 255]) } })).toBe(
      `${head},"data_base64":"AAEC/w=="}`,
    );
  });

  it.each([
    ["json", withMembers('"x":1,"data": [0, {"a": 1.0}]')],
    ["null data", withMembers('"data":null')],
    ["text", withMembers('"datacontenttype":"text/plain","data":"h\\u00e9llo\\n"')],
    ["bytes", withMembers('"data_base64":"AAECAwQFBgcICQ=="')],
    ["no data", withMembers('"subject":"s"')],
  ])("round-trips through decodeStructured (%s)", (_, body) => {
    const event = decodeStructured(body) as CloudEvent;
    expect(event).toHaveProperty("attributes");
    expect(decodeStructured(encodeStructured(event))).toEqual(event);
  });
});

describe("dataAsJson", () => {
  it.each([
    ["JSON data", withMembers('"data":{"a":[1,2]}'), { a: [1, 2] }],
    ["null data", withMembers('"data":null'), null],
    ["a JSON string", withMembers('"data":"s"'), "s"],
    ["data_base64 under a JSON media type", JSON.stringify({ ...REQUIRED, datacontenttype: "application/json", data_base64: "eyJhIjoxfQ==" }), { a: 1 }],
    ["text", JSON.stringify({ ...REQUIRED, datacontenttype: "text/plain", data: "{}" }), undefined],
    ["bytes of another type", JSON.stringify({ ...REQUIRED, data_base64: "eyJhIjoxfQ==" }), undefined],
    ["no data", JSON.stringify(REQUIRED), undefined],
  ])("%s", (_, body, expected) => {
    expect(dataAsJson(only(structured(body)))).toEqual(expected);
  });
});

describe("CloudEvents 0.3 Map attributes", () => {
  const v03 = { ...REQUIRED, specversion: "0.3" };

  it("accepts a map of primitive values as an extension and keeps it through the format", () => {
    const event = only(structured({ ...v03, labels: { tier: "gold", retries: 3, beta: true } }));
    expect(event.attributes.labels).toEqual({ tier: "gold", retries: 3, beta: true });
    expect(decodeStructured(encodeStructured(event))).toEqual(event);
  });

  it("accepts keys with capitals, as 0.3's own example has them (comexampleextension2: {otherValue: 5})", () => {
    const event = only(structured({ ...v03, comexampleextension2: { otherValue: 5 } }));
    expect(event.attributes.comexampleextension2).toEqual({ otherValue: 5 });
    expect(decodeStructured(encodeStructured(event))).toEqual(event);
  });

  it("in binary mode a key arrives lower-cased: header names are case-insensitive", () => {
    const event = only(binary({ "ce-specversion": "0.3", "ce-comexampleextension2-otherValue": "5" }));
    expect(event.attributes.comexampleextension2).toEqual({ othervalue: "5" });
  });

  it.each([
    ["in a 1.0 event", { ...REQUIRED, labels: { tier: "gold" } }, "labels"],
    ["as a core attribute", { ...v03, subject: { a: "b" } }, "subject"],
    ["with a nested value", { ...v03, labels: { deep: { x: 1 } } }, "labels.deep"],
    ["with a key that cannot be a header", { ...v03, labels: { "Bad-Key": "x" } }, "labels.Bad-Key"],
  ])("refuses a map %s, naming the field", (_, body, field) => {
    expectRefused(structured(body), 400, field);
  });
});
