import { afterEach, describe, expect, it } from "vitest";
import { pinnedInstanceUri } from "../../../../shared/bridges/kafka/rest-proxy.ts";
import { createKafkaPoller, validateKafkaPollerConfig } from "../../../../shared/bridges/kafka/index.ts";
import { partitionOffsets } from "../../../../shared/bridges/kafka/poller.ts";
import type { KafkaPollerConfig } from "../../../../shared/bridges/kafka/index.ts";
import type { PolledMessage } from "../../../../shared/bridges/types.ts";
import { KafkaLog, startKafkaRestFake } from "../../../fakes/kafka-rest.ts";
import type { FakeBridge, RestVariant } from "../../../fakes/kafka-rest.ts";
import { ids, memoryStore, pollerConfig } from "./helpers.ts";

const config = (type: RestVariant, url: string, extra: Partial<KafkaPollerConfig> = {}) => pollerConfig({ type, url }, extra);
const isCommit = (r: { method: string; path: string }) => r.method === "POST" && /\/instances\/[^/]+\/offsets$/.test(r.path);
const creates = (fake: FakeBridge) => fake.requests.filter((r) => r.method === "POST" && /^\/consumers\/[^/]+$/.test(r.path));

let fakes: FakeBridge[] = [];
async function fake(variant: RestVariant, options: Parameters<typeof startKafkaRestFake>[1] = {}) {
  const log = options.log ?? new KafkaLog();
  if (!log.topics.has("orders")) log.createTopic("orders", 1);
  const started = await startKafkaRestFake(variant, { ...options, log });
  fakes.push(started);
  return started;
}
afterEach(async () => {
  await Promise.all(fakes.map((f) => f.close()));
  fakes = [];
});

// Offset stored in Kafka after handing off offsets 0..2, by each server's arithmetic (reference §0).
const storedAfterThree: Record<RestVariant, number> = { "confluent-v2": 3, redpanda: 2, strimzi: 3 };

describe.each(["confluent-v2", "redpanda", "strimzi"] as const)("%s", (variant) => {
  it("commits only after hand-off, with the server's commit body and arithmetic", async () => {
    const bridge = await fake(variant);
    for (const v of ["a", "b", "c"]) bridge.log.produce("orders", { value: v });
    const poller = createKafkaPoller(config(variant, bridge.url), fetch, memoryStore());
    const batch = await poller.poll();
    expect(ids(batch.messages)).toEqual(["partition:0/offset:0", "partition:0/offset:1", "partition:0/offset:2"]);
    expect(bridge.log.groupCommits("g1").size).toBe(0); // nothing committed before hand-off
    await poller.commit(batch.messages);
    expect(bridge.log.groupCommits("g1").get("orders/0")).toBe(storedAfterThree[variant]);
    const commit = bridge.requests.find(isCommit)!;
    const listKey = variant === "redpanda" ? "partitions" : "offsets";
    expect(Object.keys(JSON.parse(commit.body))).toEqual([listKey]);
    expect((await poller.poll()).messages).toEqual([]);
  });

  it("re-delivers what was not handed off, and nothing already committed", async () => {
    const bridge = await fake(variant);
    for (const v of ["a", "b", "c"]) bridge.log.produce("orders", { value: v });
    const poller = createKafkaPoller(config(variant, bridge.url), fetch, memoryStore());
    const first = await poller.poll();
    await poller.commit(first.messages.slice(0, 1)); // the sink refused the second (429): stop there
    const again = await poller.poll();
    expect(ids(again.messages)).toEqual(["partition:0/offset:1", "partition:0/offset:2"]);
    await poller.commit(again.messages);
    expect((await poller.poll()).messages).toEqual([]);
    // never the empty-body "commit everything fetched"
    const commits = bridge.requests.filter(isCommit);
    expect(commits.length).toBeGreaterThan(0);
    for (const r of commits) expect(r.body).not.toBe("");
  });

  it("commits a partition only up to the first record not handed off", async () => {
    const bridge = await fake(variant);
    for (const v of ["a", "b", "c"]) bridge.log.produce("orders", { value: v });
    const poller = createKafkaPoller(config(variant, bridge.url), fetch, memoryStore());
    const batch = await poller.poll();
    await poller.commit([batch.messages[0], batch.messages[2]]);
    expect(bridge.log.groupCommits("g1").get("orders/0")).toBe(storedAfterThree[variant] - 2);
    expect(ids((await poller.poll()).messages)).toEqual(["partition:0/offset:1", "partition:0/offset:2"]);
  });

  it("resumes after eviction from the saved state, with the same consumer instance", async () => {
    const bridge = await fake(variant);
    bridge.log.produce("orders", { value: "a" });
    const store = memoryStore();
    const before = await createKafkaPoller(config(variant, bridge.url), fetch, store).poll();
    const after = createKafkaPoller(config(variant, bridge.url), fetch, store); // a new object, same storage
    expect(ids((await after.poll()).messages)).toEqual(ids(before.messages));
    expect((await after.status()).instanceUri).toBe(store.saved?.instance?.baseUri);
    // Redpanda cannot seek: it re-delivers through a fresh instance; the others seek on the same one.
    expect(creates(bridge)).toHaveLength(variant === "redpanda" ? 2 : 1);
  });

  it("recreates an instance the server no longer knows (40403) and loses nothing", async () => {
    const bridge = await fake(variant);
    bridge.log.produce("orders", { value: "a" });
    const poller = createKafkaPoller(config(variant, bridge.url), fetch, memoryStore());
    await poller.poll(); // fetched, never handed off
    bridge.log.instances.clear(); // proxy restarted
    const batch = await poller.poll();
    expect(ids(batch.messages)).toEqual(["partition:0/offset:0"]);
    await poller.commit(batch.messages);
    expect(bridge.log.groupCommits("g1").get("orders/0")).toBe(variant === "redpanda" ? 0 : 1);
  });

  it("reports a record that cannot become a CloudEvent as poison and moves on once it is committed", async () => {
    const bridge = await fake(variant);
    bridge.log.produce("orders", { key: "bad\u0001key", value: "x" });
    bridge.log.produce("orders", { key: "good", value: "y" });
    const poller = createKafkaPoller(config(variant, bridge.url), fetch, memoryStore());
    const batch = await poller.poll();
    expect(batch.messages[0]).toEqual({ key: "orders/0/0", poison: expect.stringMatching(/cannot become a CloudEvent.*key/) });
    expect(batch.messages[1].event?.attributes.key).toBe("good");
    await poller.commit(batch.messages); // the poison went to the dead-letter sink
    expect((await poller.poll()).messages).toEqual([]);
  });
});

