import { describe, expect, it } from "vitest";
import { decodeHttp, encodeBinary } from "../../../shared/cloudevents/index.ts";
import type { CloudEvent } from "../../../shared/cloudevents/index.ts";
import { LIMITS, REQUIRED, binary, dec, enc, expectRefused, only } from "./helpers.ts";

describe("binary mode: header values (HTTP binding §3.1.3.2)", () => {
  it.each([
    ["plain", "abc-123", "abc-123"],
    ["percent-encoded space, quote and percent", "a%20%22b%22%25", 'a "b"%'],
    ["lower-case hex", "%c3%a9t%c3%a9", "été"],
    ["needlessly encoded ASCII", "%61%62", "ab"],
    ["UTF-8 sequences", "%F0%9F%8C%8E", "🌎"],
    ["decoded exactly once", "%2541", "%41"],
    ["an RFC 7230 quoted-string", '"hello world"', "hello world"],
    ["a quoted-string with backslash escapes", '"a \\"b\\" \\\\c"', 'a "b" \\c'],
    ["a quoted-string holding percent-encoding", '"%C3%A9"', "é"],
    ["an unencoded space from a lenient sender", "hello world", "hello world"],
  ])("%s", (_, raw, value) => {
    expect(only(binary({ "ce-ext": raw })).attributes.ext).toBe(value);
  });

  it.each([
    ["overlong UTF-8", "%C0%A0"],
    ["a lone continuation byte", "%80"],
    ["a truncated sequence", "%E2%82"],
    ["a bad percent escape", "100%"],
    ["a non-hex percent escape", "%zz"],
    ["a decoded control character", "a%0Ab"],
    ["a decoded NUL", "%00"],
    ["a decoded C1 control", "%C2%85"],
    ["a quoted-string with an inner quote", '"a"b"'],
  ])("refuses %s, naming the attribute", (_, raw) => {
    expectRefused(binary({ "ce-ext": raw }), 400, "ext");
  });

  it("reads header names case-insensitively", () => {
    expect(only(binary({ "CE-MyExt": "v" })).attributes.myext).toBe("v");
  });

  it.each(["my-extension", "my_ext", "data"])("refuses the attribute name in ce-%s", (name) => {
    expectRefused(binary({ [`ce-${name}`]: "v" }), 400, name);
  });

  it("refuses ce-datacontenttype", () => {
    expectRefused(binary({ "ce-datacontenttype": "application/json" }), 400, "datacontenttype");
  });

  it("keeps every attribute a string, typed or not", () => {
    expect(only(binary({ "ce-count": "42", "ce-flag": "true" })).attributes).toEqual({ ...REQUIRED, count: "42", flag: "true" });
  });

  it("validates the attributes (time)", () => {
    expectRefused(binary({ "ce-time": "yesterday" }), 400, "time");
  });

  it("refuses an invalid Content-Type as datacontenttype", () => {
    expectRefused(binary({ "content-type": "not a media type" }, "x"), 400, "datacontenttype");
  });
});

describe("binary mode: body", () => {
  it("an empty body is no data", () => {
    expect(only(binary({ "content-type": "application/json" }))).not.toHaveProperty("data");
  });

  it.each(["application/json", "application/json; charset=utf-8", "text/json", "application/vnd.api+json", "Application/JSON"])(
    "a %s body that parses is JSON, kept as its exact text",
    (contentType) => {
      const body = ' {"a": 1.0, "b": [ 1e2 ]}\n';
      expect(only(binary({ "content-type": contentType }, body)).data).toEqual({ kind: "json", json: body });
    },
  );

  it.each([["0"], ["false"], ["null"], ['""']])("keeps the JSON body %s", (body) => {
    expect(only(binary({ "content-type": "application/json" }, body)).data).toEqual({ kind: "json", json: body });
  });

  it("a JSON media type whose body does not parse is bytes", () => {
    expect(only(binary({ "content-type": "application/json" }, "{nope")).data).toEqual({ kind: "binary", bytes: enc.encode("{nope") });
  });

  it("a JSON body with a byte order mark stays bytes, exactly", () => {
    const body = new Uint8Array([0xef, 0xbb, 0xbf, 0x7b, 0x7d]);
    expect(only(binary({ "content-type": "application/json" }, body)).data).toEqual({ kind: "binary", bytes: body });
  });

  it("other media types are bytes, exactly", () => {
    const body = new Uint8Array([0, 1, 2, 255]);
    expect(only(binary({ "content-type": "application/octet-stream" }, body)).data).toEqual({ kind: "binary", bytes: body });
  });
});

