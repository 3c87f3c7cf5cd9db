import { describe, expect, it } from "vitest";
import { validateEvent } from "../../../shared/cloudevents/index.ts";
import type { AttributeValue } from "../../../shared/cloudevents/index.ts";
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
    ["time", "2018-04-05T17:31:00Z"], ["time", "2018-04-05t17:31:00.123456789+05:30"], ["time", "2016-12-31T23:59:60Z"],
    ["time", "2024-02-29T00:00:00-00:00"], ["time", "2000-02-29T00:00:00Z"],
    ["source", "https://github.com/cloudevents"], ["source", "urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66"],
    ["source", "1-555-123-4567"], ["source", "/a%20b?q=1#f"],
    ["dataschema", "https://example.com/schema.json"], ["dataschema", "urn:example:schema"],
    ["datacontenttype", "application/json"], ["datacontenttype", 'text/plain; charset="utf-8"'],
    ["datacontenttype", "multipart/form-data; boundary=x;"],
    ["subject", "mynewfile.jpg"], ["ext", "\u00e9\u{1F30E}"], ["ext", ""], ["ext", 0], ["ext", true],
    ["ext", 2147483647], ["ext", -2147483648], ["a1234567890123456789012345", "long names are allowed"],
  ])("accepts %s = %j", (name, value) => {
    expect(check({ ...REQUIRED, [name]: value })).toBeNull();
  });

  it.each([
    ["id", ""], ["type", ""], ["subject", ""], ["source", ""], ["source", "a b"], ["source", "1:2"], ["source", "%zz"],
    ["time", "2018-04-05T17:31:00"], ["time", "2018-04-05 17:31:00Z"], ["time", "2018-13-05T17:31:00Z"],
    ["time", "2023-02-29T00:00:00Z"], ["time", "1900-02-29T00:00:00Z"], ["time", "2018-04-31T00:00:00Z"],
    ["time", "2018-04-05T24:00:00Z"], ["time", "2018-04-05T17:60:00Z"], ["time", "2018-04-05T17:31:61Z"],
    ["time", "2018-04-00T17:31:00Z"], ["time", "2018-04-05T17:31:00.Z"], ["time", "2018-04-05T17:31:00+24:00"], ["time", "yesterday"],
    ["dataschema", "/relative"], ["dataschema", ""], ["dataschema", "http://a b"],
    ["datacontenttype", "json"], ["datacontenttype", "application/json;charset"], ["datacontenttype", ""],
    ["ext", 1.5], ["ext", 2147483648], ["ext", -2147483649], ["ext", Number.NaN],
    ["ext", "tab\there"], ["ext", "del\u007f"], ["ext", "c1\u0085"], ["ext", "\ud800"], ["ext", "\udc00x"],
    ["ext", "\ufdd0"], ["ext", "\u{10FFFF}"], ["id", 5], ["subject", false], ["time", 0],
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
