import { describe, expect, it } from "vitest";
import { decodeHttp } from "../../../shared/cloudevents/index.ts";
import { REQUIRED, enc, expectRefused, post } from "./helpers.ts";

const batch = (events: unknown[] | string, maxBatchEvents = 10) =>
  decodeHttp(new Headers({ "content-type": "application/cloudevents-batch+json" }), enc.encode(typeof events === "string" ? events : JSON.stringify(events)), {
    maxBatchEvents,
  });
const ev = (id: string, extra: Record<string, unknown> = {}) => ({ ...REQUIRED, id, ...extra });

describe("batch mode", () => {
  it("decodes every event in order, each with its own data", () => {
    const result = batch(`[ ${JSON.stringify(ev("1"))} , {"specversion":"1.0","id":"2","source":"/s","type":"t","data": 1.0}]`);
    expect(result).toEqual({
      mode: "batch",
      events: [{ attributes: ev("1") }, { attributes: { specversion: "1.0", id: "2", source: "/s", type: "t" }, data: { kind: "json", json: "1.0" } }],
    });
  });

  it.each(["[]", " [ ] "])("accepts the empty batch %j", (body) => {
    expect(batch(body)).toEqual({ mode: "batch", events: [] });
  });

  it("lets datacontenttype differ between events", () => {
    const result = batch([ev("1", { datacontenttype: "text/plain", data: "x" }), ev("2", { data: { a: 1 } })]);
    expect(result).toMatchObject({ events: [{ data: { kind: "text", text: "x" } }, { data: { kind: "json", json: '{"a":1}' } }] });
  });

  it("accepts exactly maxBatchEvents events and refuses one more with 413", () => {
    const events = Array.from({ length: 4 }, (_, i) => ev(String(i)));
    expect(batch(events.slice(0, 3), 3)).toMatchObject({ mode: "batch", events: { length: 3 } });
    expectRefused(batch(events, 3), 413, undefined);
  });

  it("refuses the whole batch for one invalid element, naming it", () => {
    expectRefused(batch([ev("1"), ev("2"), { ...ev("3"), source: "" }]), 400, "[2].source");
  });

  it("names the element that is not an object", () => {
    expectRefused(batch([ev("1"), "nope"]), 400, "[1]");
  });

  it("names the element whose attribute is bad", () => {
    expectRefused(batch([ev("1", { Bad: 1 })]), 400, "[0].Bad");
  });

  it("refuses mixed specversions", () => {
    expectRefused(batch([ev("1"), ev("2", { specversion: "0.3" })]), 400, "[1].specversion");
  });

  it("accepts a batch of 0.3 events", () => {
    expect(batch([ev("1", { specversion: "0.3" }), ev("2", { specversion: "0.3" })])).toMatchObject({ events: { length: 2 } });
  });

  it.each([
    ["an object", JSON.stringify(ev("1"))],
    ["a truncated array", `[${JSON.stringify(ev("1"))}`],
    ["a missing comma", `[${JSON.stringify(ev("1"))} ${JSON.stringify(ev("2"))}]`],
    ["an invalid element followed by bad JSON", `[{"id":""}, {`],
    ["trailing text", "[] []"],
  ])("refuses %s without naming a field", (_, body) => {
    expectRefused(batch(body), 400, undefined);
  });

  it("a batch body in binary mode is just data", () => {
    const result = post({ "content-type": "application/json" }, "[]");
    expectRefused(result, 400, "specversion");
  });
});
