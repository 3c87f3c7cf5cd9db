/**
 * Security review, round two (issue 22): a history search, or a replay's dry run, that matches nothing must
 * not decode every retained segment in one call. A search reads at most SEARCH_BUDGET_CHARS of stored
 * events per partition and call, then answers what it found with a `continue`; a dry run's count stops at
 * COUNT_BUDGET_CHARS and says that its `matched` is a lower bound; a real Replay's count likewise, and its
 * lane counts the rest as it goes.
 */
import { runInDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { describe, expect, inject, it } from "vitest";
import type { Broker } from "../../durable-objects/broker.ts";
import { SEARCH_BUDGET_CHARS } from "../../durable-objects/broker/history.ts";
import type { ReplayPlan } from "../../shared/history/replay.ts";
import type { ReplayProgress } from "../../shared/history/replay.ts";
import { auth, broker, eventually, receivedAtLeast, resourcePath, trigger } from "../support/client.ts";

const NS = "budget";
const call = (path: string, init?: RequestInit) => exports.default.fetch(`http://router.test${path}`, init);
const events = (query: string) => `/apis/edge-eventing.dev/v1alpha1/namespaces/${NS}/brokers/b/events${query}`;

async function post(id: string, data: string, to = "b"): Promise<void> {
  const r = await call(`/${NS}/${to}`, {
    method: "POST",
    headers: { "content-type": "application/cloudevents+json" },
    body: JSON.stringify({ specversion: "1.0", id, source: "/budget", type: "budget.t", datacontenttype: "text/plain", data }),
  });
  expect(r.status).toBe(202);
}

describe("a history search over more than its budget", () => {
  it("answers in pages: the first holds what the budget reached (here nothing) and a continue, the next goes on to the match", async () => {
    const r = await call(resourcePath(NS, "brokers", "b"), {
      method: "PUT",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify(broker("b", { "edge-eventing.dev/retention": "PT1H" })),
    });
    expect(r.status).toBeLessThan(300);
    // The event searched for first, then more than a budget of others (one segment each) after it.
    await post("needle", "n");
    const chunk = "x".repeat(900_000);
    for (let i = 0; i < Math.ceil(SEARCH_BUDGET_CHARS / chunk.length) + 1; i++) await post(`hay-${i}`, chunk);
    const first = (await (await call(events("?id=needle"), { headers: auth })).json()) as { items: unknown[]; metadata: { continue?: string } };
    expect(first.items).toEqual([]);
    expect(first.metadata.continue).toEqual(expect.any(String));
    const second = (await (await call(events(`?id=needle&continue=${first.metadata.continue}`), { headers: auth })).json()) as {
      items: { event: { id: string } }[];
      metadata: { continue?: string };
    };
    expect(second.items.map((i) => i.event.id)).toEqual(["needle"]);
    expect(second.metadata.continue).toBeUndefined();
    // Without a filter that skips them, the newest events come first as before.
    const newest = (await (await call(events("?limit=2"), { headers: auth })).json()) as { items: { event: { id: string } }[] };
    expect(newest.items).toHaveLength(2);
  });

  it("a dry run's count stops at its budget and says so", async () => {
    const plan: ReplayPlan = { name: "dry", from: 0, to: Date.now() + 60_000, triggers: null, state: "any", filters: [] };
    const counts = await runInDurableObject(env.BROKER.getByName(`${NS}/b`), async (instance: Broker) => {
      const history = (instance as unknown as { history: { count(plan: ReplayPlan, budget?: number): Promise<{ matched: number; complete: boolean }> } })
        .history;
      return { bounded: await history.count(plan, 1_000_000), whole: await history.count(plan) };
    });
    expect(counts.bounded.complete).toBe(false);
    expect(counts.whole.complete).toBe(true);
  });

  it("a count over many segments lets what waits on the partition run before it ends", async () => {
    const plan: ReplayPlan = { name: "dry", from: 0, to: Date.now() + 60_000, triggers: null, state: "any", filters: [] };
    const order = await runInDurableObject(env.BROKER.getByName(`${NS}/b`), async (instance: Broker) => {
      const history = (instance as unknown as { history: { count(plan: ReplayPlan): Promise<unknown> } }).history;
      const order: string[] = [];
      const counted = history.count(plan).then(() => order.push("counted"));
      setTimeout(() => order.push("waiting timer"), 0);
      await counted;
      return order;
    });
    expect(order).toEqual(["waiting timer", "counted"]);
  });
});

describe("a Replay over more than its count's budget", () => {
  it("starts with `matched` as a lower bound, counts the rest as it goes, and ends exact", async () => {
    const sub = inject("subscriberUrl");
    for (const [plural, body] of [
      ["brokers", broker("c", { "edge-eventing.dev/retention": "PT1H" })],
      ["triggers", trigger("all", { broker: "c", subscriber: { uri: `${sub}/budget-c` } })],
    ] as const) {
      const r = await call(resourcePath(NS, plural, body.metadata.name), {
        method: "PUT",
        headers: { ...auth, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      expect(r.status).toBeLessThan(300);
    }
    const chunk = "x".repeat(400_000);
    for (let i = 0; i < 6; i++) await post(`c-${i}`, chunk, "c");
    await receivedAtLeast(sub, "/budget-c", 6);
    const plan: ReplayPlan = { name: "big", from: 0, to: Date.now() + 60_000, triggers: null, state: "any", filters: [] };
    type Replays = { start(plan: ReplayPlan, budget: number): Promise<void>; progress(name: string): ReplayProgress | null };
    const replays = (instance: Broker) => (instance as unknown as { history: Replays }).history;
    // As Broker.startReplay does, with a smaller budget: start, then pump.
    const started = await runInDurableObject(env.BROKER.getByName(`${NS}/c`), async (instance: Broker) => {
      await replays(instance).start(plan, 1_000_000);
      const progress = replays(instance).progress("big");
      await (instance as unknown as { dispatch: { pump(): Promise<void> } }).dispatch.pump();
      return progress;
    });
    expect(started).toMatchObject({ matchedIsLowerBound: true });
    expect(started!.matched).toBeLessThan(6);
    const done = await eventually(
      () => runInDurableObject(env.BROKER.getByName(`${NS}/c`), (instance: Broker) => replays(instance).progress("big")).then((p) => (p?.done ? p : undefined)),
      20_000,
      "the replay to end",
    );
    expect(done).toEqual({ matched: 6, delivered: 6, failed: 0, done: true });
  });
});
