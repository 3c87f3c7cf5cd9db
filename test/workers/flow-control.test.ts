/**
 * Flow control per trigger inside workerd: the shared scenarios on brokers of one and of four partitions,
 * a restart of a broker object while its trigger is paused, and the limiter's decisions read directly.
 */
import { env, exports } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, inject, it } from "vitest";
import { Broker } from "../../durable-objects/broker.ts";
import { FlowControl } from "../../durable-objects/flow-control.ts";
import { type RateLimit, WindowQuota } from "../../shared/delivery/rate-limit.ts";
import type { BrokerConfig, TriggerConfig } from "../../shared/resources/eventing.ts";
import { partitionObjectName } from "../../shared/partitions.ts";
import { flowScenarios } from "../scenarios/flow-control.ts";
import { auth, binaryEvent, broker, receivedAtLeast, received, resourcePath, script, settled, trigger } from "../support/client.ts";

const fetchRouter = (path: string, init?: RequestInit) => exports.default.fetch(`http://router.test${path}`, init);
const sub = inject("subscriberUrl");

flowScenarios({ fetch: fetchRouter, subscriber: () => sub }, "flow1");
flowScenarios({ fetch: fetchRouter, subscriber: () => sub }, "flow4", { "edge-eventing.dev/partitions": "4" });

async function apply(ns: string, plural: string, body: { metadata: { name: string } }): Promise<any> {
  const r = await fetchRouter(resourcePath(ns, plural, body.metadata.name), { method: "PUT", headers: { ...auth, "content-type": "application/json" }, body: JSON.stringify(body) });
  expect(r.status).toBeLessThan(300);
  return r.json();
}

describe("flow control, inside the broker object", () => {
  it("a broker object restarted while its trigger is paused still sends nothing, and resuming delivers everything", async () => {
    const ns = "flow-restart";
    await apply(ns, "brokers", broker("b"));
    await script(sub, "/flow-restart", [{ status: 200 }]);
    const spec = { broker: "b", subscriber: { uri: `${sub}/flow-restart` } };
    await apply(ns, "triggers", trigger("t", spec, { "edge-eventing.dev/paused": "true" }));
    for (let i = 0; i < 5; i++) expect((await fetchRouter(`/${ns}/b`, binaryEvent(`rs-${i}`))).status).toBe(202);
    const stub = env.BROKER.getByName(partitionObjectName(ns, "b", 0));
    // A restart: a new instance built from the object's storage alone (nothing kept in memory) runs its
    // alarm, as after an eviction or a deploy. The pause comes back from the stored configuration.
    await runInDurableObject(stub, async (_, state) => {
      await new Broker(state, env).alarm();
    });
    expect((await fetchRouter(`/${ns}/b`, binaryEvent("rs-after"))).status).toBe(202);
    // A later event to a trigger that is not paused: once it arrives, the pump has run past the paused one's.
    await script(sub, "/flow-restart-probe", [{ status: 200 }]);
    await apply(ns, "triggers", trigger("probe", { broker: "b", filters: [{ exact: { type: "probe.t" } }], subscriber: { uri: `${sub}/flow-restart-probe` } }));
    expect((await fetchRouter(`/${ns}/b`, binaryEvent("probe", "probe.t"))).status).toBe(202);
    await receivedAtLeast(sub, "/flow-restart-probe", 1);
    await settled(() => stub.metrics(), "probe");
    expect(await received(sub, "/flow-restart")).toEqual([]);
    expect((await stub.metrics()).backlog).toBe(7);
    await apply(ns, "triggers", trigger("t", spec));
    const got = await receivedAtLeast(sub, "/flow-restart", 7);
    expect(got.map((r) => r.headers["ce-id"]).sort()).toEqual(["probe", "rs-0", "rs-1", "rs-2", "rs-3", "rs-4", "rs-after"]);
  });

  it("the limiter of a partitioned broker's trigger never grants more than the limit per window to its partitions together", async () => {
    const limiter = env.LIMITER.getByName("direct/limiter/uid-1");
    const limit = { count: 10, periodMs: 60_000 };
    const grants = await Promise.all([0, 1, 2, 3, 0, 1, 2, 3].map((p) => limiter.take(p, 4, limit)));
    const window = grants[0].window;
    // All in one minute, unless the test straddles a minute boundary: count per window.
    const perWindow = new Map<number, number>();
    for (const g of grants) perWindow.set(g.window, (perWindow.get(g.window) ?? 0) + g.granted);
    expect(Math.max(...perWindow.values())).toBeLessThanOrEqual(10);
    if (perWindow.size === 1) {
      expect(perWindow.get(window)).toBe(10);
      expect(grants.filter((g) => g.granted < 4).every((g) => g.retryAt !== null)).toBe(true);
    }
  });

  it("a partition leases its share at a time: a trickle of deliveries costs one limiter request per window, not one per delivery", async () => {
    const quota = new WindowQuota();
    let requests = 0;
    const limiterEnv = { LIMITER: { getByName: () => ({ take: async (p: number, want: number, limit: RateLimit) => (requests++, quota.take(p, want, limit, Date.now())) }) } } as unknown as Env;
    const flow = new FlowControl(limiterEnv, () => {});
    const config = { namespace: "n", name: "b", partition: { index: 0, count: 4, previous: [] } } as unknown as BrokerConfig;
    const t = { name: "t", uid: "u", rateLimit: { count: 100, periodMs: 60_000 } } as TriggerConfig;
    let started = 0;
    for (let i = 0; i < 20; i++) {
      // One due delivery at a time; the first ask of a window returns nothing until its lease answers.
      let n = flow.allow(config, t, 1, Date.now());
      if (n === 0) {
        await new Promise((r) => setTimeout(r, 5));
        n = flow.allow(config, t, 1, Date.now());
      }
      started += n;
    }
    expect(started).toBe(20);
    // Its share of 100/m on 4 partitions is 25: one request per minute window (two if the test straddles one).
    expect(requests).toBeLessThanOrEqual(2);
  });
});
