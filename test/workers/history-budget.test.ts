/**
 * Security review, round two (issue 22): a history search, or a replay's dry run, that matches nothing must
 * not decode every retained segment in one call. A search reads at most SEARCH_BUDGET_CHARS of stored
 * events per partition and call, then answers what it found with a `continue`; a dry run's count stops at
 * COUNT_BUDGET_CHARS and says that its `matched` is a lower bound.
 */
import { runInDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Broker } from "../../durable-objects/broker.ts";
import { SEARCH_BUDGET_CHARS } from "../../durable-objects/broker/history.ts";
import type { ReplayPlan } from "../../shared/history/replay.ts";
import { auth, broker, resourcePath } from "../support/client.ts";

const NS = "budget";
const call = (path: string, init?: RequestInit) => exports.default.fetch(`http://router.test${path}`, init);
const events = (query: string) => `/apis/edge-eventing.dev/v1alpha1/namespaces/${NS}/brokers/b/events${query}`;

async function post(id: string, data: string): Promise<void> {
  const r = await call(`/${NS}/b`, {
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
    const counts = await runInDurableObject(env.BROKER.getByName(`${NS}/b`), (instance: Broker) => {
      const history = (instance as unknown as { history: { count(plan: ReplayPlan, budget?: number): { matched: number; complete: boolean } } }).history;
      return { bounded: history.count(plan, 1_000_000), whole: history.count(plan) };
    });
    expect(counts.bounded.complete).toBe(false);
    expect(counts.whole.complete).toBe(true);
  });
});