describe("consumer instances", () => {
  it("pins the proxy's base_uri to the bridge's origin: no call, and no credential, goes to another host", async () => {
    const bridge = await fake("confluent-v2");
    // The proxy advertises its own host (as one behind a gateway does); the router reaches it only as gw.invalid.
    const called: string[] = [];
    const gateway = (input: string, init?: RequestInit) => {
      called.push(new URL(input).origin);
      return fetch(input.replace("https://gw.invalid", bridge.url), init);
    };
    for (const v of ["a", "b"]) bridge.log.produce("orders", { value: v });
    const poller = createKafkaPoller(
      config("confluent-v2", "https://gw.invalid", { bridge: { type: "confluent-v2", url: "https://gw.invalid", auth: { token: "t0ken" } } }),
      gateway,
      memoryStore(),
    );
    const batch = await poller.poll();
    await poller.commit(batch.messages);
    expect(ids(batch.messages)).toEqual(["partition:0/offset:0", "partition:0/offset:1"]);
    expect(new Set(called)).toEqual(new Set(["https://gw.invalid"]));
    expect(bridge.requests.filter((r) => r.path.includes("/instances/")).length).toBeGreaterThan(2);
  });

  it("keeps a base_uri on the bridge's own origin as given (instance affinity behind one origin)", () => {
    const group = "https://kafka.example/rest/consumers/g";
    expect(pinnedInstanceUri("https://kafka.example/node-2/consumers/g/instances/c1", group, "c1")).toBe(
      "https://kafka.example/node-2/consumers/g/instances/c1",
    );
    expect(pinnedInstanceUri("http://10.0.0.7:8082/consumers/g/instances/c1", group, "c1")).toBe("https://kafka.example/rest/consumers/g/instances/c1");
    expect(pinnedInstanceUri("https://attacker.example/consumers/g/instances/c%201", group, "c 1")).toBe(
      "https://kafka.example/rest/consumers/g/instances/c%201",
    );
  });

  it("keeps an idle instance alive before the server expires it, and replaces an expired one without a 404", async () => {
    let clock = 1_000_000;
    const now = () => clock;
    const bridge = await fake("confluent-v2", { now, idleExpiryMs: 60_000 });
    bridge.log.produce("orders", { value: "a" });
    const poller = createKafkaPoller(
      config("confluent-v2", bridge.url, { bridge: { type: "confluent-v2", url: bridge.url, idleExpiryMs: 60_000 } }),
      fetch,
      memoryStore(),
      now,
    );
    await poller.commit((await poller.poll()).messages);
    clock += 40_000;
    await poller.keepAlive(); // past half the expiry: touches the instance
    clock += 40_000; // 80 s since the fetch, 40 s since the touch
    bridge.log.produce("orders", { value: "b" });
    expect(ids((await poller.poll()).messages)).toEqual(["partition:0/offset:1"]);
    expect(creates(bridge)).toHaveLength(1);

    clock += 120_000; // idle past the expiry: the poller knows the instance is gone
    const before = bridge.requests.length;
    const batch = await poller.poll();
    expect(ids(batch.messages)).toEqual(["partition:0/offset:1"]); // fetched, never committed: again
    expect(creates(bridge)).toHaveLength(2);
    expect(bridge.requests.slice(before)[0].method).toBe("POST"); // straight to create, no 404 round trip
  });

  it("reads only the assigned partition with a manual assignment", async () => {
    const log = new KafkaLog();
    log.createTopic("orders", 2);
    const bridge = await fake("strimzi", { log });
    log.produce("orders", { value: "p0", partition: 0 });
    log.produce("orders", { value: "p1", partition: 1 });
    const poller = createKafkaPoller(config("strimzi", bridge.url, { assignment: [{ topic: "orders", partition: 1 }] }), fetch, memoryStore());
    const batch = await poller.poll();
    expect(ids(batch.messages)).toEqual(["partition:1/offset:0"]);
    expect(bridge.requests.some((r) => r.path.endsWith("/assignments"))).toBe(true);
  });

  it("starts at the end of the log for initialOffset latest", async () => {
    const bridge = await fake("confluent-v2");
    bridge.log.produce("orders", { value: "old" });
    const poller = createKafkaPoller(config("confluent-v2", bridge.url, { initialOffset: "latest" }), fetch, memoryStore());
    expect((await poller.poll()).messages).toEqual([]);
    bridge.log.produce("orders", { value: "new" });
    expect(ids((await poller.poll()).messages)).toEqual(["partition:0/offset:1"]);
  });
});

