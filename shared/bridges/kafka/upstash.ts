/**
 * Upstash Kafka through `@upstash/kafka` (reference/bridges.md §5). Upstash discontinued the service
 * on 2025-03-11; this stays for clusters and compatible servers that still speak its REST API.
 * The library calls the global `fetch` and retries every failed request itself (up to 6 attempts).
 */
import { Kafka } from "@upstash/kafka";
import type { BridgeClient, ConsumerInstance, FetchedRecord } from "./bridge.ts";
import { partitionId } from "./bridge.ts";
import type { KafkaPollerConfig } from "./config.ts";
import { DEFAULT_POLL_TIMEOUT_MS } from "./config.ts";

const utf8 = new TextEncoder();

export function createUpstashClient(config: KafkaPollerConfig): BridgeClient {
  const auth = config.bridge.auth;
  if (!auth || !("username" in auth)) throw new Error("spec.bridge.secretKeyRef: upstash needs a username and password");
  const kafka = new Kafka({ url: config.bridge.url, username: auth.username, password: auth.password });
  const consumer = kafka.consumer();
  const admin = kafka.admin();
  const group = config.consumerGroup;
  const root = config.bridge.url.replace(/\/+$/, "");

  return {
    // Sessions close when idle (Kafka-Session-Timeout-Ms defaults to 120 s); a closed one is recreated by the next consume.
    defaultIdleExpiryMs: 120_000,

    // The first consume creates the instance; nothing to do until then.
    async create(name): Promise<ConsumerInstance> {
      return { name, baseUri: `${root}/consume/${encodeURIComponent(group)}/${encodeURIComponent(name)}` };
    },

    async fetch(instance) {
      const messages = await consumer.consume({
        consumerGroupId: group,
        instanceId: instance.name,
        topics: config.topics,
        timeout: config.pollTimeoutMs ?? DEFAULT_POLL_TIMEOUT_MS,
        autoCommit: false, // Upstash's default commits records never handed off
        autoOffsetReset: config.initialOffset,
      });
      return messages.map(
        (m): FetchedRecord => ({
          topic: m.topic,
          partition: m.partition,
          offset: m.offset,
          key: m.key ? utf8.encode(m.key) : null,
          value: m.value == null ? null : utf8.encode(m.value),
          timestamp: m.timestamp,
          headers: (m.headers ?? []).map((h) => ({ key: h.key, value: h.value == null ? null : utf8.encode(h.value) })),
        }),
      );
    },

    async commit(instance, offsets) {
      if (offsets.length === 0) return; // an empty body would commit everything consumed
      // Stored verbatim: send the next offset to read.
      const offset = offsets.map((o) => ({ topic: o.topic, partition: o.partition, offset: o.lastOffset + 1 }));
      await consumer.commit({ consumerGroupId: group, instanceId: instance.name, offset });
    },

    async seek() {
      return false; // no seek: removing the instance makes the next consume resume at the committed offsets
    },

    async touch(instance, committed) {
      if (committed.length === 0) return false;
      await consumer.committed({
        consumerGroupId: group,
        instanceId: instance.name,
        topicPartitions: committed.map(({ topic, partition }) => ({ topic, partition })),
      });
      return true;
    },

    async remove(instance) {
      await admin.removeConsumerInstance(group, instance.name);
    },

    async endOffsets(partitions) {
      const ends = await admin.topicPartitionOffsets({ timestamp: "latest", topicPartitions: partitions });
      return new Map(ends.map((e) => [partitionId(e), e.offset]));
    },
  };
}
