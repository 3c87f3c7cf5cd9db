import { env, exports } from "cloudflare:workers";
import { describe, expect, inject, it } from "vitest";
import { stub } from "../../clients/stubs.ts";
import type { DeadLetter } from "../../shared/resources/broker-api.ts";
import { auth, brokerMetricsOf, eventually, receivedAtLeast, resourcePath, script, settled, trigger } from "../support/client.ts";
import { deliveryScenarios } from "../scenarios/delivery.ts";

const NS = "dlv";
const sub = inject("subscriberUrl");
const fetchRouter = (path: string, init?: RequestInit) => exports.default.fetch(`http://router.test${path}`, init);

deliveryScenarios({ fetch: fetchRouter, subscriber: () => sub }, NS);

describe("dispatch inside the runtime", () => {
  it("sends 6 deliveries itself and spreads the rest of a trigger's parallelism over dispatcher slots, none above 6 connections", async () => {
    await script(sub, "/slow", [{ status: 200, delayMs: 300 }]);
    const t = await applyTrigger(
      trigger("slow", { broker: "b", filters: [{ exact: { type: "slow.t" } }], subscriber: { uri: `${sub}/slow` } }, { "edge-eventing.dev/parallelism": "18" }),
    );
    const batch = Array.from({ length: 36 }, (_, i) => ({ specversion: "1.0", id: `s-${i}`, source: "/slow", type: "slow.t" }));
    const started = Date.now();
    await fetchRouter(`/${NS}/b`, { method: "POST", headers: { "content-type": "application/cloudevents-batch+json" }, body: JSON.stringify(batch) });
    await receivedAtLeast(sub, "/slow", 36, 15_000);
    const elapsed = Date.now() - started;
    const own = await stub(env, "BROKER", `${NS}/b`).connectionStats();
    const slots = await Promise.all([0, 1, 2].map((i) => env.DISPATCHER.getByName(`${NS}/b/${t.metadata.uid}/${i}`).stats()));
    expect(own.peak).toBe(6);
    expect(slots.every((s) => s.peak <= 6)).toBe(true);
    expect(own.peak + slots.reduce((n, s) => n + s.peak, 0)).toBeGreaterThanOrEqual(18);
    // 36 deliveries of 300 ms at 18 in parallel: two waves, not six.
    expect(elapsed).toBeLessThan(1500);
  });
});

describe("attempt timeouts", () => {
  it("ends each attempt that outlasts the trigger's timeout at its own deadline, and no other", async () => {
    // Three attempts that would take 2 s, started 100 ms apart, then two quick ones; a 400 ms timeout and no retry.
    await script(sub, "/tmo", [{ status: 200, delayMs: 2000, repeat: 3 }, { status: 200 }]);
    await applyTrigger(
      trigger("tmo", { broker: "b", filters: [{ exact: { type: "tmo.t" } }], subscriber: { uri: `${sub}/tmo` }, delivery: { retry: 0, timeout: "PT0.4S" } }),
    );
    const send = (id: string) =>
      fetchRouter(`/${NS}/b`, { method: "POST", headers: { "ce-specversion": "1.0", "ce-id": id, "ce-source": "/tmo", "ce-type": "tmo.t" } });
    const started = Date.now();
    for (const id of ["tmo-0", "tmo-1", "tmo-2"]) {
      expect((await send(id)).status).toBe(202);
      await new Promise((r) => setTimeout(r, 100));
    }
    for (const id of ["tmo-3", "tmo-4"]) expect((await send(id)).status).toBe(202);
    const dead = await eventually(async () => {
      const list = (await (await fetchRouter(`/apis/eventing.knative.dev/v1/namespaces/${NS}/brokers/b/deadletters`, { headers: auth })).json()) as {
        items: DeadLetter[];
      };
      const mine = list.items.filter((d) => d.trigger === "tmo");
      return mine.length === 3 ? mine : undefined;
    }, 5_000);
    // Each ended 400 ms after it started, not when the subscriber would have answered.
    expect(Date.now() - started).toBeLessThan(1_800);
    expect(dead.map((d) => d.event.id).sort()).toEqual(["tmo-0", "tmo-1", "tmo-2"]);
    for (const d of dead) expect(d.reason).toContain("timeout after 400 ms");
    expect((await receivedAtLeast(sub, "/tmo", 5)).map((r) => r.headers["ce-id"]).sort()).toEqual(["tmo-0", "tmo-1", "tmo-2", "tmo-3", "tmo-4"]);
    const counted = (await settled(brokerMetricsOf(fetchRouter, NS, "b"), "tmo")).counters.filter((c) => c.trigger === "tmo");
    expect(Object.fromEntries(counted.filter((c) => c.name === "delivered" || c.name === "failed").map((c) => [c.name, c.value]))).toEqual({
      delivered: 2,
      failed: 3,
    });
  });
});

