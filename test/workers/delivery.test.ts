import { env, exports } from "cloudflare:workers";
import { describe, expect, inject, it } from "vitest";
import { auth, receivedAtLeast, resourcePath, script, trigger } from "../support/client.ts";
import { deliveryScenarios } from "../scenarios/delivery.ts";

const NS = "dlv";
const sub = inject("subscriberUrl");
const fetchRouter = (path: string, init?: RequestInit) => exports.default.fetch(`http://router.test${path}`, init);

deliveryScenarios({ fetch: fetchRouter, subscriber: () => sub }, NS);

describe("dispatch inside the runtime", () => {
  it("spreads parallelism above 6 over dispatcher slots that each keep at most 6 connections", async () => {
    await script(sub, "/slow", [{ status: 200, delayMs: 300 }]);
    const t = await applyTrigger( trigger("slow", { broker: "b", filters: [{ exact: { type: "slow.t" } }], subscriber: { uri: `${sub}/slow` } }, { "edge-eventing.dev/parallelism": "12" }));
    const batch = Array.from({ length: 24 }, (_, i) => ({ specversion: "1.0", id: `s-${i}`, source: "/slow", type: "slow.t" }));
    await fetchRouter(`/${NS}/b`, { method: "POST", headers: { "content-type": "application/cloudevents-batch+json" }, body: JSON.stringify(batch) });
    const started = Date.now();
    await receivedAtLeast(sub, "/slow", 24, 15_000);
    const slots = await Promise.all([0, 1].map((i) => env.DISPATCHER.getByName(`${NS}/b/${t.metadata.uid}/${i}`).stats()));
    expect(slots.map((s) => s.peak)).toEqual([6, 6]);
    // 24 deliveries of 300 ms at 12 in parallel: two waves, not four.
    expect(Date.now() - started).toBeLessThan(1500);
  });
});

async function applyTrigger(body: { metadata: { name: string } }) {
  const r = await fetchRouter(resourcePath(NS, "triggers", body.metadata.name), { method: "PUT", headers: { ...auth, "content-type": "application/json" }, body: JSON.stringify(body) });
  expect(r.status).toBeLessThan(300);
  return (await r.json()) as any;
}
