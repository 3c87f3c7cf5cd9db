/** The KafkaSource spec: v1alpha1's comma-separated topics, and what a missing bridge tells the user. */
import { describe, expect, it } from "vitest";
import { secretReader } from "../../../shared/secrets.ts";
import { kafkaPollerConfig, validateKafkaSourceSpec } from "../../../shared/bridges/kafka/spec.ts";

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
});