describe("fan-out", () => {
  it("encodes an event once for all its triggers, yet each delivery has the whole event, its format and its own traceparent", async () => {
    // 8 triggers whose subscriber takes 200 ms: 6 deliveries leave from the broker, the others through dispatcher slots.
    const paths = Array.from({ length: 8 }, (_, i) => `/fan-${i}`);
    for (const path of paths) await script(sub, path, [{ status: 200, delayMs: 200 }]);
    for (const [i, path] of paths.entries()) {
      const delivery = i === 7 ? { delivery: { format: "json" } } : {};
      await applyTrigger(trigger(`fan-${i}`, { broker: "b", filters: [{ exact: { type: "fan.t" } }], subscriber: { uri: `${sub}${path}` }, ...delivery }));
    }
    const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    const r = await fetchRouter(`/${NS}/b`, {
      method: "POST",
      headers: {
        "ce-specversion": "1.0",
        "ce-id": "fan-1",
        "ce-source": "/fan",
        "ce-type": "fan.t",
        "ce-knativebrokerttl": "9",
        "ce-region": "eu",
        "content-type": "application/json",
        traceparent,
      },
      body: '{"order":1234}',
    });
    expect(r.status).toBe(202);
    const got = await Promise.all(paths.map(async (path) => (await receivedAtLeast(sub, path, 1))[0]));
    for (const g of got.slice(0, 7)) {
      expect(g.headers).toMatchObject({
        "ce-id": "fan-1",
        "ce-source": "/fan",
        "ce-type": "fan.t",
        "ce-region": "eu",
        "content-type": "application/json",
        "kn-namespace": NS,
        prefer: "reply",
      });
      expect(g.headers["ce-knativebrokerttl"]).toBeUndefined();
      expect(g.body).toBe('{"order":1234}');
    }
    const structured = got[7];
    expect(structured.headers["content-type"]).toBe("application/cloudevents+json");
    expect(JSON.parse(structured.body)).toMatchObject({ id: "fan-1", source: "/fan", type: "fan.t", region: "eu", data: { order: 1234 } });
    expect(JSON.parse(structured.body).knativebrokerttl).toBeUndefined();
    // One trace, one span per delivery.
    const spans = got.map((g) => g.headers.traceparent);
    expect(spans.every((t) => t.startsWith("00-4bf92f3577b34da6a3ce929d0e0e4736-"))).toBe(true);
    expect(new Set(spans).size).toBe(8);
  });
});

describe("CloudEvents 0.3 fidelity", () => {
  it("delivers a structured 0.3 event's base64 data as the decoded bytes and its Map extension as ce-{name}-{key} headers", async () => {
    await script(sub, "/v03", [{ status: 200 }]);
    await applyTrigger(trigger("v03", { broker: "b", filters: [{ exact: { type: "v03.t" } }], subscriber: { uri: `${sub}/v03` } }));
    const event = {
      specversion: "0.3",
      id: "v03-1",
      source: "/v03",
      type: "v03.t",
      datacontenttype: "text/plain",
      datacontentencoding: "base64",
      labels: { tier: "gold", region: "eu" },
      data: btoa("hello, 0.3"),
    };
    const r = await fetchRouter(`/${NS}/b`, { method: "POST", headers: { "content-type": "application/cloudevents+json" }, body: JSON.stringify(event) });
    expect(r.status).toBe(202);
    const [got] = await receivedAtLeast(sub, "/v03", 1);
    expect(got.headers).toMatchObject({
      "ce-specversion": "0.3",
      "ce-id": "v03-1",
      "ce-labels-tier": "gold",
      "ce-labels-region": "eu",
      "content-type": "text/plain",
    });
    expect(got.headers["ce-datacontentencoding"]).toBeUndefined();
    expect(got.body).toBe("hello, 0.3");
  });
});

describe("reply loops", () => {
  it("clamps a producer's knativebrokerttl to Knative's 255, so a subscriber that always replies ends after 255 deliveries", async () => {
    const reply = { "ce-specversion": "1.0", "ce-id": "echo-{n}", "ce-source": "/echo", "ce-type": "loop.t", "content-type": "text/plain" };
    await script(sub, "/echo", [{ status: 200, headers: reply, body: "again" }]);
    const put = await fetchRouter(resourcePath(NS, "brokers", "loop"), {
      method: "PUT",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify({ apiVersion: "eventing.knative.dev/v1", kind: "Broker", metadata: { name: "loop" } }),
    });
    expect(put.status).toBeLessThan(300);
    await applyTrigger(trigger("echo", { broker: "loop", filters: [{ exact: { type: "loop.t" } }], subscriber: { uri: `${sub}/echo` } }));
    const sent = await fetchRouter(`/${NS}/loop`, {
      method: "POST",
      headers: {
        "ce-specversion": "1.0",
        "ce-id": "loop-0",
        "ce-source": "/producer",
        "ce-type": "loop.t",
        "ce-knativebrokerttl": "2147483647",
        "content-type": "text/plain",
      },
      body: "start",
    });
    expect(sent.status).toBe(202);
    const all = await receivedAtLeast(sub, "/echo", 255, 25_000);
    // Settled: the last reply was dropped for its TTL, not queued as a 256th delivery.
    await settled(brokerMetricsOf(fetchRouter, NS, "loop"));
    const after = await receivedAtLeast(sub, "/echo", 255);
    expect(all.length).toBe(255);
    expect(after.length).toBe(255);
  });
});

async function applyTrigger(body: { metadata: { name: string } }) {
  const r = await fetchRouter(resourcePath(NS, "triggers", body.metadata.name), {
    method: "PUT",
    headers: { ...auth, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  expect(r.status).toBeLessThan(300);
  return (await r.json()) as any;
}