describe("Strimzi max_bytes 422", () => {
  it("recreates the instance and doubles max_bytes: the dropped records come again", async () => {
    const bridge = await fake("strimzi");
    const big = "x".repeat(600);
    for (let i = 0; i < 3; i++) bridge.log.produce("orders", { value: big });
    const store = memoryStore();
    const poller = createKafkaPoller(config("strimzi", bridge.url, { bridge: { type: "strimzi", url: bridge.url, maxBytes: 1024 } }), fetch, store);
    const got: PolledMessage[] = [];
    for (let i = 0; i < 5 && got.length < 3; i++) {
      const batch = await poller.poll();
      got.push(...batch.messages);
      await poller.commit(batch.messages);
    }
    expect(ids(got)).toEqual(["partition:0/offset:0", "partition:0/offset:1", "partition:0/offset:2"]);
    expect(store.saved?.maxBytes).toBe(4096);
    expect(bridge.requests.filter((r) => r.path.endsWith("/records")).map((r) => r.query.get("max_bytes"))).toEqual(["1024", "2048", "4096"]);
  });
});

describe("status", () => {
  it("reports lag where the bridge exposes end offsets, the last poll time and the last error", async () => {
    const bridge = await fake("confluent-v2");
    for (const v of ["a", "b", "c", "d", "e"]) bridge.log.produce("orders", { value: v });
    let clock = 5_000;
    const store = memoryStore();
    const poller = createKafkaPoller(config("confluent-v2", bridge.url), fetch, store, () => clock);
    const batch = await poller.poll();
    expect(batch.lag).toBe(5);
    expect(await poller.status()).toMatchObject({ lastPollAt: 5_000, lag: 5, lastError: undefined });
    // KEDA's per-partition figures: fetched and uncommitted records are still lag; committed ones are not.
    expect(partitionOffsets(store.saved!)).toEqual([{ topic: "orders", partition: 0, committed: 0, latest: 5 }]);
    await poller.commit(batch.messages.slice(0, 3));
    expect(partitionOffsets(store.saved!)).toEqual([{ topic: "orders", partition: 0, committed: 3, latest: 5 }]);
    await bridge.close();
    clock += 1_000;
    await expect(poller.poll()).rejects.toThrow();
    expect((await poller.status()).lastError).toBeTruthy();
  });
});

describe("validateKafkaPollerConfig", () => {
  it("names the field of each problem", () => {
    const fields = (c: Partial<KafkaPollerConfig>) => validateKafkaPollerConfig({ ...config("confluent-v2", "https://x"), ...c }).map((e) => e.field);
    expect(fields({})).toEqual([]);
    expect(fields({ topics: ["bad topic"] })).toEqual(["spec.topics[0]"]);
    expect(fields({ bridge: { type: "redpanda", url: "https://x" }, initialOffset: "latest" })).toEqual(["spec.initialOffset"]);
    expect(fields({ bridge: { type: "upstash", url: "https://x", auth: { token: "t" } } })).toEqual(["spec.bridge.secretKeyRef"]);
    expect(fields({ bridge: { type: "redpanda", url: "ftp://x" }, assignment: [{ topic: "orders", partition: 0 }] })).toEqual([
      "spec.bridge.url",
      "spec.assignment",
    ]);
    expect(fields({ pollTimeoutMs: 60_000 })).toEqual(["spec.pollTimeoutMs"]);
    // Credentials go over https only; plain http is for this machine (local development, the test fakes).
    for (const url of ["http://kafka.example", "http://10.0.0.7:8082"]) expect(fields({ bridge: { type: "redpanda", url } })).toEqual(["spec.bridge.url"]);
    for (const url of ["http://localhost:8082", "http://127.0.0.1:8082", "http://[::1]:8082"])
      expect(fields({ bridge: { type: "redpanda", url } })).toEqual([]);
  });
});
