import { describe, expect, it } from "vitest";
import { validateEvent } from "../../../shared/cloudevents/index.ts";
import type { AttributeValue } from "../../../shared/cloudevents/index.ts";
import { ATTRIBUTE_LIMITS } from "../../../shared/cloudevents/limits.ts";
import { REQUIRED, expectRefused } from "./helpers.ts";

const check = (attributes: Record<string, AttributeValue>) => validateEvent({ attributes });
const V03 = { ...REQUIRED, specversion: "0.3" };

describe("validateEvent", () => {
  it("accepts the required attributes of 1.0 and 0.3", () => {
    expect(check(REQUIRED)).toBeNull();
    expect(check(V03)).toBeNull();
  });

  it.each(["1", "1.1", "0.2", "", " 1.0"])("refuses specversion %j", (specversion) => {
    expectRefused(check({ ...REQUIRED, specversion }), 400, "specversion");
  });

  it("refuses a numeric specversion", () => {
    expectRefused(check({ ...REQUIRED, specversion: 1 }), 400, "specversion");
  });

  it.each(["id", "source", "type", "specversion"])("refuses an event without %s", (name) => {
    const attributes: Record<string, AttributeValue> = { ...REQUIRED };
    delete attributes[name];
    expectRefused(check(attributes), 400, name);
  });

  it.each([
    ["time", "2018-04-05T17:31:00Z"],
    ["time", "2018-04-05t17:31:00.123456789+05:30"],
    ["time", "2016-12-31T23:59:60Z"],
    ["time", "2024-02-29T00:00:00-00:00"],
    ["time", "2000-02-29T00:00:00Z"],
    ["source", "https://github.com/cloudevents"],
    ["source", "urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66"],
    ["source", "1-555-123-4567"],
    ["source", "/a%20b?q=1#f"],
    ["dataschema", "https://example.com/schema.json"],
    ["dataschema", "urn:example:schema"],
    ["datacontenttype", "application/json"],
    ["datacontenttype", 'text/plain; charset="utf-8"'],
    ["datacontenttype", "multipart/form-data; boundary=x;"],
    ["subject", "mynewfile.jpg"],
    ["ext", "\u00e9\u{1F30E}"],
    ["ext", ""],
    ["ext", 0],
    ["ext", true],
    ["ext", 2147483647],
    ["ext", -2147483648],
    ["a1234567890123456789012345", "long names are allowed"],
  ])("accepts %s = %j", (name, value) => {
    expect(check({ ...REQUIRED, [name]: value })).toBeNull();
  });

  it.each([
    ["id", ""],
    ["type", ""],
    ["subject", ""],
    ["source", ""],
    ["source", "a b"],
    ["source", "1:2"],
    ["source", "%zz"],
    ["time", "2018-04-05T17:31:00"],
    ["time", "2018-04-05 17:31:00Z"],
    ["time", "2018-13-05T17:31:00Z"],
    ["time", "2023-02-29T00:00:00Z"],
    ["time", "1900-02-29T00:00:00Z"],
    ["time", "2018-04-31T00:00:00Z"],
    ["time", "2018-04-05T24:00:00Z"],
    ["time", "2018-04-05T17:60:00Z"],
    ["time", "2018-04-05T17:31:61Z"],
    ["time", "2018-04-00T17:31:00Z"],
    ["time", "2018-04-05T17:31:00.Z"],
    ["time", "2018-04-05T17:31:00+24:00"],
    ["time", "yesterday"],
    ["dataschema", "/relative"],
    ["dataschema", ""],
    ["dataschema", "http://a b"],
    ["datacontenttype", "json"],
    ["datacontenttype", "application/json;charset"],
    ["datacontenttype", ""],
    ["ext", 1.5],
    ["ext", 2147483648],
    ["ext", -2147483649],
    ["ext", Number.NaN],
    ["ext", "tab\there"],
    ["ext", "del\u007f"],
    ["ext", "c1\u0085"],
    ["ext", "\ud800"],
    ["ext", "\udc00x"],
    ["ext", "\ufdd0"],
    ["ext", "\u{10FFFF}"],
    ["id", 5],
    ["subject", false],
    ["time", 0],
  ])("refuses %s = %j", (name, value) => {
    expectRefused(check({ ...REQUIRED, [name]: value }), 400, name);
  });

  it.each(["Ext", "my-ext", "my_ext", "ünï", "data", ""])("refuses the attribute name %j", (name) => {
    expectRefused(check({ ...REQUIRED, [name]: "v" }), 400, name);
  });

  it("0.3: schemaurl is a URI-reference, dataschema is only an extension", () => {
    expect(check({ ...V03, schemaurl: "/schema.json", dataschema: "not checked" })).toBeNull();
    expectRefused(check({ ...V03, schemaurl: "" }), 400, "schemaurl");
    expectRefused(check({ ...V03, schemaurl: "a b" }), 400, "schemaurl");
  });

  it("0.3: datacontentencoding is a non-empty string; in 1.0 it is an extension", () => {
    expect(check({ ...V03, datacontentencoding: "base64" })).toBeNull();
    expectRefused(check({ ...V03, datacontentencoding: "" }), 400, "datacontentencoding");
    expect(check({ ...REQUIRED, datacontentencoding: "" })).toBeNull();
  });

  it("says which character is forbidden", () => {
    expect(check({ ...REQUIRED, ext: "a\u0007" })?.error).toContain("U+0007");
  });
});

