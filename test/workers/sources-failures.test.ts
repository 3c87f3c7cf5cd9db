/**
 * Failure paths of the source pollers (issue 4) in workerd, through the router: the poller killed while
 * it holds a batch (real redis-server), the Kafka bridge down, its consumer instance expired, 5xx in the
 * middle of a batch, a slow sink. Each ends the same way: every record reaches the subscriber (repeats
 * are allowed at-least-once and counted), and the message system shows it committed.
 * `runDurableObjectAlarm` steps the loop past its backoff or Retry-After where a test needs it now.
 */
import { abortAllDurableObjects, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, inject, it } from "vitest";
import { applyEventing, applySource, control, getSource, kafkaFake, kafkaSpec, poller, redisServer, redisSpec, secrets } from "../fakes/sources-client.ts";
import { broker, eventually, received, script, trigger } from "../support/client.ts";

const sub = inject("subscriberUrl");
const brokerSink = (name: string) => ({ ref: { apiVersion: "eventing.knative.dev/v1", kind: "Broker", name } });
/** A broker whose backlog holds `limit` deliveries, with a trigger to the subscriber at `path` retrying quickly. */
async function smallBroker(name: string, limit: number, path: string): Promise<void> {
  await applyEventing("brokers", broker(name, { "edge-eventing.dev/backlog-limit": String(limit) }));
  await applyEventing(
    "triggers",
    trigger(name, { broker: name, subscriber: { uri: `${sub}${path}` }, delivery: { retry: 100, backoffPolicy: "linear", backoffDelay: "PT0.2S" } }),
  );
}

/** Distinct event ids the subscriber got at `path`, and how many deliveries repeated one. */
async function tally(path: string): Promise<{ ids: string[]; duplicates: number }> {
  const got = (await received(sub, path)).map((r) => r.headers["ce-id"]);
  const ids = [...new Set(got)].sort();
  return { ids, duplicates: got.length - ids.length };
}

/** Step the poller's loop until the subscriber has `n` distinct events. */
async function stepUntilDelivered(plural: string, name: string, path: string, n: number, timeoutMs = 20_000) {
  const stub = poller(plural, name);
  return eventually(
    async () => {
      await runDurableObjectAlarm(stub);
      const t = await tally(path);
      return t.ids.length >= n ? t : undefined;
    },
    timeoutMs,
    `${n} distinct events at ${path}`,
  );
}

const statusReason = (plural: string, name: string, reason: string) =>
  eventually(
    async () => {
      const s = (await getSource(plural, name)).status;
      return s?.conditions?.[0]?.reason === reason ? s : undefined;
    },
    15_000,
    `${name} status ${reason}`,
  );

const offsets = (n: number) => Array.from({ length: n }, (_, i) => `partition:0/offset:${i}`).sort();
const lastCommitted = (commits: Array<{ offsets: Array<{ offset: number }> }>) => commits.at(-1)?.offsets[0]?.offset;

describe("RedisStreamSource against real redis: the poller killed mid-batch", () => {
  it("loses no entry: what the dead poller read but never acknowledged is reclaimed with XAUTOCLAIM", async (ctx) => {
    const redis = await redisServer(ctx);
    const { command } = redis;
    // The subscriber fails, so the broker's backlog (2) fills and the poller holds the rest of its batch.
    await script(sub, "/rkill", [{ status: 503 }]);
    await smallBroker("rkill", 2, "/rkill");
    const added: string[] = [];
    for (let i = 0; i < 10; i++) added.push((await command("XADD", "killed", "*", "data", `{"n":${i}}`)) as string);
    await applySource("redisstreamsources", "rkill", redisSpec(redis.url, "killed", brokerSink("rkill"), { minIdleTime: "PT1S" }));
    const held = await statusReason("redisstreamsources", "rkill", "SinkBackpressure");
    expect(held.heldMessages).toBeGreaterThan(0);
    const pending = () => command("XPENDING", "killed", "router") as Promise<[number, ...unknown[]]>;
    expect((await pending())[0]).toBe(held.heldMessages); // read by the poller, not acknowledged

    // Kill: the held batch lived only in the poller's memory. Its alarm survives in storage.
    await abortAllDurableObjects();
    await script(sub, "/rkill", [{ status: 200 }]);
    const { ids, duplicates } = await stepUntilDelivered("redisstreamsources", "rkill", "/rkill", added.length);
    expect(ids).toEqual([...added].sort());
    console.log(`redis kill mid-batch: ${added.length} entries delivered, ${duplicates} duplicates`);
    await eventually(async () => (await pending())[0] === 0, 10_000, "every entry acknowledged");
  });
});

