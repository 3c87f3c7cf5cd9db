/** The KafkaSource spec: v1alpha1's comma-separated topics, and what a missing bridge tells the user. */
import { describe, expect, it } from "vitest";
import { secretReader } from "../../../../shared/secrets.ts";
import { kafkaPollerConfig, MAX_CONSUMERS, mergeConsumerStatus, validateKafkaSourceSpec } from "../../../../shared/bridges/kafka/spec.ts";

const metadata = { namespace: "default", name: "kafka-source", uid: "u1" };
const sink = { ref: { apiVersion: "serving.knative.dev/v1", kind: "Service", name: "event-display" } };
const bridge = { type: "confluent-v2", url: "https://bridge.example" };

describe("KafkaSource spec", () => {
  it("reads v1alpha1's comma-separated topics as the list v1beta1 writes", () => {
    const v1alpha1 = { bootstrapServers: "b-1:9092,b-2:9092", topics: "demo, orders,", sink, bridge };
    expect(validateKafkaSourceSpec(v1alpha1, metadata)).toEqual([]);
    expect(kafkaPollerConfig(metadata, v1alpha1, secretReader({})).topics).toEqual(["demo", "orders"]);
    expect(kafkaPollerConfig(metadata, { ...v1alpha1, topics: ["demo"] }, secretReader({})).topics).toEqual(["demo"]);
    expect(validateKafkaSourceSpec({ ...v1alpha1, topics: " , " }, metadata)).toEqual([{ field: "spec.topics", message: "at least one topic is required" }]);
  });

  it("explains a missing spec.bridge: why the router needs one, and where to read about it", () => {
    const [cause] = validateKafkaSourceSpec({ topics: ["demo"], sink }, metadata);
    expect(cause.field).toBe("spec.bridge");
    expect(cause.message).toMatch(/^is required: Workers cannot open Kafka's TCP protocol/);
    expect(cause.message).toContain("spec.bridge: {type: confluent-v2 | strimzi | redpanda | upstash, url, secretKeyRef: {name}} (docs/BRIDGES.md)");
  });

  it("takes spec.consumers from 1 to the documented maximum, and not with a manual assignment", () => {
    const spec = { topics: ["demo"], sink, bridge, consumers: 4 };
    expect(validateKafkaSourceSpec(spec, metadata)).toEqual([]);
    expect(validateKafkaSourceSpec({ ...spec, consumers: MAX_CONSUMERS + 1 }, metadata)).toEqual([
      { field: "spec.consumers", message: `must be an integer from 1 to ${MAX_CONSUMERS}` },
    ]);
    expect(validateKafkaSourceSpec({ ...spec, assignment: [{ topic: "demo", partition: 0 }] }, metadata).map((c) => c.field)).toContain("spec.consumers");
  });

  it("merges the consumers' status: Ready from the first that is not, lag summed, latest poll", () => {
    const ok = (lag: number, at: string) => ({ conditions: [{ type: "Ready", status: "True", reason: "Polling" }], lag, lastPollTime: at });
    const failing = { conditions: [{ type: "Ready", status: "False", reason: "PollFailed", message: "down" }], lag: 5, lastPollTime: "2026-01-01T00:00:01Z" };
    const merged = mergeConsumerStatus([ok(1, "2026-01-01T00:00:03Z"), failing, ok(2, "2026-01-01T00:00:02Z")]);
    expect(merged).toMatchObject({ conditions: failing.conditions, lag: 8, lastPollTime: "2026-01-01T00:00:03Z", consumers: 3 });
  });
});
