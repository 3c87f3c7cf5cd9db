import { exports } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { auth, binaryEvent, broker, resourcePath } from "../support/client.ts";

const url = (path: string) => `http://router.test${path}`;

beforeAll(async () => {
  const b = broker("in", { "edge-eventing.dev/backlog-limit": "3" });
  const r = await exports.default.fetch(url(resourcePath("ing", "brokers", "in")), { method: "PUT", headers: auth, body: JSON.stringify(b) });
  expect(r.status).toBe(201);
  const t = {
    apiVersion: "eventing.knative.dev/v1",
    kind: "Trigger",
    metadata: { name: "all" },
    spec: { broker: "in", subscriber: { ref: { apiVersion: "edge-eventing.dev/v1alpha1", kind: "EventDisplay", name: "in" } } },
  };
  expect((await exports.default.fetch(url(resourcePath("ing", "triggers", "all")), { method: "PUT", headers: auth, body: JSON.stringify(t) })).status).toBe(
    201,
  );
});

describe("event ingress", () => {
  it("accepts binary, structured and batch events with 202", async () => {
    expect((await exports.default.fetch(url("/ing/in"), binaryEvent("b-1"))).status).toBe(202);
    const structured = { specversion: "1.0", id: "s-1", source: "/s", type: "t", data: { x: 1 } };
    const r = await exports.default.fetch(url("/ing/in"), {
      method: "POST",
      headers: { "content-type": "application/cloudevents+json; charset=utf-8" },
      body: JSON.stringify(structured),
    });
    expect(r.status).toBe(202);
    const batch = [{ specversion: "1.0", id: "x-1", source: "/s", type: "t" }];
    const rb = await exports.default.fetch(url("/ing/in"), {
      method: "POST",
      headers: { "content-type": "application/cloudevents-batch+json" },
      body: JSON.stringify(batch),
    });
    expect(rb.status).toBe(202);
  });

  it("refuses invalid events with 400 and a JSON body naming the field", async () => {
    const r = await exports.default.fetch(url("/ing/in"), { method: "POST", headers: { "ce-specversion": "1.0", "ce-id": "1", "ce-type": "t" }, body: "" });
    expect(r.status).toBe(400);
    expect(await r.json()).toMatchObject({ field: "source" });
    const batch = [
      { specversion: "1.0", id: "ok", source: "/s", type: "t" },
      { specversion: "1.0", id: "bad", source: "/s", type: "t", "Bad-Name": 1 },
    ];
    const rb = await exports.default.fetch(url("/ing/in"), {
      method: "POST",
      headers: { "content-type": "application/cloudevents-batch+json" },
      body: JSON.stringify(batch),
    });
    expect(rb.status).toBe(400);
    expect(((await rb.json()) as any).field).toMatch(/^\[1\]/);
  });

  it("answers 404, 405 with Allow, 413, 415 and the OPTIONS handshake", async () => {
    expect((await exports.default.fetch(url("/ing/nope"), binaryEvent("n"))).status).toBe(404);
    const m = await exports.default.fetch(url("/ing/in"), { method: "GET" });
    expect(m.status).toBe(405);
    expect(m.headers.get("allow")).toContain("POST");
    const big = await exports.default.fetch(url("/ing/in"), binaryEvent("big", "t", {}, JSON.stringify("x".repeat(1024 * 1024 + 10))));
    expect(big.status).toBe(413);
    const avro = await exports.default.fetch(url("/ing/in"), { method: "POST", headers: { "content-type": "application/cloudevents+avro" }, body: "x" });
    expect(avro.status).toBe(415);
    const o = await exports.default.fetch(url("/ing/in"), { method: "OPTIONS", headers: { "webhook-request-origin": "eventemitter.example.com" } });
    expect(o.status).toBe(200);
    expect(o.headers.get("webhook-allowed-origin")).toBe("eventemitter.example.com");
    expect(o.headers.get("allow")).toContain("POST");
  });

  it("answers 429 with Retry-After when a request would overflow the backlog", async () => {
    // The display sink drains the queue quickly; a paused broker would need a slow sink. Send a batch larger than the limit.
    const batch = Array.from({ length: 4 }, (_, i) => ({ specversion: "1.0", id: `bl-${i}`, source: "/bl", type: "t" }));
    const r = await exports.default.fetch(url("/ing/in"), {
      method: "POST",
      headers: { "content-type": "application/cloudevents-batch+json" },
      body: JSON.stringify(batch),
    });
    expect(r.status).toBe(429);
    expect(Number(r.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(((await r.json()) as any).error).toMatch(/backlog/);
  });
});

describe("ingress credentials", () => {
  it("answers 401 without and 403 with a wrong bearer token when the broker requires one, 202 with the right one", async () => {
    const b = broker("locked", { "edge-eventing.dev/ingress-token-secret": "SECRET_INGRESS_TOKEN" });
    expect((await exports.default.fetch(url(resourcePath("ing", "brokers", "locked")), { method: "PUT", headers: auth, body: JSON.stringify(b) })).status).toBe(
      201,
    );
    const send = (headers: Record<string, string>) => exports.default.fetch(url("/ing/locked"), binaryEvent("c-1", "t", headers));
    const none = await send({});
    expect(none.status).toBe(401);
    expect(none.headers.get("www-authenticate")).toMatch(/^Bearer/);
    expect((await send({ authorization: "Bearer nope" })).status).toBe(403);
    expect((await send({ authorization: "Bearer producer-secret" })).status).toBe(202);
  });

  it("refuses an ingress token annotation that cannot name a secret", async () => {
    const b = broker("badlock", { "edge-eventing.dev/ingress-token-secret": "not a name" });
    const r = await exports.default.fetch(url(resourcePath("ing", "brokers", "badlock")), { method: "PUT", headers: auth, body: JSON.stringify(b) });
    expect(r.status).toBe(422);
    expect(((await r.json()) as any).details.causes[0].field).toBe("metadata.annotations.edge-eventing.dev/ingress-token-secret");
  });
});