describe("KafkaSource failure paths through a Confluent REST proxy", () => {
  it("bridge down: Ready False with the error, backs off, and delivers everything once the bridge is back", async () => {
    const kafka = await kafkaFake("down");
    await script(sub, "/down", [{ status: 200 }]);
    await kafka.produce({ value: "0" });
    await kafka.produce({ value: "1" });
    await applySource("kafkasources", "down", kafkaSpec(kafka.url, "down", { uri: `${sub}/down` }));
    await eventually(async () => lastCommitted(await kafka.commits()) === 1, 10_000, "the first two committed");

    await kafka.stop();
    for (let i = 2; i < 5; i++) await kafka.produce({ value: String(i) });
    const failing = await statusReason("kafkasources", "down", "PollFailed");
    expect(failing.conditions[0]).toMatchObject({ status: "False", message: expect.stringMatching(/^poll: /) });
    expect(failing.lastError).toMatch(/^poll: /);
    // Each failed cycle waits longer before the next (1 s doubling).
    const stub = poller("kafkasources", "down");
    const delays: number[] = [];
    for (let i = 0; i < 3; i++) {
      await runDurableObjectAlarm(stub);
      delays.push((await runInDurableObject(stub, (_o, state) => state.storage.getAlarm()))! - Date.now());
    }
    expect(delays[2]).toBeGreaterThan(delays[0]);
    expect(delays[2]).toBeGreaterThan(2_000);

    // Back, its consumer instances gone as after a real restart: a new one resumes at the committed offset.
    await kafka.restart();
    const { ids, duplicates } = await stepUntilDelivered("kafkasources", "down", "/down", 5);
    expect(ids).toEqual(offsets(5));
    expect(duplicates).toBe(0); // nothing was handed off twice: records 0-1 were committed before the outage
    await eventually(async () => (await kafka.committed("g-down"))["down/0"] === 5, 10_000, "offset 5 committed");
    expect((await getSource("kafkasources", "down")).status.conditions[0]).toMatchObject({ status: "True", reason: "Polling" });
  });

  it("instance expired between fetch and commit: the commit fails, a new instance fetches again, nothing lost", async () => {
    const kafka = await kafkaFake("expiry");
    await script(sub, "/expiry", [{ status: 503 }]);
    await smallBroker("expiry", 2, "/expiry");
    await applySource("kafkasources", "expiry", kafkaSpec(kafka.url, "expiry", brokerSink("expiry")));
    await kafka.produce({ value: "0" });
    await kafka.produce({ value: "1" });
    await eventually(async () => lastCommitted(await kafka.commits()) === 1, 10_000, "the first two committed");
    for (let i = 2; i < 5; i++) await kafka.produce({ value: String(i) });
    await statusReason("kafkasources", "expiry", "SinkBackpressure"); // fetched, held, uncommitted

    expect(await kafka.expireInstances()).toBe(1);
    await script(sub, "/expiry", [{ status: 200 }]);
    const { ids, duplicates } = await stepUntilDelivered("kafkasources", "expiry", "/expiry", 5);
    expect(ids).toEqual(offsets(5));
    console.log(`kafka instance expiry: 5 records delivered, ${duplicates} duplicates`);
    await eventually(async () => (await kafka.committed("g-expiry"))["expiry/0"] === 5, 10_000, "offset 5 committed");
    const creates = (await kafka.requests()).filter((r) => r.method === "POST" && r.path === "/consumers/g-expiry");
    expect(creates).toHaveLength(2);
    expect((await getSource("kafkasources", "expiry")).status.lastError).toMatch(/expired before the commit/);
  });

  it("5xx on the fetch and on the commit after hand-off: retried, records fetched again, none lost", async () => {
    const kafka = await kafkaFake("flaky");
    await script(sub, "/flaky", [{ status: 200 }]);
    for (let i = 0; i < 5; i++) await kafka.produce({ value: String(i) });
    await kafka.failNext(1, 500, { method: "GET", path: "/records" });
    await kafka.failNext(1, 500, { method: "POST", path: "/offsets" });
    await applySource("kafkasources", "flaky", kafkaSpec(kafka.url, "flaky", { uri: `${sub}/flaky` }));

    const { ids, duplicates } = await stepUntilDelivered("kafkasources", "flaky", "/flaky", 5);
    expect(ids).toEqual(offsets(5));
    console.log(`kafka 5xx mid-batch: 5 records delivered, ${duplicates} duplicates`);
    await eventually(async () => (await kafka.committed("g-flaky"))["flaky/0"] === 5, 10_000, "offset 5 committed");
    const requests = await kafka.requests();
    // The refused commit is not the end: the position goes back to the first uncommitted record.
    expect(requests.filter((r) => r.method === "POST" && r.path.endsWith("/offsets"))).toHaveLength(2);
    expect(requests.some((r) => r.method === "POST" && r.path.endsWith("/positions"))).toBe(true);
    const status = (await getSource("kafkasources", "flaky")).status;
    expect(status.conditions[0]).toMatchObject({ status: "True", reason: "Polling" });
    expect(status.lastError).toMatch(/^commit: .*500/);
  });

  it("slow sink: the broker's backlog answers 429 and holds the poller; every record arrives, committed in order", async () => {
    const kafka = await kafkaFake("slow");
    await script(sub, "/slow", [{ status: 200, delayMs: 100 }]);
    await smallBroker("slow", 3, "/slow");
    for (let i = 0; i < 20; i++) await kafka.produce({ value: String(i) });
    await applySource("kafkasources", "slow", kafkaSpec(kafka.url, "slow", brokerSink("slow")));
    const held = await statusReason("kafkasources", "slow", "SinkBackpressure");
    expect(held.heldMessages).toBeGreaterThan(0);
    expect(held.conditions[0].message).toMatch(/answered 429: broker backlog is full/);

    const { ids } = await stepUntilDelivered("kafkasources", "slow", "/slow", 20, 25_000);
    expect(ids).toEqual(offsets(20));
    await eventually(async () => (await kafka.committed("g-slow"))["slow/0"] === 20, 10_000, "offset 20 committed");
    const committedOffsets = (await kafka.commits()).map((c) => c.offsets[0].offset);
    expect(committedOffsets).toEqual([...committedOffsets].sort((a, b) => a - b));
  });
});

