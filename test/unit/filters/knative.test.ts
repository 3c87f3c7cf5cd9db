import { describe, expect, it } from "vitest";
import type { CloudEvent } from "../../../shared/cloudevents/event.ts";
import { goRfc3339Nano, lookupAttribute } from "../../../shared/filters/attributes.ts";
import { compileTriggerFilter, type TriggerFilterSpec } from "../../../shared/filters/knative.ts";

const event: CloudEvent = {
  attributes: {
    specversion: "1.0",
    id: "1",
    source: "/orders",
    type: "com.shop.order.created",
    time: "2018-04-26T14:48:09.780+00:00",
    count: 42,
    flag: true,
    region: "eu",
  },
};

function result(spec: TriggerFilterSpec, e: CloudEvent = event) {
  const c = compileTriggerFilter(spec);
  if ("causes" in c) throw new Error(JSON.stringify(c.causes));
  return c.filter(e);
}

const exact = (m: Record<string, string>) => ({ exact: m });
const PASS = exact({ type: "com.shop.order.created" });
const FAIL = exact({ type: "nope" });
const NOFILTER = { not: {} };

describe("Knative tri-state filter algebra", () => {
  it.each([
    ["no filter at all", {}, "nofilter"],
    ["filter: {}", { filter: {} }, "nofilter"],
    ["filters: [] keeps filter", { filters: [], filter: { attributes: { type: "nope" } } }, "fail"],
    ["non-empty filters replace filter", { filters: [PASS], filter: { attributes: { type: "nope" } } }, "pass"],
    ["a list is all(): one Fail fails", { filters: [PASS, FAIL] }, "fail"],
    ["all returns the last result", { filters: [{ all: [PASS, NOFILTER] }] }, "nofilter"],
    ["any(Fail, NoFilter) = NoFilter, so it delivers", { filters: [{ any: [FAIL, NOFILTER] }] }, "nofilter"],
    ["any short-circuits on Pass", { filters: [{ any: [FAIL, PASS] }] }, "pass"],
    ["not(NoFilter) = NoFilter", { filters: [{ not: NOFILTER }] }, "nofilter"],
    ["not(Fail) = Pass", { filters: [{ not: FAIL }] }, "pass"],
    ["objects without a dialect are skipped in lists", { filters: [{}, { all: [] }, { cesql: "" }, PASS] }, "pass"],
    ["empty all at the top is NoFilter", { filters: [{ all: [] }] }, "nofilter"],
  ] as [string, TriggerFilterSpec, string][])("%s", (_name, spec, want) => {
    expect(result(spec)).toBe(want);
  });
});

describe("attribute dialects", () => {
  it("matches exact, prefix and suffix case-sensitively and ANDs keys", () => {
    expect(result({ filters: [{ prefix: { type: "com.shop." } }] })).toBe("pass");
    expect(result({ filters: [{ prefix: { type: "COM.shop." } }] })).toBe("fail");
    expect(result({ filters: [{ suffix: { type: ".created" } }] })).toBe("pass");
    expect(result({ filters: [exact({ type: "com.shop.order.created", source: "/other" })] })).toBe("fail");
  });

  it("compares typed extensions by their string form and fails on absent ones", () => {
    expect(result({ filters: [exact({ count: "42", flag: "true" })] })).toBe("pass");
    expect(result({ filters: [exact({ missing: "x" })] })).toBe("fail");
    expect(result({ filters: [{ not: exact({ missing: "x" }) }] })).toBe("pass");
  });

  it("legacy attributes: '' means present and non-empty; unset subject never matches", () => {
    expect(result({ filter: { attributes: { region: "" } } })).toBe("pass");
    expect(result({ filter: { attributes: { subject: "" } } })).toBe("fail");
    expect(result({ filter: { attributes: { missing: "" } } })).toBe("fail");
    expect(result({ filter: { attributes: {} } })).toBe("pass");
    expect(result({ filter: { attributes: { type: "com.shop.order.created", source: "/orders" } } })).toBe("pass");
  });

  it("sourceAndType: an empty field matches anything", () => {
    expect(result({ filter: { sourceAndType: { type: "com.shop.order.created" } } })).toBe("pass");
    expect(result({ filter: { sourceAndType: { source: "/orders", type: "x" } } })).toBe("fail");
  });

  it("CESQL and CEL pass only on true without error", () => {
    expect(result({ filters: [{ cesql: "type LIKE 'com.shop.%' AND count > 40" }] })).toBe("pass");
    expect(result({ filters: [{ cesql: "missing = 'x'" }] })).toBe("fail");
    expect(result({ filters: [{ not: { cesql: "missing = 'x'" } }] })).toBe("pass");
    const withData: CloudEvent = { ...event, data: { kind: "json", json: '{"amount": 120, "currency": "EUR"}' } };
    expect(result({ filters: [{ cel: 'event.data.amount > 100 && event.data.currency == "EUR"' }] }, withData)).toBe("pass");
    expect(result({ filters: [{ cel: "event.data.nothere > 1" }] }, withData)).toBe("fail");
  });
});

