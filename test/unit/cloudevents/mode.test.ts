import { describe, expect, it } from "vitest";
import { REQUIRED, binary, enc, expectRefused, post } from "./helpers.ts";

const event = JSON.stringify(REQUIRED);
const ceHeaders = Object.fromEntries(Object.entries(REQUIRED).map(([k, v]) => [`ce-${k}`, v]));

describe("content mode from Content-Type", () => {
  it.each([
    ["application/cloudevents+json", "structured", event],
    ["Application/CloudEvents+JSON; charset=utf-8", "structured", event],
    ["application/cloudevents-batch+json", "batch", `[${event}]`],
    ["APPLICATION/CLOUDEVENTS-BATCH+JSON ; charset=UTF-8", "batch", `[${event}]`],
  ])("%s is %s", (contentType, mode, body) => {
    const result = post({ "content-type": contentType }, body);
    expect(result).toMatchObject({ mode, events: [{ attributes: REQUIRED }] });
  });

  it.each(["application/json", "text/plain", "application/cloudevents", "application/octet-stream"])(
    "%s is binary (the header decides, not the body)",
    (contentType) => {
      const result = post({ ...ceHeaders, "content-type": contentType }, event);
      expect(result).toMatchObject({ mode: "binary", events: [{ attributes: { ...REQUIRED, datacontenttype: contentType } }] });
    },
  );

  it("no Content-Type is binary with opaque bytes", () => {
    expect(post(ceHeaders, "x")).toMatchObject({ mode: "binary", events: [{ data: { kind: "binary", bytes: enc.encode("x") } }] });
  });

  it.each(["application/cloudevents+avro", "application/cloudevents+xml; charset=utf-8", "application/cloudevents-batch+protobuf"])(
    "refuses the unsupported format %s with 415",
    (contentType) => {
      const error = expectRefused(post({ ...ceHeaders, "content-type": contentType }, event), 415);
      expect(error.error).toContain(contentType.split(";")[0]);
    },
  );

  it("refuses binary mode without ce-specversion", () => {
    const { "ce-specversion": _, ...rest } = ceHeaders;
    expectRefused(post(rest, "x"), 400, "specversion");
  });

  it("ignores ce-* headers beside a structured body: the payload is authoritative", () => {
    const result = post({ ...ceHeaders, "ce-id": "from-header", "ce-extra": "x", "content-type": "application/cloudevents+json" }, event);
    expect(result).toMatchObject({ mode: "structured", events: [{ attributes: REQUIRED }] });
    if ("status" in result) throw new Error("refused");
    expect(result.events[0].attributes).not.toHaveProperty("extra");
  });

  it("refuses a structured body that is not UTF-8", () => {
    expectRefused(post({ "content-type": "application/cloudevents+json" }, new Uint8Array([0x7b, 0xff, 0x7d])), 400);
  });

  it("decodes binary mode through the same entry point", () => {
    expect(binary({ "ce-subject": "s" })).toMatchObject({ mode: "binary", events: [{ attributes: { ...REQUIRED, subject: "s" } }] });
  });
});