describe("encodeBinary", () => {
  const event: CloudEvent = {
    attributes: { ...REQUIRED, subject: 'a "b" 100% é\u00a0🌎', count: 42, flag: false, datacontenttype: "text/plain; charset=utf-8" },
    data: { kind: "text", text: "héllo" },
  };

  it("puts attributes in percent-encoded ce-* headers and datacontenttype in Content-Type", () => {
    const { headers, body } = encodeBinary(event);
    expect(Object.fromEntries(headers)).toEqual({
      "ce-specversion": "1.0",
      "ce-id": REQUIRED.id,
      "ce-source": REQUIRED.source,
      "ce-type": REQUIRED.type,
      "ce-subject": "a%20%22b%22%20100%25%20%C3%A9%C2%A0%F0%9F%8C%8E",
      "ce-count": "42",
      "ce-flag": "false",
      "content-type": "text/plain; charset=utf-8",
    });
    expect(dec.decode(body!)).toBe("héllo");
  });

  it("round-trips through decodeHttp (attributes as strings, same bytes)", () => {
    const { headers, body } = encodeBinary(event);
    const back = only(decodeHttp(headers, body!, LIMITS));
    expect(back.attributes).toEqual({ ...event.attributes, count: "42", flag: "false" });
    expect(back.data).toEqual({ kind: "binary", bytes: enc.encode("héllo") });
  });

  it("sends JSON data as application/json when there is no datacontenttype", () => {
    const { headers, body } = encodeBinary({ attributes: REQUIRED, data: { kind: "json", json: '{"a": 1.0}' } });
    expect(headers.get("content-type")).toBe("application/json");
    expect(dec.decode(body!)).toBe('{"a": 1.0}');
  });

  it("sends bytes as they are, without a Content-Type when none is known", () => {
    const bytes = new Uint8Array([1, 2, 3]);
    const { headers, body } = encodeBinary({ attributes: REQUIRED, data: { kind: "binary", bytes } });
    expect(headers.has("content-type")).toBe(false);
    expect(body).toEqual(bytes);
  });

  it("has no body without data", () => {
    expect(encodeBinary({ attributes: REQUIRED }).body).toBeNull();
  });
});

describe("binary mode: CloudEvents 0.3", () => {
  const v03 = { "ce-specversion": "0.3", "ce-id": "1", "ce-source": "/s", "ce-type": "t" };

  it("sends a base64-encoded structured 0.3 event's data as the decoded bytes, without datacontentencoding", () => {
    const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47]);
    const event = only(
      decodeHttp(
        new Headers({ "content-type": "application/cloudevents+json" }),
        enc.encode(
          JSON.stringify({
            specversion: "0.3",
            id: "1",
            source: "/s",
            type: "t",
            datacontenttype: "image/png",
            datacontentencoding: "Base64",
            data: "iVBORw==",
          }),
        ),
        LIMITS,
      ),
    );
    const { headers, body } = encodeBinary(event);
    expect(body).toEqual(png);
    expect(headers.get("ce-datacontentencoding")).toBeNull();
    expect(headers.get("content-type")).toBe("image/png");
    // And back: the binary request's bytes are the same event.
    expect(only(binary(Object.fromEntries(headers), png))).toEqual(event);
  });

  it("writes a Map attribute as one ce-{name}-{key} header per entry and reads it back", () => {
    const event: CloudEvent = { attributes: { specversion: "0.3", id: "1", source: "/s", type: "t", labels: { tier: "gold", region: "eu west" } } };
    const { headers } = encodeBinary(event);
    expect(headers.get("ce-labels-tier")).toBe("gold");
    expect(headers.get("ce-labels-region")).toBe("eu%20west");
    expect(headers.has("ce-labels")).toBe(false);
    const back = only(binary(Object.fromEntries(headers)));
    expect(back.attributes.labels).toEqual({ tier: "gold", region: "eu west" });
  });

  it("refuses a dashed header in 1.0, and a 0.3 attribute given both plain and as a map", () => {
    expectRefused(binary({ ...v03, "ce-specversion": "1.0", "ce-labels-tier": "gold" }), 400, "labels-tier");
    expectRefused(binary({ ...v03, "ce-labels": "x", "ce-labels-tier": "gold" }), 400, "labels");
  });
});
