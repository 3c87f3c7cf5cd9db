/**
 * Flow control per trigger (docs/API.md section 3) as a user sees it, written once and run inside workerd
 * (test/workers/flow-control.test.ts) and over real HTTP against `wrangler dev` (test/e2e/flow-control.test.ts),
 * on brokers of one partition and of four. No assertion depends on the machine being fast: a limit is
 * checked by the least time its attempts must span (slowness only makes that longer), a pause by nothing
 * arriving.
 */
import { beforeAll, describe, expect, it } from "vitest";
import type { Harness } from "./delivery.ts";
import { auth, binaryEvent, broker, eventually, hold, received, receivedAtLeast, resourcePath, script, trigger } from "../support/client.ts";
import { applyManifest, putManifest } from "../support/manifests.ts";

const RATE = "edge-eventing.dev/rate-limit";
const PAUSED = "edge-eventing.dev/paused";
const fast = { retry: 3, backoffPolicy: "linear", backoffDelay: "PT0.1S" };

/** `brokerAnnotations` go on every broker the scenarios create (e.g. a partition count). */
export function flowScenarios(h: Harness, ns: string, brokerAnnotations: Record<string, string> = {}): void {
  const path = (name: string) => `/${ns}-${name}`;
  const to = (name: string) => ({ uri: `${h.subscriber()}${path(name)}` });
  const put = (plural: string, body: { metadata: { name: string } }) => putManifest(h.fetch, resourcePath(ns, plural, body.metadata.name), body);
  const apply = (plural: string, body: { metadata: { name: string } }) => applyManifest(h.fetch, resourcePath(ns, plural, body.metadata.name), body);
  const send = (name: string, id: string, extra: Record<string, string> = {}) => h.fetch(`/${ns}/${name}`, binaryEvent(id, "flow.t", extra));
  const ids = async (name: string) => (await received(h.subscriber(), path(name))).map((r) => r.headers["ce-id"]);
  const span = (got: { at: number }[]) => got[got.length - 1].at - got[0].at;

  beforeAll(async () => {
    await apply("brokers", broker("fc", brokerAnnotations));
    await apply("brokers", broker("small", { ...brokerAnnotations, "edge-eventing.dev/backlog-limit": "20" }));
  });

  describe("flow control per trigger", () => {
    it("a paused trigger sends nothing while its queue fills up to the backlog limit, shows Paused, and resuming drains it in order", async () => {
      await script(h.subscriber(), path("held"), [{ status: 200 }]);
      const spec = { broker: "small", subscriber: to("held") };
      const paused = await apply("triggers", trigger("held", spec, { [PAUSED]: "true", "edge-eventing.dev/parallelism": "1" }));
      expect(paused.status.conditions).toContainEqual(expect.objectContaining({ type: "Paused", status: "True", reason: "Paused" }));
      expect(paused.status.conditions).toContainEqual(expect.objectContaining({ type: "Ready", status: "True" }));
      // One partition key: on a partitioned broker they all sit in one partition, whose order is kept.
      const accepted: string[] = [];
      let refused = 0;
      for (let i = 0; i < 25; i++) {
        const r = await send("small", `held-${i}`, { "ce-partitionkey": "one" });
        if (r.status === 202) accepted.push(`held-${i}`);
        else {
          expect(r.status).toBe(429);
          refused++;
        }
        await r.arrayBuffer();
      }
      // The backlog limit, not the pause, is what refuses: the queue filled up first.
      expect(refused).toBeGreaterThan(0);
      expect(accepted.length).toBeGreaterThanOrEqual(5);
      await new Promise((r) => setTimeout(r, 1500));
      expect(await ids("held")).toEqual([]);
      const m = (await (await h.fetch(`/apis/eventing.knative.dev/v1/namespaces/${ns}/brokers/small/metrics`, { headers: auth })).json()) as any;
      expect(m.backlog).toBe(accepted.length);

      const resumed = await apply("triggers", trigger("held", spec, { "edge-eventing.dev/parallelism": "1" }));
      expect(resumed.status.conditions.map((c: { type: string }) => c.type)).not.toContain("Paused");
      await receivedAtLeast(h.subscriber(), path("held"), accepted.length);
      expect(await ids("held")).toEqual(accepted);
    });

    it("a rate limit counts retries: 4 events failing once each make 8 attempts, at most 2 started per second", async () => {
      await script(h.subscriber(), path("retried"), [{ status: 503, repeat: 4 }, { status: 200 }]);
      await apply(
        "triggers",
        trigger(
          "retried",
          { broker: "fc", filters: [{ exact: { type: "flow.t" } }, { exact: { subject: "retried" } }], subscriber: to("retried"), delivery: fast },
          { [RATE]: "2/s" },
        ),
      );
      for (let i = 0; i < 4; i++) expect((await send("fc", `retried-${i}`, { "ce-subject": "retried" })).status).toBe(202);
      const got = await receivedAtLeast(h.subscriber(), path("retried"), 8, 30_000);
      expect(got).toHaveLength(8);
      expect(new Set(got.map((r) => r.headers["ce-id"])).size).toBe(4);
      // 8 attempts at 2 per calendar second take 4 windows: the last starts more than 2 s after the first.
      // Without retries counted the 4 first attempts would take 2 windows and the retries 0.1 s more.
      expect(span(got)).toBeGreaterThan(1700);
    });

    it("a rate limit holds for the whole broker, whichever partitions the events sit in, and /metrics shows what it holds", async () => {
      await script(h.subscriber(), path("limited"), [{ status: 200 }]);
      await apply(
        "triggers",
        trigger(
          "limited",
          { broker: "fc", filters: [{ exact: { type: "flow.t" } }, { exact: { subject: "limited" } }], subscriber: to("limited") },
          { [RATE]: "3/s" },
        ),
      );
      const sends = await Promise.all(Array.from({ length: 12 }, (_, i) => send("fc", `limited-${i}`, { "ce-subject": "limited" })));
      expect(sends.map((r) => r.status)).toEqual(Array(12).fill(202));
      const held = await eventually(
        async () => {
          const m = (await (await h.fetch(`/apis/eventing.knative.dev/v1/namespaces/${ns}/brokers/fc/metrics`, { headers: auth })).json()) as any;
          return (m.rateLimited?.limited ?? 0) > 0 && m.rateLimited.limited;
        },
        10_000,
        "deliveries held by the rate limit",
      );
      expect(held).toBeLessThanOrEqual(12);
      const text = await (await h.fetch("/metrics", { headers: auth })).text();
      expect(text).toContain("# TYPE edge_eventing_deliveries_rate_limited gauge");
      const got = await receivedAtLeast(h.subscriber(), path("limited"), 12, 30_000);
      expect(new Set(got.map((r) => r.headers["ce-id"])).size).toBe(12);
      // 12 at 3 per second take 4 windows (more than 2 s); 3 per second per partition would take one.
      expect(span(got)).toBeGreaterThan(1700);
    });

    it("a rate limit holds in every sliding second, not per calendar second: bursts at any phase never get more than n through", async () => {
      await script(h.subscriber(), path("sliding"), [{ status: 200 }]);
      await apply(
        "triggers",
        trigger(
          "sliding",
          { broker: "fc", filters: [{ exact: { type: "flow.t" } }, { exact: { subject: "sliding" } }], subscriber: to("sliding") },
          { [RATE]: "5/s" },
        ),
      );
      // The first burst lands late in a calendar second, where fixed windows let 5 through and 5 more at
      // the next second; then bursts of varied size at varied gaps, so the queue fills and runs dry.
      while (Date.now() % 1000 < 650 || Date.now() % 1000 > 750) await new Promise((r) => setTimeout(r, 5));
      const sizes = [10, 3, 6, 2, 7, 5, 8];
      const gaps = [1900, 700, 1500, 1100, 1800, 900];
      let sent = 0;
      for (const [i, size] of sizes.entries()) {
        const burst = Array.from({ length: size }, (_, k) => send("fc", `sliding-${sent + k}`, { "ce-subject": "sliding" }));
        expect((await Promise.all(burst)).map((r) => r.status)).toEqual(Array(size).fill(202));
        sent += size;
        if (i < gaps.length) await new Promise((r) => setTimeout(r, gaps[i]));
      }
      const got = await receivedAtLeast(h.subscriber(), path("sliding"), sent, 60_000);
      expect(new Set(got.map((r) => r.headers["ce-id"])).size).toBe(sent);
      // Arrival times at the subscriber: every interval of a second holds at most 5 (fixed windows put 10
      // within ~300 ms here). A token counts from its attempt's end, so this holds at the subscriber whatever
      // the network's delay; 10 ms are left for the two processes' millisecond clocks.
      const at = got.map((r) => r.at).sort((a, b) => a - b);
      for (let i = 5; i < at.length; i++) expect(at[i] - at[i - 5], `attempts ${i - 5} and ${i}`).toBeGreaterThanOrEqual(990);
    });

    it("a rate limit holds at a subscriber that takes requests late: an attempt in flight keeps its token until it ends", async () => {
      await script(h.subscriber(), path("late"), [{ status: 200 }]);
      await apply(
        "triggers",
        trigger("late", { broker: "fc", filters: [{ exact: { type: "flow.t" } }, { exact: { subject: "late" } }], subscriber: to("late") }, { [RATE]: "5/s" }),
      );
      const sends = await Promise.all(Array.from({ length: 25 }, (_, i) => send("fc", `late-${i}`, { "ce-subject": "late" })));
      expect(sends.map((r) => r.status)).toEqual(Array(25).fill(202));
      // Once deliveries flow, the subscriber stops taking them for 2.5 s (a pause of its process, a queue in
      // front of it): what was sent meanwhile arrives at once when it ends, so no more than a token each
      // may be in flight. Tokens ready a period after their attempts' start let 2.5 periods' worth pile up
      // (10 consecutive arrivals within 1 ms on one partition).
      await receivedAtLeast(h.subscriber(), path("late"), 1);
      await hold(h.subscriber(), path("late"), 2500);
      const got = await receivedAtLeast(h.subscriber(), path("late"), 25, 60_000);
      expect(new Set(got.map((r) => r.headers["ce-id"])).size).toBe(25);
      const at = got.map((r) => r.at).sort((a, b) => a - b);
      for (let i = 5; i < at.length; i++) expect(at[i] - at[i - 5], `attempts ${i - 5} and ${i}`).toBeGreaterThanOrEqual(990);
    });

    it("a rate limit holds a Replay's deliveries too", async () => {
      await script(h.subscriber(), path("replayed"), [{ status: 200 }]);
      const spec = { broker: "fc", filters: [{ exact: { type: "flow.t" } }, { exact: { subject: "replayed" } }], subscriber: to("replayed") };
      await apply("triggers", trigger("replayed", spec));
      for (let i = 0; i < 8; i++) expect((await send("fc", `replayed-${i}`, { "ce-subject": "replayed" })).status).toBe(202);
      await receivedAtLeast(h.subscriber(), path("replayed"), 8);
      await apply("triggers", trigger("replayed", spec, { [RATE]: "2/s" }));
      const replay = {
        apiVersion: "edge-eventing.dev/v1alpha1",
        kind: "Replay",
        metadata: { name: "again" },
        spec: { broker: "fc", from: "2000-01-01T00:00:00Z", triggers: ["replayed"] },
      };
      const r = await h.fetch(`/apis/edge-eventing.dev/v1alpha1/namespaces/${ns}/replays`, {
        method: "POST",
        headers: { ...auth, "content-type": "application/json" },
        body: JSON.stringify(replay),
      });
      expect(r.status, await r.text()).toBe(201);
      const got = (await receivedAtLeast(h.subscriber(), path("replayed"), 16, 30_000)).filter((d) => d.headers["ce-replay"] === "again");
      expect(got.map((d) => d.headers["ce-id"]).sort()).toEqual(Array.from({ length: 8 }, (_, i) => `replayed-${i}`).sort());
      // 8 at 2 per second take 4 windows.
      expect(span(got)).toBeGreaterThan(1700);
    });

    it("refuses bad values with 422 naming the annotation, and stores nothing", async () => {
      const spec = { broker: "fc", subscriber: to("never") };
      for (const [annotation, value] of [
        [RATE, "10/h"],
        [RATE, "0/s"],
        [RATE, "fast"],
        [RATE, "1.5/s"],
        [PAUSED, "yes"],
        [PAUSED, "True"],
      ]) {
        const r = await put("triggers", trigger("bad", spec, { [annotation]: value }));
        expect(r.status).toBe(422);
        const s = (await r.json()) as any;
        expect(s).toMatchObject({ kind: "Status", reason: "Invalid", code: 422 });
        expect(s.details.causes).toContainEqual({ field: `metadata.annotations.${annotation}`, message: expect.any(String) });
      }
      expect((await h.fetch(resourcePath(ns, "triggers", "bad"), { headers: auth })).status).toBe(404);
    });
  });
}
