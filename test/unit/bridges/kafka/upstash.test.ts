import { afterEach, describe, expect, it } from "vitest";
import { createKafkaPoller } from "../../../../shared/bridges/kafka/index.ts";
import { KafkaLog, startUpstashKafkaFake } from "../../../fakes/kafka-rest.ts";
import type { FakeBridge } from "../../../fakes/kafka-rest.ts";
import { ids, memoryStore, pollerConfig } from "./helpers.ts";

const auth = { username: "user", password: "secret" };
const unusedFetch = () => Promise.reject(new Error("@upstash/kafka uses the global fetch"));

let bridge: FakeBridge | undefined;
afterEach(async () => bridge?.close());

async function setup() {
  const log = new KafkaLog();
  log.createTopic("orders", 1);
  bridge = await startUpstashKafkaFake({ log, auth });
  const config = pollerConfig({ type: "upstash", url: bridge.url, auth });
  return { log, bridge, poller: createKafkaPoller(config, unusedFetch, memoryStore()) };
}

describe("upstash (via @upstash/kafka)", () => {
  it("consumes with auto-commit off, maps headers and timestamps, commits the next offset to read", async () => {
    const { log, bridge, poller } = await setup();
    log.produce("orders", { key: "k1", value: "a", timestamp: 1591897790000, headers: [{ key: "trace-id", value: "t1" }] });
    log.produce("orders", { value: "b" });
    const batch = await poller.poll();
    expect(batch.messages[0].event?.attributes).toMatchObject({
      id: "partition:0/offset:0",
      time: "2020-06-11T17:49:50Z",
      key: "k1",
      kafkaheadertraceid: "t1",
    });
    expect(batch.lag).toBe(2);
    const consume = bridge.requests.find((r) => r.path === "/consume/g1/edge-default-ks")!;
    expect(consume.headers["kafka-enable-auto-commit"]).toBe("false");
    expect(consume.headers["kafka-auto-offset-reset"]).toBe("earliest");
    expect(log.groupCommits("g1").size).toBe(0);
    await poller.commit(batch.messages);
    expect(log.groupCommits("g1").get("orders/0")).toBe(2);
  });

  it("re-delivers records not handed off by replacing the consumer instance", async () => {
    const { log, bridge, poller } = await setup();
    for (const v of ["a", "b", "c"]) log.produce("orders", { value: v });
    const first = await poller.poll();
    await poller.commit(first.messages.slice(0, 1));
    const again = await poller.poll();
    expect(ids(again.messages)).toEqual(["partition:0/offset:1", "partition:0/offset:2"]);
    expect(bridge.requests.some((r) => r.path === "/delete-consumer/g1/edge-default-ks")).toBe(true);
  });
});
