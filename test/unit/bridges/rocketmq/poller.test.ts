import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AliyunApiError } from "../../../../shared/bridges/alibaba/http.ts";
import { createRocketMQPoller, type RocketMQPollerConfig } from "../../../../shared/bridges/rocketmq/poller.ts";
import type { PolledMessage } from "../../../../shared/bridges/types.ts";
import { startFakeRocketMQ, type FakeRocketMQ } from "../../../fakes/alibaba-mq.ts";

const creds = { accessKeyId: "LTAI5tExampleKeyId0001", accessKeySecret: "ExampleAccessKeySecret0123456789" };
const INSTANCE = "MQ_INST_1234567890123456_BXhFHryi";
let mq: FakeRocketMQ;

beforeEach(async () => {
  mq = await startFakeRocketMQ({ ...creds, instanceId: INSTANCE });
  mq.createTopic("edge-events");
});
afterEach(() => mq.close());

function poller(overrides: Partial<RocketMQPollerConfig> = {}) {
  return createRocketMQPoller(
    {
      endpoint: mq.url,
      instanceId: INSTANCE,
      topic: "edge-events",
      groupId: "GID_edge",
      waitSeconds: 0,
      credentials: creds,
      namespace: "default",
      name: "orders",
      ...overrides,
    },
    fetch,
  );
}

const text = (m: PolledMessage) => (m.event?.data?.kind === "binary" ? new TextDecoder().decode(m.event.data.bytes) : undefined);

describe("RocketMQ poller against the fake RocketMQ HTTP API", () => {
  it("wraps a plain message as a Knative-style event and acks it after commit", async () => {
    const id = mq.publish("edge-events", {
      body: "hello <world> & co",
      tag: "TagA",
      properties: { KEYS: "order-42", __SHARDINGKEY: "shard-7", "trace-Id": "abc" },
    });
    const p = poller();
    const batch = await p.poll();
    expect(batch.messages).toHaveLength(1);
    const [m] = batch.messages;
    expect(m.key).toBe(id);
    expect(m.event?.attributes).toMatchObject({
      specversion: "1.0",
      id,
      type: "dev.edge-eventing.rocketmq.message",
      source: "/apis/v1/namespaces/default/rocketmqsources/orders#edge-events",
      rocketmqtag: "TagA",
      rocketmqkeys: "order-42",
      partitionkey: "shard-7",
      rocketmqproptraceid: "abc",
    });
    expect(Date.parse(m.event!.attributes.time as string)).toBeGreaterThan(Date.now() - 60_000);
    expect(text(m)).toBe("hello <world> & co");

    expect(mq.acked("edge-events", "GID_edge")).toEqual([]);
    await p.commit(batch.messages);
    expect(mq.acked("edge-events", "GID_edge")).toEqual([id]);
    expect((await p.poll()).messages).toEqual([]);
  });

  it("passes a structured CloudEvent body through unchanged", async () => {
    mq.publish("edge-events", { body: JSON.stringify({ specversion: "1.0", id: "42", source: "/shop", type: "order.created", data: { n: 1 } }) });
    const [m] = (await poller().poll()).messages;
    expect(m.event).toEqual({ attributes: { specversion: "1.0", id: "42", source: "/shop", type: "order.created" }, data: { kind: "json", json: '{"n":1}' } });
  });

  it("wraps a body that is not a valid CloudEvent instead of passing it on", async () => {
    mq.publish("edge-events", { body: '{"specversion":"1.0","id":"x"}' });
    const [m] = (await poller().poll()).messages;
    expect(m.event?.attributes.type).toBe("dev.edge-eventing.rocketmq.message");
    expect(text(m)).toBe('{"specversion":"1.0","id":"x"}');
  });

  it("gets an unacknowledged message again after NextConsumeTime, and an expired ack is not an error", async () => {
    const id = mq.publish("edge-events", { body: "b" });
    const p = poller();
    const first = await p.poll();
    expect((await p.poll()).messages).toEqual([]); // invisible until NextConsumeTime
    mq.advance(5 * 60 * 1000 + 1);
    await p.commit(first.messages); // handle expired: MessageNotExist, swallowed
    expect(mq.acked("edge-events", "GID_edge")).toEqual([]);
    const again = await p.poll();
    expect(again.messages.map((m) => m.key)).toEqual([id]);
    await p.commit(again.messages);
    expect(mq.acked("edge-events", "GID_edge")).toEqual([id]);
  });

  it("long-polls: a message published while waiting is returned at once", async () => {
    const started = Date.now();
    const pending = poller({ waitSeconds: 5 }).poll();
    setTimeout(() => mq.publish("edge-events", { body: "late" }), 150);
    const batch = await pending;
    expect(batch.messages.map(text)).toEqual(["late"]);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it("filters by tag", async () => {
    mq.publish("edge-events", { body: "a", tag: "TagA" });
    mq.publish("edge-events", { body: "c", tag: "TagC" });
    mq.publish("edge-events", { body: "b", tag: "TagB" });
    const batch = await poller({ tag: "TagA||TagB" }).poll();
    expect(batch.messages.map(text)).toEqual(["a", "b"]);
    expect(mq.requests[0].url).toContain("&tag=TagA%7C%7CTagB&");
  });

  it("acks at most 16 receipt handles per request", async () => {
    for (let i = 0; i < 20; i++) mq.publish("edge-events", { body: `m${i}` });
    const p = poller({ numOfMessages: 16 });
    const messages = [...(await p.poll()).messages, ...(await p.poll()).messages];
    expect(messages).toHaveLength(20);
    await p.commit(messages);
    expect(mq.acked("edge-events", "GID_edge")).toHaveLength(20);
    expect(mq.requests.filter((r) => r.method === "DELETE").map((r) => r.status)).toEqual([204, 204]);
  });

  it("surfaces a wrong secret, a skewed clock and an unknown topic as typed errors", async () => {
    await expect(poller({ credentials: { ...creds, accessKeySecret: "wrong" } }).poll()).rejects.toMatchObject({
      name: "AliyunApiError",
      status: 403,
      code: "SignatureDoesNotMatch",
    });
    await expect(poller({ now: () => Date.now() - 16 * 60 * 1000 }).poll()).rejects.toMatchObject({ code: "TimeExpired" });
    await expect(poller({ topic: "nope" }).poll()).rejects.toBeInstanceOf(AliyunApiError);
  });

  it("sends the STS token unsigned and stops waiting when aborted", async () => {
    const batch = await poller({ credentials: { ...creds, securityToken: "sts-token" } }).poll();
    expect(batch.messages).toEqual([]);
    expect(mq.requests[0].headers["security-token"]).toBe("sts-token");
    const controller = new AbortController();
    const pending = poller({ waitSeconds: 10 }).poll(controller.signal);
    setTimeout(() => controller.abort(), 100);
    await expect(pending).rejects.toThrow();
  });

  it("refuses out-of-range limits", () => {
    expect(() => poller({ numOfMessages: 17 })).toThrow(/numOfMessages/);
    expect(() => poller({ waitSeconds: 31 })).toThrow(/waitSeconds/);
  });
});
