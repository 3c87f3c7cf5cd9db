/**
 * A broker partition killed (every object's memory gone, storage kept: abortAllDurableObjects) with a
 * first attempt in flight, and nothing calling it afterwards: what brings the event back is the alarm it
 * stored before answering 202. The reliability crash test (test/reliability/crash.test.ts) meets the same
 * case by chance under SIGKILL; here it is one event, every time.
 */
import { abortAllDurableObjects, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { expect, inject, it } from "vitest";
import { SAFETY_WAKE_MS } from "../../durable-objects/broker/dispatch.ts";
import { partitionObjectName } from "../../shared/partitions.ts";
import { binaryEvent, broker, eventually, received, receivedAtLeast, resourcePath, script, trigger } from "../support/client.ts";
import { applyManifest } from "../support/manifests.ts";

const NS = "restart";
const sub = inject("subscriberUrl");
const fetchRouter = (path: string, init?: RequestInit) => exports.default.fetch(`http://router.test${path}`, init);
const apply = (plural: string, body: { metadata: { name: string } }) => applyManifest(fetchRouter, resourcePath(NS, plural, body.metadata.name), body);

it("a partition killed while a first attempt is in flight, and called by nobody after, delivers the event again from its stored alarm", async () => {
  // The first event is answered at once; the second's first attempt hangs until the kill; then 200 again.
  await script(sub, "/restart", [{ status: 200 }, { status: 200, delayMs: 20_000 }, { status: 200 }]);
  await apply("brokers", broker("b"));
  await apply("triggers", trigger("t", { broker: "b", subscriber: { uri: `${sub}/restart` } }));
  // A stub breaks with the object it reached: each step takes a new one.
  const partition = () => env.BROKER.getByName(partitionObjectName(NS, "b", 0));

  // A broker that has run a while: its first alarm (the log's expiry) has come, the next is far off.
  expect((await fetchRouter(`/${NS}/b`, binaryEvent("before"))).status).toBe(202);
  await receivedAtLeast(sub, "/restart", 1);
  await runDurableObjectAlarm(partition());

  expect((await fetchRouter(`/${NS}/b`, binaryEvent("in-flight"))).status).toBe(202);
  await receivedAtLeast(sub, "/restart", 2);
  await abortAllDurableObjects();

  // The restarted object rebuilt the event's lane from the log above the stored cursor; only its alarm
  // wakes it, and it must come soon, not with the log's expiry a retention period later.
  const alarm = await runInDurableObject(partition(), (_, state) => state.storage.getAlarm());
  expect(alarm).not.toBeNull();
  expect(alarm! - Date.now()).toBeLessThanOrEqual(SAFETY_WAKE_MS);
  expect(await runDurableObjectAlarm(partition())).toBe(true);
  // Sent again (and "before" too, when the kill came before its cursor was stored: at least once).
  await eventually(async () => (await received(sub, "/restart")).filter((r) => r.headers["ce-id"] === "in-flight").length === 2, 10_000, "the redelivery");
});
