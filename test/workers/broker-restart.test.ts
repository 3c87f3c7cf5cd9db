/**
 * A broker partition killed (every object's memory gone, storage kept: abortAllDurableObjects) and called
 * by nobody afterwards: what it still owes a subscriber, its lanes rebuilt from the log above their stored
 * cursors, only its stored alarm brings back. The reliability crash test (test/reliability/crash.test.ts)
 * meets these cases by chance under SIGKILL; here they come every time.
 */
import { abortAllDurableObjects, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { expect, inject, it } from "vitest";
import type { Broker } from "../../durable-objects/broker.ts";
import { SAFETY_WAKE_MS } from "../../durable-objects/broker/dispatch.ts";
import { partitionObjectName } from "../../shared/partitions.ts";
import { binaryEvent, broker, eventually, received, receivedAtLeast, resourcePath, script, settled, trigger } from "../support/client.ts";
import { applyManifest } from "../support/manifests.ts";
import type { Step } from "../support/subscriber.ts";

const NS = "restart";
const sub = inject("subscriberUrl");
const fetchRouter = (path: string, init?: RequestInit) => exports.default.fetch(`http://router.test${path}`, init);
const apply = (plural: string, body: { metadata: { name: string } }) => applyManifest(fetchRouter, resourcePath(NS, plural, body.metadata.name), body);

/** Broker `name` with one trigger (`name` too) to the subscriber's `/restart-{name}`, answering `steps`; its partition (a new stub each call: one breaks with the object it reached). */
async function start(name: string, steps: Step[]) {
  await script(sub, `/restart-${name}`, steps);
  await apply("brokers", broker(name));
  await apply("triggers", trigger(name, { broker: name, subscriber: { uri: `${sub}/restart-${name}` } }));
  return () => env.BROKER.getByName(partitionObjectName(NS, name, 0));
}

/** The restarted partition's stored alarm (null: none) and its backlog, as built from storage alone. */
async function afterKill(partition: () => DurableObjectStub<Broker>) {
  await abortAllDurableObjects();
  return runInDurableObject(partition(), async (broker: Broker, state) => ({ alarm: await state.storage.getAlarm(), backlog: broker.metrics().backlog }));
}

it("a partition killed while a first attempt is in flight delivers the event again from its stored alarm, due within the safety wake", async () => {
  // "before" is answered at once; the first attempt of "in-flight" hangs until the kill; then 200 again.
  const partition = await start("inflight", [{ status: 200 }, { status: 200, delayMs: 20_000 }, { status: 200 }]);
  // A broker that has run a while: its first alarm (the log's expiry) has come, the next is far off.
  expect((await fetchRouter(`/${NS}/inflight`, binaryEvent("before"))).status).toBe(202);
  await receivedAtLeast(sub, "/restart-inflight", 1);
  await runDurableObjectAlarm(partition());

  expect((await fetchRouter(`/${NS}/inflight`, binaryEvent("in-flight"))).status).toBe(202);
  await receivedAtLeast(sub, "/restart-inflight", 2);
  const { alarm } = await afterKill(partition);
  // Not the log's expiry, a retention period later.
  expect(alarm).not.toBeNull();
  expect(alarm! - Date.now()).toBeLessThanOrEqual(SAFETY_WAKE_MS);
  expect(await runDurableObjectAlarm(partition())).toBe(true);
  await eventually(
    async () => (await received(sub, "/restart-inflight")).filter((r) => r.headers["ce-id"] === "in-flight").length === 2,
    10_000,
    "the redelivery",
  );
});

it("a partition killed right after its alarm ran owes nothing it delivered before the alarm, though its cursor had not been stored yet", async () => {
  const partition = await start("settled", [{ status: 200 }]);
  expect((await fetchRouter(`/${NS}/settled`, binaryEvent("done"))).status).toBe(202);
  await settled(() => partition().metrics(), "settled");
  // Within the second its cursor is kept in memory: the alarm stores it, or the next alarm is its only wake.
  await runDurableObjectAlarm(partition());
  const { backlog } = await afterKill(partition);
  expect(backlog).toBe(0);
});