describe("attribute size limits (docs/SECURITY.md)", () => {
  const { valueBytesOf, valueBytes, nameChars, count, totalBytes } = ATTRIBUTE_LIMITS;

  it.each(Object.entries(valueBytesOf))("%s: at most %i bytes", (name, limit) => {
    const at =
      name === "source" || name === "dataschema" || name === "schemaurl"
        ? `urn:${"a".repeat(limit - 4)}`
        : name === "datacontenttype"
          ? `text/${"a".repeat(limit - 5)}`
          : "a".repeat(limit);
    const attrs = name === "schemaurl" ? V03 : REQUIRED;
    expect(check({ ...attrs, [name]: at })).toBeNull();
    expectRefused(check({ ...attrs, [name]: `${at}a` }), 400, name);
  });

  it("counts UTF-8 bytes, not characters", () => {
    expect(check({ ...REQUIRED, id: "\u00e9".repeat(valueBytesOf.id / 2) })).toBeNull();
    expectRefused(check({ ...REQUIRED, id: `${"\u00e9".repeat(valueBytesOf.id / 2)}a` }), 400, "id");
    expectRefused(check({ ...REQUIRED, id: "\u{1F30E}".repeat(valueBytesOf.id / 4 + 1) }), 400, "id");
  });

  it("refuses a 1 MB id without quoting it back", () => {
    const refused = expectRefused(check({ ...REQUIRED, id: "x".repeat(1024 * 1024) }), 400, "id");
    expect(refused.error.length).toBeLessThan(200);
  });

  it("extensions: values up to the general limit, names up to their own", () => {
    expect(check({ ...REQUIRED, ext: "a".repeat(valueBytes) })).toBeNull();
    expectRefused(check({ ...REQUIRED, ext: "a".repeat(valueBytes + 1) }), 400, "ext");
    expect(check({ ...REQUIRED, ["a".repeat(nameChars)]: 1 })).toBeNull();
    const long = "a".repeat(10_000);
    const refused = expectRefused(check({ ...REQUIRED, [long]: 1 }), 400, `${"a".repeat(64)}...`);
    expect(refused.error.length).toBeLessThan(200);
  });

  it("refuses more attributes than allowed, and more bytes of them together", () => {
    const many = Object.fromEntries(Array.from({ length: count - 4 }, (_, i) => [`x${i}`, 1]));
    expect(check({ ...REQUIRED, ...many })).toBeNull();
    expectRefused(check({ ...REQUIRED, ...many, one: 1 }), 400, "one");
    const big = Object.fromEntries(Array.from({ length: Math.ceil(totalBytes / valueBytes) }, (_, i) => [`x${i}`, "a".repeat(valueBytes - 10)]));
    const last = Object.keys(big).at(-1);
    expectRefused(check({ ...REQUIRED, ...big }), 400, last);
  });

  it("counts the total exactly: ASCII values within it pass however many bytes they could have taken", () => {
    const many = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`x${i}`, "a".repeat(1_000)]));
    expect(check({ ...REQUIRED, ...many })).toBeNull();
    const wide = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`x${i}`, "\u20ac".repeat(600)]));
    expectRefused(check({ ...REQUIRED, ...wide }), 400, "x18"); // 1,800 bytes each: x0 to x17 fit in 32 KiB
  });

  it("0.3 map entries count one each and are sized like extensions", () => {
    expectRefused(check({ ...V03, labels: { tier: "a".repeat(valueBytes + 1) } }), 400, "labels.tier");
    const entries = Object.fromEntries(Array.from({ length: count - 3 }, (_, i) => [`k${i}`, 1]));
    expectRefused(check({ ...V03, labels: entries }), 400, "labels");
  });

  it("does not apply to what the router reads back from its own storage", () => {
    expect(validateEvent({ attributes: { ...REQUIRED, id: "x".repeat(100_000) } }, false)).toBeNull();
  });
});
