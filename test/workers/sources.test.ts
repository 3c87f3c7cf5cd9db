/**
 * Event sources run by the router (issue 4): pollers on their alarm loop against the protocol-faithful
 * fakes and a real redis-server (test/support/global-sources.ts), events checked where a user sees
 * them: at a real HTTP subscriber, in the message system's acknowledgements, and in the source's status.
 * Alarm loops run by themselves; `runDurableObjectAlarm` steps one where a test needs it now.
 */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { describe, expect, inject, it } from "vitest";
import {
  applyEventing,
  applySource,
  control,
  deleteSource,
  getSource,
  kafkaFake,
  kafkaSpec,
  NS,
  poller,
  redisServer,
  redisSpec,
  secrets,
} from "../fakes/sources-client.ts";
import { auth, broker, eventually, received, receivedAtLeast, script, settled, trigger } from "../support/client.ts";

const sub = inject("subscriberUrl");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const lastOffsetCommitted = (commits: Array<{ offsets: Array<{ offset: number }> }>) => commits.at(-1)?.offsets[0]?.offset;

describe("KafkaSource through a Confluent REST proxy", () => {
  it("delivers records to the subscriber as Knative's dev.knative.kafka.event and commits them", async () => {
    const kafka = await kafkaFake("orders");
    await script(sub, "/kafka", [{ status: 200 }]);
    for (let i = 0; i < 3; i++) await kafka.produce({ key: `k${i}`, value: JSON.stringify({ n: i }) });
    await applySource("kafkasources", "orders", kafkaSpec(kafka.url, "orders", { uri: `${sub}/kafka` }));
    const got = await receivedAtLeast(sub, "/kafka", 3);
    expect(got.map((r) => r.headers["ce-id"]).sort()).toEqual(["partition:0/offset:0", "partition:0/offset:1", "partition:0/offset:2"]);
    expect(got[0].headers).toMatchObject({
      "ce-type": "dev.knative.kafka.event",
      "ce-source": `/apis/v1/namespaces/${NS}/kafkasources/orders#orders`,
      "ce-subject": "partition:0#0",
      "ce-key": "k0",
    });
    expect(JSON.parse(got[0].body)).toEqual({ n: 0 });
    // Confluent commits offset + 1 itself: the last handed-off offset is sent, and stored as 3.
    await eventually(async () => (await kafka.committed("g-orders"))["orders/0"] === 3, 10_000, "offset 3 committed");
  });

  it("commits nothing until the sink broker accepted the batch (202), then reports Ready with lag and the last error", async () => {
    const kafka = await kafkaFake("late");
    await kafka.produce({ value: "a" });
    await kafka.produce({ value: "b" });
    // The sink Broker does not exist yet: ingest answers 404, so nothing may be committed.
    await applySource("kafkasources", "late", kafkaSpec(kafka.url, "late", { ref: { apiVersion: "eventing.knative.dev/v1", kind: "Broker", name: "late" } }));
    const failing = await eventually(
      async () => {
        const s = await getSource("kafkasources", "late");
        return s.status?.conditions?.[0]?.reason === "SinkUnavailable" ? s.status : undefined;
      },
      10_000,
      "SinkUnavailable status",
    );
    expect(failing.conditions[0].status).toBe("False");
    expect(failing.lastError).toMatch(/answered 404/);
    expect(await kafka.commits()).toEqual([]);

    await script(sub, "/late", [{ status: 200 }]);
    await applyEventing("brokers", broker("late"));
    await applyEventing("triggers", trigger("late", { broker: "late", subscriber: { uri: `${sub}/late` } }));
    await runDurableObjectAlarm(poller("kafkasources", "late")); // skip the failure backoff
    await receivedAtLeast(sub, "/late", 2);
    const commits = await eventually(
      async () => {
        const c = await kafka.commits();
        return lastOffsetCommitted(c) === 1 ? c : undefined;
      },
      10_000,
      "commit of offset 1",
    );
    expect(commits).toHaveLength(1);
    const status = (await getSource("kafkasources", "late")).status;
    expect(status.conditions[0]).toMatchObject({ type: "Ready", status: "True", reason: "Polling" });
    expect(Date.parse(status.lastPollTime)).toBeGreaterThan(Date.now() - 60_000);
    expect(typeof status.lag).toBe("number");
    expect(status.lastError).toMatch(/answered 404/);
    expect(status.sinkUri).toBe("http://router.test/src/late");
  });

  it("stops committing while the broker's backlog is full (429) and loses nothing once the subscriber drains", async () => {
    const kafka = await kafkaFake("burst");
    await script(sub, "/burst", [{ status: 503 }]);
    await applyEventing("brokers", broker("full", { "edge-eventing.dev/backlog-limit": "2" }));
    await applyEventing(
      "triggers",
      trigger("burst", { broker: "full", subscriber: { uri: `${sub}/burst` }, delivery: { retry: 100, backoffPolicy: "linear", backoffDelay: "PT0.2S" } }),
    );
    await applySource("kafkasources", "burst", kafkaSpec(kafka.url, "burst", { ref: { apiVersion: "eventing.knative.dev/v1", kind: "Broker", name: "full" } }));
    await kafka.produce({ value: "0" });
    await kafka.produce({ value: "1" });
    await eventually(async () => lastOffsetCommitted(await kafka.commits()) === 1, 10_000, "the first two committed");
    for (let i = 2; i < 5; i++) await kafka.produce({ value: String(i) });
    // The subscriber keeps failing: both queued deliveries fill the backlog, the next records get 429.
    const held = await eventually(
      async () => {
        const s = (await getSource("kafkasources", "burst")).status;
        return s?.conditions?.[0]?.reason === "SinkBackpressure" ? s : undefined;
      },
      10_000,
      "backpressure status",
    );
    // Held: what was fetched when the 429 came (the rest stays unfetched in Kafka).
    expect(held.heldMessages).toBeGreaterThanOrEqual(1);
    await sleep(300);
    expect(lastOffsetCommitted(await kafka.commits())).toBe(1);

    await script(sub, "/burst", [{ status: 200 }]);
    const stub = poller("kafkasources", "burst");
    const ids = await eventually(
      async () => {
        await runDurableObjectAlarm(stub); // retry now instead of after Retry-After
        const got = new Set((await received(sub, "/burst")).map((r) => r.headers["ce-id"]));
        return got.size === 5 ? got : undefined;
      },
      20_000,
      "all five records delivered",
    );
    expect([...ids].sort()).toEqual([0, 1, 2, 3, 4].map((o) => `partition:0/offset:${o}`));
    await eventually(async () => lastOffsetCommitted(await kafka.commits()) === 4, 10_000, "all committed");
  });

  it("sends a record that cannot become a CloudEvent to the dead-letter sink with the reason, then moves on", async () => {
    const kafka = await kafkaFake("mixed");
    await script(sub, "/mixed", [{ status: 200 }]);
    await script(sub, "/mixed-dls", [{ status: 202 }]);
    await kafka.produce({ key: "bad\u0001key", value: "x" });
    await kafka.produce({ key: "good", value: "y" });
    await applySource(
      "kafkasources",
      "mixed",
      kafkaSpec(kafka.url, "mixed", { uri: `${sub}/mixed` }, { delivery: { deadLetterSink: { uri: `${sub}/mixed-dls` } } }),
    );
    const [dead] = await receivedAtLeast(sub, "/mixed-dls", 1);
    expect(dead.headers).toMatchObject({
      "ce-type": "dev.edge-eventing.source.poison",
      "ce-subject": "mixed/0/0",
      "ce-id": "poison:mixed/0/0",
      "ce-source": `/apis/v1/namespaces/${NS}/kafkasources/mixed`,
    });
    const body = JSON.parse(dead.body);
    expect(body.key).toBe("mixed/0/0");
    expect(body.reason).toMatch(/cannot become a CloudEvent/);
    expect(atob(dead.headers["ce-knativeerrordata"])).toBe(body.reason);
    const [good] = await receivedAtLeast(sub, "/mixed", 1);
    expect(good.headers["ce-id"]).toBe("partition:0/offset:1");
    await eventually(async () => lastOffsetCommitted(await kafka.commits()) === 1, 10_000, "both committed");
    expect(await received(sub, "/mixed-dls")).toHaveLength(1);
  });

  it("stops polling and deletes its consumer instance when the source is deleted", async () => {
    const kafka = await kafkaFake("gone");
    await script(sub, "/gone", [{ status: 200 }]);
    await kafka.produce({ value: "before" });
    await applySource("kafkasources", "gone", kafkaSpec(kafka.url, "gone", { uri: `${sub}/gone` }));
    await receivedAtLeast(sub, "/gone", 1);
    const r = await deleteSource("kafkasources", "gone");
    expect(r.status).toBe(200);
    expect((await kafka.requests()).some((q) => q.method === "DELETE" && q.path.includes("/instances/"))).toBe(true);
    expect(await runInDurableObject(poller("kafkasources", "gone"), (_o, state) => state.storage.getAlarm())).toBeNull();
    await kafka.produce({ value: "after" });
    await sleep(1500);
    expect(await received(sub, "/gone")).toHaveLength(1);
    expect(await poller("kafkasources", "gone").status()).toEqual({});
  });

  it("runs spec.consumers consumer instances in the group, each polled on its own and committing only the partitions the group gave it", async () => {
    const kafka = await kafkaFake("spread", 6);
    await script(sub, "/spread", [{ status: 200 }]);
    await applySource("kafkasources", "spread", kafkaSpec(kafka.url, "spread", { uri: `${sub}/spread` }, { consumers: 3 }));
    // Records produced once all three members have joined, so the group's assignment is settled.
    await eventually(async () => (await kafka.instances()) === 3, 10_000, "three consumer instances");
    for (let i = 0; i < 30; i++) await kafka.produce({ key: `k${i}`, value: String(i), partition: i % 6 });
    const got = await receivedAtLeast(sub, "/spread", 30, 15_000);
    expect(new Set(got.map((r) => r.headers["ce-subject"])).size).toBe(30);
    await eventually(async () => Object.values(await kafka.committed("g-spread")).reduce((a, b) => a + b, 0) === 30, 10_000, "every partition committed");
    const byInstance = new Map<string, Set<number>>();
    for (const r of await kafka.requests()) {
      if (r.method !== "POST" || !r.path.endsWith("/offsets")) continue;
      const instance = r.path.split("/instances/")[1].split("/")[0];
      for (const o of JSON.parse(r.body).offsets) byInstance.set(instance, new Set([...(byInstance.get(instance) ?? []), o.partition]));
    }
    expect(byInstance.size).toBe(3);
    const partitions = [...byInstance.values()].flatMap((s) => [...s]);
    expect(partitions.sort()).toEqual([0, 1, 2, 3, 4, 5]);
    const status = (await getSource("kafkasources", "spread")).status;
    expect(status.consumers).toBe(3);
    expect(status.conditions.find((c: any) => c.type === "Ready").status).toBe("True");
    // Fewer consumers: the extra instances leave the group (deleted on the bridge).
    await applySource("kafkasources", "spread", kafkaSpec(kafka.url, "spread", { uri: `${sub}/spread` }, { consumers: 1 }));
    await eventually(async () => (await kafka.instances()) === 1, 10_000, "one consumer instance left");
  });
});