describe("per-event scratch", () => {
  it("lets CEL filters on one event share its view, whichever reads data first", () => {
    const withData: CloudEvent = { ...event, data: { kind: "json", json: '{"amount": 5}' } };
    const compile = (cel: string) => {
      const c = compileTriggerFilter({ filters: [{ cel }] });
      if ("causes" in c) throw new Error("bad");
      return c.filter;
    };
    const attrs = compile("event.count == 42");
    const data = compile("event.data.amount == 5.0");
    for (const order of [
      [attrs, data],
      [data, attrs],
    ]) {
      const scratch = {};
      expect(order.map((f) => f(withData, scratch))).toEqual(["pass", "pass"]);
    }
    const other: CloudEvent = { ...event, attributes: { ...event.attributes, count: 1 } };
    expect(attrs(other, {})).toBe("fail");
  });
});

describe("validation", () => {
  const causes = (spec: TriggerFilterSpec) => {
    const c = compileTriggerFilter(spec);
    return "causes" in c ? c.causes.map((x) => x.field) : [];
  };
  it("lists every cause with its path", () => {
    expect(
      causes({
        filters: [
          { exact: { type: "a" }, suffix: { type: "b" } },
          { all: [{ prefix: { Type: "x" } }] },
          { exact: { type: "" } },
          { cesql: "type = " },
          { cel: "event.type ==" },
          { sql: "x" },
        ],
      }),
    ).toEqual([
      "spec.filters[0]",
      "spec.filters[1].all[0].prefix.Type",
      "spec.filters[2].exact.type",
      "spec.filters[3].cesql",
      "spec.filters[4].cel",
      "spec.filters[5].sql",
    ]);
    expect(causes({ filter: { attributes: { "bad-name": "x" } } })).toEqual(["spec.filter.attributes.bad-name"]);
  });
  it("reports the CESQL parse error position", () => {
    const c = compileTriggerFilter({ filters: [{ cesql: "type = 'a' AND" }] });
    expect("causes" in c && c.causes[0].message).toMatch(/position \d+/);
  });
});

describe("attribute lookup as Knative does it", () => {
  it("reads unset optional attributes as empty, derives datamediatype, aliases schemaurl", () => {
    const e: CloudEvent = {
      attributes: { specversion: "1.0", id: "1", source: "/s", type: "t", datacontenttype: "application/json; charset=utf-8", dataschema: "https://s" },
    };
    expect(lookupAttribute(e, "subject")).toBe("");
    expect(lookupAttribute(e, "datamediatype")).toBe("application/json");
    expect(lookupAttribute(e, "schemaurl")).toBe("https://s");
    expect(lookupAttribute(e, "nothere")).toBeUndefined();
    expect(lookupAttribute(e, "time")).toBe("0001-01-01T00:00:00Z");
  });
  it("prints time as Go's RFC3339Nano", () => {
    expect(goRfc3339Nano("2018-04-26T14:48:09.780+00:00")).toBe("2018-04-26T14:48:09.78Z");
    expect(goRfc3339Nano("2018-04-26T14:48:09.000Z")).toBe("2018-04-26T14:48:09Z");
    expect(goRfc3339Nano("2018-04-26T14:48:09.123456789123+02:00")).toBe("2018-04-26T14:48:09.123456789+02:00");
  });
});
