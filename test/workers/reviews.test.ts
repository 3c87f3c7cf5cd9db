import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { auth } from "../support/client.ts";

const post = (plural: string, body: unknown) =>
  exports.default.fetch(`http://router.test/apis/edge-eventing.dev/v1alpha1/${plural}`, {
    method: "POST",
    headers: { ...auth, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
const event = {
  specversion: "1.0",
  id: "1",
  source: "/orders",
  type: "com.shop.order.created",
  region: "eu",
  datacontenttype: "application/json",
  data: { amount: 120 },
};
const filterReview = (spec: Record<string, unknown>) => ({ apiVersion: "edge-eventing.dev/v1alpha1", kind: "FilterReview", spec: { event, ...spec } });

describe("FilterReview", () => {
  it("answers Knative's tri-state result and whether the broker would deliver", async () => {
    const cases: [Record<string, unknown>, string, boolean][] = [
      [{ filter: { attributes: { type: "com.shop.order.created" } } }, "Pass", true],
      [{ filters: [{ exact: { region: "us" } }] }, "Fail", false],
      [{ filters: [{ any: [{ exact: { region: "us" } }, { not: {} }] }] }, "NoFilter", true],
      [{}, "NoFilter", true],
      [{ filters: [{ cel: "event.data.amount > 100" }] }, "Pass", true],
    ];
    for (const [spec, result, delivered] of cases) {
      const r = await post("filterreviews", filterReview(spec));
      expect(r.status).toBe(201);
      expect(((await r.json()) as any).status).toEqual({ result, delivered });
    }
  });

  it("refuses an invalid filter with a 422 Status, exactly as for a Trigger", async () => {
    const r = await post("filterreviews", filterReview({ filters: [{ cesql: "type = " }] }));
    expect(r.status).toBe(422);
    expect(((await r.json()) as any).details.causes[0].field).toBe("spec.filters[0].cesql");
  });

  it("refuses an invalid event naming its field", async () => {
    const r = await post("filterreviews", { kind: "FilterReview", spec: { event: { specversion: "1.0", id: "1", type: "t" } } });
    expect(r.status).toBe(422);
    expect(((await r.json()) as any).details.causes[0].field).toBe("spec.event.source");
  });
});

describe("ExpressionReview", () => {
  const review = (language: string, expression: string) =>
    post("expressionreviews", { apiVersion: "edge-eventing.dev/v1alpha1", kind: "ExpressionReview", spec: { language, expression, event } });

  it("evaluates CESQL with value, type and error kind", async () => {
    expect(((await (await review("cesql", "LENGTH(type) + 1")).json()) as any).status).toEqual({ value: 23, type: "Integer", error: null });
    const missing = ((await (await review("cesql", "nothere = 'x'")).json()) as any).status;
    expect(missing).toMatchObject({ value: false, type: "Boolean", error: { kind: "missingAttribute" } });
    const math = ((await (await review("cesql", "10 / 0")).json()) as any).status;
    expect(math).toMatchObject({ value: 0, type: "Integer", error: { kind: "math" } });
  });

  it("evaluates CEL over attributes and data", async () => {
    expect(((await (await review("cel", "event.data.amount * 2.0")).json()) as any).status).toMatchObject({ value: 240, error: null });
    expect(((await (await review("cel", 'event.type.startsWith("com.shop")')).json()) as any).status).toMatchObject({
      value: true,
      type: "Boolean",
      error: null,
    });
  });

  it("evaluates JSONata as an EventTransform would: the transformed event, the plain value, or the error", async () => {
    const transform = '{"specversion":"1.0","id":id,"source":"/review","type":"order.priced","total":$string(data.amount * 2),"data":{"amount":data.amount}}';
    expect(((await (await review("jsonata", transform)).json()) as any).status).toEqual({
      value: { specversion: "1.0", id: "1", source: "/review", type: "order.priced", total: "240", data: { amount: 120 } },
      type: "CloudEvent",
      error: null,
    });
    const plain = ((await (await review("jsonata", "data.amount > 100 ? region : 'other'")).json()) as any).status;
    expect(plain).toEqual({ value: "eu", type: "String", error: null, eventError: expect.stringMatching(/not a CloudEvent/) });
    const parse = ((await (await review("jsonata", "{ data.amount ")).json()) as any).status;
    expect(parse).toMatchObject({ value: null, error: { kind: "parse", position: expect.any(Number), message: expect.stringMatching(/position/) } });
    const runtime = ((await (await review("jsonata", '$error("refused")')).json()) as any).status;
    expect(runtime).toMatchObject({ value: null, error: { kind: "functionEvaluation", message: expect.stringContaining("refused") } });
  });

  it("refuses an unknown language", async () => {
    const r = await review("sql", "1");
    expect(r.status).toBe(422);
    expect(((await r.json()) as any).details.causes[0].field).toBe("spec.language");
  });

  it("requires the admin token", async () => {
    const r = await exports.default.fetch("http://router.test/apis/edge-eventing.dev/v1alpha1/expressionreviews", { method: "POST", body: "{}" });
    expect(r.status).toBe(401);
  });
});
