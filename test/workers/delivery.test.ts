import { env, exports } from "cloudflare:workers";
import { describe, expect, inject, it } from "vitest";
import type { Broker } from "../../durable-objects/broker.ts";
import type { Stub } from "../../durable-objects/stub.ts";
import { auth, receivedAtLeast, resourcePath, script, trigger } from "../support/client.ts";
import { deliveryScenarios } from "../scenarios/delivery.ts";

const NS = "dlv";
const sub = inject("subscriberUrl");
const fetchRouter = (path: string, init?: RequestInit) => exports.default.fetch(`http://router.test${path}`, init);

deliveryScenarios({ fetch: fetchRouter, subscriber: () => sub }, NS);

describe("dispatch inside the runtime", () => {
  it("sends 6 deliveries itself and spreads the rest of a trigger's parallelism over dispatcher slots, none above 6 connections", async () => {
    await script(sub, "/slow", [{ status: 200, delayMs: 300 }]);
    const t = await applyTrigger(trigger("slow", { broker: "b", filters: [{ exact: { type: "slow.t" } }], subscriber: { uri: `${sub}/slow` } }, { "edge-eventing.dev/parallelism": "18" }));
    const batch = Array.from({ length: 36 }, (_, i) => ({ specversion: "1.0", id: `s-${i}`, source: "/slow", type: "slow.t" }));
    const started = Date.now();
    await fetchRouter(`/${NS}/b`, { method: "POST", headers: { "content-type": "application/cloudevents-batch+json" }, body: JSON.stringify(batch) });
    await receivedAtLeast(sub, "/slow", 36, 15_000);
    const elapsed = Date.now() - started;
    const own = await (env.BROKER.getByName(`${NS}/b`) as unknown as Stub<Broker>).connectionStats();
    const slots = await Promise.all([0, 1, 2].map((i) => env.DISPATCHER.getByName(`${NS}/b/${t.metadata.uid}/${i}`).stats()));
    expect(own.peak).toBe(6);
    expect(slots.every((s) => s.peak <= 6)).toBe(true);
    expect(own.peak + slots.reduce((n, s) => n + s.peak, 0)).toBeGreaterThanOrEqual(18);
    // 36 deliveries of 300 ms at 18 in parallel: two waves, not six.
    expect(elapsed).toBeLessThan(1500);
  });
});

async function applyTrigger(body: { metadata: { name: string } }) {
  const r = await fetchRouter(resourcePath(NS, "triggers", body.metadata.name), { method: "PUT", headers: { ...auth, "content-type": "application/json" }, body: JSON.stringify(body) });
  expect(r.status).toBeLessThan(300);
  return (await r.json()) as any;
}
