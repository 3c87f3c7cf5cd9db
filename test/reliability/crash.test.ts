/**
 * Crash: SIGKILL the runtime (wrangler and workerd, the whole process group) under load three times and
 * restart it on the same storage. Every event answered 202 must reach the subscriber; duplicates (what was
 * delivered after a trigger's cursor was last stored, at most a second before the kill) are allowed,
 * counted and reported. Run for a broker of one partition
 * and for one of four (API.md §5).
 */
import { afterAll, expect, it } from "vitest";
import { received } from "../support/client.ts";
import { type RunningRouter, startRouter } from "../support/router.ts";
import type { Subscriber } from "../support/subscriber.ts";
import { event, sleep, startWithOrders, trigger } from "./harness.ts";

const CRASHES = 3;
/** Load runs this long before each SIGKILL. */
const LOAD_MS = 2_000;
const SENDERS = 8;

let router: RunningRouter | undefined;
let sub: Subscriber | undefined;
afterAll(async () => {
  await router?.kill();
  await sub?.close();
});

/** Send events until the router dies; returns the ids it answered 202. */
async function loadUntilKilled(r: RunningRouter, ns: string, tag: string): Promise<{ accepted: string[]; refused: number }> {
  const accepted: string[] = [];
  let refused = 0;
  let n = 0;
  let dead = false;
  const sender = async () => {
    while (!dead) {
      const id = `${tag}-${n++}`;
      try {
        const res = await fetch(`${r.url}/${ns}/orders`, { ...event(id), signal: AbortSignal.timeout(5_000) });
        await res.arrayBuffer();
        if (res.status === 202) accepted.push(id);
        else refused++;
      } catch {
        // the router died with this request in flight: not acknowledged, so not counted as accepted
      }
    }
  };
  const senders = Array.from({ length: SENDERS }, sender);
  await sleep(LOAD_MS);
  await r.kill();
  dead = true;
  await Promise.all(senders);
  return { accepted, refused };
}

it.each([1, 4])(
  `loses no acknowledged event across ${CRASHES} SIGKILLs under load, broker of %i partition(s)`,
  async (partitions) => {
    const NS = `crash-${partitions}`;
    await router?.kill();
    await sub?.close();
    ({ router, sub } = await startWithOrders(NS, partitions, (subscriber) =>
      trigger("all", {
        broker: "orders",
        subscriber: { uri: `${subscriber}/crash` },
        delivery: { retry: 20, backoffPolicy: "linear", backoffDelay: "PT0.2S", timeout: "PT2S" },
      }),
    ));
    const persistDir = router.persistDir;

    const accepted: string[] = [];
    for (let crash = 1; crash <= CRASHES; crash++) {
      const round = await loadUntilKilled(router, NS, `c${crash}`);
      expect(round.refused, "non-202 answers before the kill").toBe(0);
      accepted.push(...round.accepted);
      router = await startRouter({ persistDir });
    }
    // No traffic after the last restart: the broker's persisted alarm alone must finish the queue.
    const want = new Set(accepted);
    const deadline = Date.now() + 90_000;
    let got: string[] = [];
    while (Date.now() < deadline) {
      got = (await received(sub.url, "/crash")).map((r) => r.headers["ce-id"]);
      if ([...want].every((id) => got.includes(id))) break;
      await sleep(500);
    }
    const seen = new Map<string, number>();
    for (const id of got) seen.set(id, (seen.get(id) ?? 0) + 1);
    const lost = [...want].filter((id) => !seen.has(id));
    const duplicates = [...seen.values()].reduce((n, c) => n + (c - 1), 0);
    console.log(
      `crash (${partitions} partitions): ${CRASHES} SIGKILLs, ${want.size} events acknowledged, ${got.length} deliveries, ${lost.length} lost, ${duplicates} duplicates`,
    );
    expect(want.size).toBeGreaterThan(CRASHES * 50);
    expect(lost).toEqual([]);
  },
  240_000,
);