describe("KafkaSource manifests", () => {
  const put = (apiVersion: string, name: string, spec: Record<string, unknown>) =>
    exports.default.fetch(`http://router.test/apis/${apiVersion}/namespaces/${NS}/kafkasources/${name}`, {
      method: "PUT",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify({ apiVersion, kind: "KafkaSource", metadata: { name }, spec }),
    });
  const knative = { bootstrapServers: ["kafka:9092"], topics: ["t"], sink: { uri: "https://sink.example/" } };

  it("refuses a Knative manifest without spec.bridge, and a bad bridge, naming the fields", async () => {
    const missing = await put("sources.knative.dev/v1", "nobridge", knative);
    expect(missing.status).toBe(422);
    expect(((await missing.json()) as any).details.causes.map((c: { field: string }) => c.field)).toEqual(["spec.bridge"]);
    const bad = await put("sources.knative.dev/v1alpha1", "badbridge", {
      ...knative,
      topics: ["bad topic"],
      initialOffset: "newest",
      bridge: { type: "kafka", url: "ftp://x", secretKeyRef: { name: "not a name" } },
    });
    expect(bad.status).toBe(422);
    expect(((await bad.json()) as any).details.causes.map((c: { field: string }) => c.field).sort()).toEqual([
      "spec.bridge.secretKeyRef.name",
      "spec.bridge.type",
      "spec.bridge.url",
      "spec.initialOffset",
      "spec.topics[0]",
    ]);
    const good = await put("sources.knative.dev/v1", "fine", { ...knative, bridge: { type: "strimzi", url: "https://bridge.example" } });
    expect(good.status).toBe(201);
    expect(await runInDurableObject(poller("kafkasources", "fine"), (_o, state) => state.storage.getAlarm())).not.toBeNull();
    await deleteSource("kafkasources", "fine");
  });
});