describe("MNSSource failure path through its fake", () => {
  it("5xx on the delete after hand-off: the messages come back after VisibilityTimeout and are deleted then, none lost", async () => {
    const keys = { accessKeyId: secrets.SECRET_TWILIO_AUTH_TOKEN, accessKeySecret: secrets.SECRET_SLACK_SIGNING_SECRET };
    const mns = await control<{ id: string; url: string }>("start", { type: "mns", ...keys });
    await control(`${mns.id}/createQueue`, { queue: "retry" });
    await script(sub, "/mns-retry", [{ status: 200 }]);
    const sent: string[] = [];
    for (let i = 0; i < 3; i++) sent.push((await control<{ id: string }>(`${mns.id}/send`, { queue: "retry", body: `job-${i}` })).id);
    await control(`${mns.id}/failNext`, { count: 1, status: 500, method: "DELETE" });
    await applySource("mnssources", "retry", {
      endpoint: mns.url,
      queue: "retry",
      waitSeconds: 1,
      sink: { uri: `${sub}/mns-retry` },
      accessKeyId: { secretKeyRef: { name: "SECRET_TWILIO_AUTH_TOKEN" } },
      accessKeySecret: { secretKeyRef: { name: "SECRET_SLACK_SIGNING_SECRET" } },
    });
    const failed = await statusReason("mnssources", "retry", "CommitFailed");
    expect(failed.conditions[0].message).toMatch(/^commit: .*500/);
    expect(await control<string[]>(`${mns.id}/remaining`, { queue: "retry" })).toEqual(sent);

    await control(`${mns.id}/advance`, { ms: 31_000 }); // past the queue's 30 s VisibilityTimeout
    await eventually(
      async () => {
        await runDurableObjectAlarm(poller("mnssources", "retry"));
        return (await control<string[]>(`${mns.id}/remaining`, { queue: "retry" })).length === 0;
      },
      15_000,
      "every message deleted",
    );
    const { ids, duplicates } = await tally("/mns-retry");
    expect(ids).toEqual([...sent].sort());
    console.log(`mns 5xx on delete: 3 messages delivered, ${duplicates} duplicates`);
  });
});
