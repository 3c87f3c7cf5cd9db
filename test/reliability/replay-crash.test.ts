/**
 * A crash during a replay (API.md §6): SIGKILL the runtime while a Replay is sending a broker's retained
 * events again, restart it on the same storage, and send nothing more. The replay must resume from its
 * stored cursor and queue, reach every selected event (duplicates of deliveries in flight at the kill are
 * allowed and reported), and finish with status counts that match.
 */
import { afterAll, expect, it } from "vitest";
import { auth, eventually, received, script } from "../support/client.ts";
import { type RunningRouter, startRouter } from "../support/router.ts";
import type { Subscriber } from "../support/subscriber.ts";
import { apply, sleep, startWithOrders, trigger } from "./harness.ts";

const EVENTS = 500;
const NS = "replay-crash";

let router: RunningRouter | undefined;
let sub: Subscriber | undefined;
afterAll(async () => {
  await router?.kill();
  await sub?.close();
});

async function replayStatus(r: RunningRouter): Promise<any> {
  const res = await fetch(`${r.url}/apis/edge-eventing.dev/v1alpha1/namespaces/${NS}/replays/again`, { headers: auth, signal: AbortSignal.timeout(15_000) });
  return ((await res.json()) as any).status;
}

it.each([1, 3])(
  "resumes a replay after a SIGKILL and loses nothing, broker of %i partition(s)",
  async (partitions) => {
    ({ router, sub } = await startWithOrders(NS, partitions, (subscriber) =>
      trigger("all", { broker: "orders", subscriber: { uri: `${subscriber}/replay` } }, { "edge-eventing.dev/parallelism": "2" }),
    ));
    const persistDir = router.persistDir;
    const ids = Array.from({ length: EVENTS }, (_, i) => `e${i}`);
    for (let i = 0; i < EVENTS; i += 100) {
      const batch = ids.slice(i, i + 100).map((id) => ({ specversion: "1.0", id, source: "/crash", type: "t" }));
      const res = await fetch(`${router.url}/${NS}/orders`, {
        method: "POST",
        headers: { "content-type": "application/cloudevents-batch+json" },
        body: JSON.stringify(batch),
      });
      expect(res.status).toBe(202);
    }
    await eventually(async () => (await received(sub!.url, "/replay")).length >= EVENTS, 60_000, "first deliveries");

    await script(sub.url, "/replay", [{ status: 200, delayMs: 10 }]);
    await apply(
      router.url,
      NS,
      "replays",
      {
        apiVersion: "edge-eventing.dev/v1alpha1",
        kind: "Replay",
        metadata: { name: "again" },
        spec: { broker: "orders", from: "2000-01-01T00:00:00Z" },
      } as never,
      "edge-eventing.dev/v1alpha1",
    );
    await eventually(async () => (await received(sub!.url, "/replay")).length >= 60, 60_000, "the replay to be under way");
    await router.kill();
    const beforeKill = (await received(sub.url, "/replay")).length;
    router = await startRouter({ persistDir });

    // Nothing is sent after the restart: the persisted alarm alone resumes the replay.
    const status = await eventually(
      async () => {
        const s = await replayStatus(router!);
        return s?.conditions?.[0]?.reason === "Running" ? undefined : s;
      },
      120_000,
      "the replay to finish",
    );
    const got = (await received(sub.url, "/replay")).filter((r) => r.headers["ce-replay"] === "again").map((r) => r.headers["ce-id"]);
    const lost = ids.filter((id) => !got.includes(id));
    console.log(
      `replay crash (${partitions} partitions): ${beforeKill} replayed before the kill, ${got.length} replay deliveries in all, ${lost.length} lost, ${got.length - new Set(got).size} duplicates`,
    );
    expect(beforeKill).toBeLessThan(EVENTS);
    expect(lost).toEqual([]);
    expect(status).toMatchObject({ matched: EVENTS, delivered: EVENTS, failed: 0, conditions: [{ reason: "Succeeded", status: "True" }] });
    await router.kill();
    await sub.close();
    await sleep(100);
  },
  240_000,
);