describe("Alibaba Cloud sources through their fakes", () => {
  // Credentials are Worker bindings of the test runtime (vitest.config.ts): the fakes verify the signatures.
  const credentials = {
    accessKeyId: { secretKeyRef: { name: "SECRET_TWILIO_AUTH_TOKEN" } },
    accessKeySecret: { secretKeyRef: { name: "SECRET_SLACK_SIGNING_SECRET" } },
  };
  const keys = () => ({ accessKeyId: secrets.SECRET_TWILIO_AUTH_TOKEN, accessKeySecret: secrets.SECRET_SLACK_SIGNING_SECRET });

  it("RocketMQSource delivers a message and acknowledges it after the hand-off", async () => {
    const mq = await control<{ id: string; url: string }>("start", { type: "rocketmq", ...keys() });
    await control(`${mq.id}/createTopic`, { topic: "orders" });
    await script(sub, "/rocketmq", [{ status: 200 }]);
    await applySource("rocketmqsources", "rmq", {
      endpoint: mq.url,
      topic: "orders",
      groupId: "GID_router",
      waitSeconds: 1,
      ...credentials,
      sink: { uri: `${sub}/rocketmq` },
    });
    const { id } = await control<{ id: string }>(`${mq.id}/publish`, { topic: "orders", body: '{"order":1}', tag: "TagA" });
    const [got] = await receivedAtLeast(sub, "/rocketmq", 1);
    expect(got.headers).toMatchObject({ "ce-type": "dev.edge-eventing.rocketmq.message", "ce-id": id, "ce-rocketmqtag": "TagA" });
    expect(got.body).toBe('{"order":1}');
    await eventually(async () => (await control<string[]>(`${mq.id}/acked`, { topic: "orders", group: "GID_router" })).includes(id), 10_000, "ack");
  });

  it("MNSSource delivers a queue message and deletes it after the hand-off", async () => {
    const mns = await control<{ id: string; url: string }>("start", { type: "mns", ...keys() });
    await control(`${mns.id}/createQueue`, { queue: "jobs" });
    await script(sub, "/mns", [{ status: 200 }]);
    await applySource("mnssources", "mns", { endpoint: mns.url, queue: "jobs", waitSeconds: 1, ...credentials, sink: { uri: `${sub}/mns` } });
    const { id } = await control<{ id: string }>(`${mns.id}/send`, { queue: "jobs", body: "job-1" });
    const [got] = await receivedAtLeast(sub, "/mns", 1);
    expect(got.headers).toMatchObject({ "ce-type": "dev.edge-eventing.mns.message", "ce-id": id });
    expect(got.body).toBe("job-1");
    await eventually(async () => (await control<string[]>(`${mns.id}/remaining`, { queue: "jobs" })).length === 0, 10_000, "message deleted");
  });
});

