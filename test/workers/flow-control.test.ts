/**
 * Flow control per trigger inside workerd: the shared scenarios on brokers of one and of four partitions,
 * a restart of a broker object while its trigger is paused, and the limiter's decisions read directly.
 */
import { env, exports } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, inject, it } from "vitest";
import { Broker } from "../../durable-objects/broker.ts";
import { FlowControl } from "../../durable-objects/broker/flow-control.ts";
import { type GiveBack, LeasePool, type RateLimit } from "../../shared/delivery/rate-limit.ts";
import type { BrokerConfig, TriggerConfig } from "../../shared/resources/eventing.ts";
import { partitionObjectName } from "../../shared/partitions.ts";
import { flowScenarios } from "../scenarios/flow-control.ts";
import { auth, binaryEvent, broker, received, receivedAtLeast, resourcePath, script, settled, trigger } from "../support/client.ts";
import { applyManifest } from "../support/manifests.ts";

const fetchRouter = (path: string, init?: RequestInit) => exports.default.fetch(`http://router.test${path}`, init);
const sub = inject("subscriberUrl");

flowScenarios({ fetch: fetchRouter, subscriber: () => sub }, "flow1");
flowScenarios({ fetch: fetchRouter, subscriber: () => sub }, "flow4", { "edge-eventing.dev/partitions": "4" });

const apply = (ns: string, plural: string, body: { metadata: { name: string } }) =>
  applyManifest(fetchRouter, resourcePath(ns, plural, body.metadata.name), body);

describe("a rate limit over a minute, at the subscriber", () => {
  const LIMIT = 10;
  const MINUTE = 60_000;

  /** A paused 10/s trigger on a broker of `partitions` with `events` queued, resumed: its arrivals for a minute. */
  async function aMinuteOf(partitions: number, events: number): Promise<number[]> {
    const ns = "flow-minute";
    const name = `p${partitions}`;
    const path = `/flow-minute-${name}`;
    await apply(ns, "brokers", broker(name, { "edge-eventing.dev/partitions": String(partitions) }));
    await script(sub, path, [{ status: 200 }]);
    const limited = (annotations: Record<string, string>) =>
      trigger(name, { broker: name, subscriber: { uri: `${sub}${path}` } }, { "edge-eventing.dev/rate-limit": `${LIMIT}/s`, ...annotations });
    await apply(ns, "triggers", limited({ "edge-eventing.dev/paused": "true" }));
    for (let i = 0; i < events; i += 100) {
      const batch = Array.from({ length: 100 }, (_, k) => ({ specversion: "1.0", id: `${name}-${i + k}`, source: "/minute", type: "minute.t" }));
      const r = await fetchRouter(`/${ns}/${name}`, {
        method: "POST",
        headers: { "content-type": "application/cloudevents-batch+json" },
        body: JSON.stringify(batch),
      });
      expect(r.status).toBe(202);
    }
    await apply(ns, "triggers", limited({}));
    const first = (await receivedAtLeast(sub, path, 1, 30_000))[0].at;
    await new Promise((r) => setTimeout(r, MINUTE - (Date.now() - first)));
    // The rest of the queue goes with the trigger.
    await fetchRouter(resourcePath(ns, "triggers", name), { method: "DELETE", headers: auth });
    return (await received(sub, path)).map((d) => d.at).filter((at) => at < first + MINUTE);
  }

  it("10/s with a deep queue: at most 10 arrivals in every sliding second of a minute, on 1 and on 4 partitions at once", { timeout: 120_000 }, async () => {
    const [one, four] = await Promise.all([aMinuteOf(1, 700), aMinuteOf(4, 700)]);
    for (const [partitions, times] of [
      [1, one],
      [4, four],
    ] as const) {
      const at = [...times].sort((a, b) => a - b);
      // Every 11 consecutive arrivals span a second (10 ms left for the two processes' millisecond clocks).
      for (let i = LIMIT; i < at.length; i++)
        expect(at[i] - at[i - LIMIT], `${partitions} partitions: arrivals ${i - LIMIT} and ${i}`).toBeGreaterThanOrEqual(990);
      // Not a limit kept by starving: well over half the rate on a loaded machine (the bench measures it).
      expect(at.length, `${partitions} partitions`).toBeGreaterThan(0.5 * LIMIT * 60);
    }
  });
});

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

  it("the limiter of a partitioned broker's trigger leases its n tokens once: partitions asking together get n in all", async () => {
    const limiter = env.LIMITER.getByName("direct/limiter/uid-1");
    const limit = { count: 10, periodMs: 60_000 };
    const leases = await Promise.all([0, 1, 2, 3, 0, 1, 2, 3].map((p) => limiter.lease(p, 4, null, limit)));
    const count = (l: { tokens: number[][] }) => l.tokens.reduce((n, [, k]) => n + k, 0);
    // A partition asking again gives up what it held, so count each partition's last lease.
    const last = leases.slice(4);
    expect(last.reduce((n, l) => n + count(l), 0)).toBeLessThanOrEqual(10);
    expect(leases.filter((l) => count(l) < 4).every((l) => l.retryAt !== null)).toBe(true);
  });

  it("a partition leases its share at a time: a trickle of deliveries costs one limiter request, not one per delivery", async () => {
    const pool = new LeasePool();
    let requests = 0;
    const lease = async (p: number, want: number, back: GiveBack | null, limit: RateLimit) => {
      requests++;
      return pool.lease(p, want, back, limit, Date.now());
    };
    const limiterEnv = { LIMITER: { getByName: () => ({ lease }) } } as unknown as Env;
    const flow = new FlowControl(limiterEnv, () => {});
    const config = { namespace: "n", name: "b", partition: { index: 0, count: 4, previous: [] } } as unknown as BrokerConfig;
    const t = { name: "t", uid: "u", rateLimit: { count: 100, periodMs: 60_000 } } as TriggerConfig;
    let started = 0;
    for (let i = 0; i < 20; i++) {
      // One due delivery at a time; the first ask returns nothing until its lease answers.
      let n = flow.allow(config, t, 1, Date.now());
      if (n === 0) {
        await new Promise((r) => setTimeout(r, 5));
        n = flow.allow(config, t, 1, Date.now());
      }
      started += n;
    }
    expect(started).toBe(20);
    // Its share of 100/m on 4 partitions is 25, leased for two minutes: one request.
    expect(requests).toBe(1);
  });
});