describe("RedisStreamSource through real redis and the Upstash REST server", () => {
  it("delivers stream entries and acknowledges them", async (ctx) => {
    const redis = await redisServer(ctx);
    const { command } = redis;
    await script(sub, "/redis", [{ status: 200 }]);
    await applySource("redisstreamsources", "rs", redisSpec(redis.url, "orders", { uri: `${sub}/redis` }));
    const id = (await command("XADD", "orders", "*", "data", '{"n":1}', "region", "eu")) as string;
    const [got] = await receivedAtLeast(sub, "/redis", 1);
    expect(got.headers).toMatchObject({ "ce-type": "dev.edge-eventing.redisstream.message", "ce-id": id, "ce-redisfieldregion": "eu" });
    expect(got.body).toBe('{"n":1}');
    await eventually(async () => ((await command("XPENDING", "orders", "router")) as unknown[])[0] === 0, 10_000, "entry acknowledged");
  });
});

describe("PingSource", () => {
  it("emits exactly one event per tick, also when a tick fires twice", async () => {
    await script(sub, "/ping", [{ status: 200 }]);
    // Yearly: the armed tick never fires by itself during the test; the test steps it.
    await applySource("pingsources", "yearly", {
      schedule: "0 0 1 1 *",
      timezone: "UTC",
      contentType: "application/json",
      data: '{"hello":"ping"}',
      sink: { uri: `${sub}/ping` },
    });
    const stub = poller("pingsources", "yearly");
    const armed = await runInDurableObject(stub, (_o, state) => state.storage.getAlarm());
    const year = new Date().getUTCFullYear() + 1;
    expect(armed).toBe(Date.UTC(year, 0, 1));

    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const [first] = await receivedAtLeast(sub, "/ping", 1);
    expect(first.headers).toMatchObject({
      "ce-type": "dev.knative.sources.ping",
      "ce-id": new Date(Date.UTC(year, 0, 1)).toISOString(),
      "ce-source": `/apis/v1/namespaces/${NS}/pingsources/yearly`,
    });
    expect(JSON.parse(first.body)).toEqual({ hello: "ping" });

    // The same tick again, as when the runtime retries an alarm whose handler died after the ingest.
    await runInDurableObject(stub, async (_o, state) => {
      state.storage.sql.exec("UPDATE kv SET value = ? WHERE key = 'tick'", String(Date.UTC(year, 0, 1)));
      await state.storage.setAlarm(Date.UTC(year, 0, 1));
    });
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    // The source's channel settles only once what it took is delivered: a second event would be by then.
    await settled(() => env.BROKER.getByName(`${NS}/source:pingsource:yearly`).metrics(), "sink");
    expect(await received(sub, "/ping")).toHaveLength(1);

    // The next step is the next tick.
    expect(await runInDurableObject(stub, (_o, state) => state.storage.getAlarm())).toBe(Date.UTC(year + 1, 0, 1));
    await runDurableObjectAlarm(stub);
    const both = await receivedAtLeast(sub, "/ping", 2);
    expect(both[1].headers["ce-id"]).toBe(new Date(Date.UTC(year + 1, 0, 1)).toISOString());
    const status = (await getSource("pingsources", "yearly")).status;
    expect(status.conditions[0]).toMatchObject({ type: "Ready", status: "True" });
    expect(status.lastPollTime).toBe(new Date(Date.UTC(year + 1, 0, 1)).toISOString());
  });
});
