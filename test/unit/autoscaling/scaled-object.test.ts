import { describe, expect, it } from "vitest";
import { deciderSpecFrom, validateScaledObject } from "../../../shared/autoscaling/scaled-object.ts";

const base = {
  scaleTargetRef: { name: "consumer" },
  cluster: { url: "https://k8s.example.com", secretKeyRef: { name: "SECRET_K8S_TOKEN" } },
  triggers: [{ type: "edge-eventing", metadata: { broker: "default", trigger: "orders", metric: "concurrency" } }],
};
const fields = (spec: unknown, annotations?: Record<string, string>) => validateScaledObject(spec, annotations).map((e) => e.field);

describe("ScaledObject validation", () => {
  it("accepts a minimal ScaledObject and applies Knative's defaults", () => {
    expect(validateScaledObject(base)).toEqual([]);
    const plan = deciderSpecFrom({ metadata: { namespace: "shop" }, spec: base });
    expect(plan.target).toEqual({ apiVersion: "apps/v1", kind: "Deployment", name: "consumer", namespace: "shop" });
    expect(plan.decider).toMatchObject({
      scalingMetric: "concurrency",
      targetValue: 70,
      totalValue: 100,
      panicThreshold: 2,
      stableWindowSec: 60,
      targetBurstCapacity: 211,
      maxScaleUpRate: 1000,
      maxScaleDownRate: 2,
    });
    expect(plan.keda).toEqual({ minReplicaCount: 0, maxReplicaCount: 100, cooldownPeriodSec: 300 });
  });

  it("maps Knative and ACK annotations onto the decider and bounds", () => {
    const plan = deciderSpecFrom({
      spec: { ...base, triggers: [{ type: "edge-eventing", metadata: { broker: "default", trigger: "orders", metric: "rps" } }] },
      metadata: {
        annotations: {
          "autoscaling.knative.dev/target": "10",
          "autoscaling.knative.dev/target-utilization-percentage": "50",
          "autoscaling.knative.dev/window": "2m",
          "autoscaling.knative.dev/panic-threshold-percentage": "300",
          "autoscaling.knative.dev/gc-time": "90",
          "autoscaling.knative.dev/pod-buffer-size": "2",
          "autoscaling.knative.dev/min-scale": "1",
          "autoscaling.knative.dev/max-scale": "8",
          "autoscaling.knative.dev/activation-scale": "3",
        },
      },
    });
    expect(plan.decider).toMatchObject({
      scalingMetric: "rps",
      targetValue: 5,
      totalValue: 10,
      stableWindowSec: 120,
      panicThreshold: 3,
      scaleDownDelaySec: 90,
      activationScale: 3,
    });
    expect(plan.bounds).toMatchObject({ minScale: 1, maxScale: 8, podBufferSize: 2, stableWindowSec: 120 });
  });

  it("names every bad field", () => {
    expect(fields({ ...base, scaleTargetRef: { apiVersion: "batch/v1", kind: "Job", name: "x" }, minReplicaCount: 5, maxReplicaCount: 2 })).toEqual([
      "spec.minReplicaCount",
      "spec.scaleTargetRef.kind",
    ]);
    expect(fields({ ...base, cluster: { url: "http://k8s.example.com", secretKeyRef: { name: "bad-name" }, access: {}, vpcService: "K8S" } })).toEqual([
      "spec.cluster.url",
      "spec.cluster.secretKeyRef.name",
      "spec.cluster.access.clientIdSecretKeyRef.name",
      "spec.cluster.access.clientSecretSecretKeyRef.name",
      "spec.cluster.vpcService",
    ]);
    expect(
      fields(base, {
        "autoscaling.knative.dev/window": "3s",
        "autoscaling.knative.dev/panic-threshold-percentage": "100",
        "autoscaling.knative.dev/scale-down-delay": "10s",
        "autoscaling.knative.dev/gc-time": "20s",
      }),
    ).toEqual([
      "metadata.annotations.autoscaling.knative.dev/window",
      "metadata.annotations.autoscaling.knative.dev/panic-threshold-percentage",
      "metadata.annotations.autoscaling.knative.dev/gc-time",
    ]);
    expect(fields({ ...base, maxReplicaCount: 4 }, { "autoscaling.knative.dev/max-scale": "5" })).toEqual(["spec.maxReplicaCount"]);
  });

  it("validates each trigger type's metadata", () => {
    const triggers = [
      { type: "edge-eventing", metadata: { broker: "b", trigger: "a", metric: "latency" } },
      { type: "edge-eventing", metadata: { trigger: "a", metric: "backlog" } },
      { type: "kafka", metadata: { kafkaSource: "k", lagThreshold: "0", allowIdleConsumers: "true", limitToPartitionsWithLag: "yes" } },
      { type: "kafka", metadata: { kafkaSource: "k", limitToPartitionsWithLag: "true", ensureEvenDistributionOfPartitions: "true" } },
      { type: "redis-streams", metadata: {} },
      { type: "cpu", metadata: {} },
    ];
    expect(fields({ ...base, triggers })).toEqual([
      "spec.triggers[0].metadata.metric",
      "spec.triggers[1].metadata.broker",
      "spec.triggers[1].metadata.target",
      "spec.triggers[2].metadata.lagThreshold",
      "spec.triggers[2].metadata.limitToPartitionsWithLag",
      "spec.triggers[3].metadata.ensureEvenDistributionOfPartitions",
      "spec.triggers[4].metadata.redisStreamSource",
      "spec.triggers[5].type",
    ]);
    const two = [base.triggers[0], { type: "edge-eventing", metadata: { broker: "default", trigger: "b", metric: "rps" } }];
    expect(fields({ ...base, triggers: two })).toEqual(["spec.triggers"]);
  });

  it("takes the KPA target from trigger metadata, which must agree with the target annotation", () => {
    const triggers = [{ type: "edge-eventing", metadata: { broker: "default", trigger: "orders", metric: "concurrency", target: "4" } }];
    const plan = deciderSpecFrom({ spec: { ...base, triggers } });
    expect(plan.decider).toMatchObject({ totalValue: 4, targetValue: 4 * 0.7 });
    expect(plan.triggers[0]).toMatchObject({ broker: "default", source: "orders", metric: "concurrency" });
    expect(fields({ ...base, triggers }, { "autoscaling.knative.dev/target": "5" })).toEqual(["spec.triggers[0].metadata.target"]);
    expect(fields({ ...base, triggers }, { "autoscaling.knative.dev/target": "4" })).toEqual([]);
  });

  it("reads the dry-run annotation, off by default, and refuses a value other than true or false", () => {
    expect(deciderSpecFrom({ spec: base }).dryRun).toBe(false);
    expect(deciderSpecFrom({ spec: base, metadata: { annotations: { "edge-eventing.dev/dry-run": "true" } } }).dryRun).toBe(true);
    expect(validateScaledObject(base, { "edge-eventing.dev/dry-run": "yes" })).toEqual([
      { field: "metadata.annotations.edge-eventing.dev/dry-run", message: 'must be "true" or "false", got "yes"' },
    ]);
  });

  it("reads KEDA's string metadata for Kafka and a Knative Service target", () => {
    const plan = deciderSpecFrom({
      spec: {
        ...base,
        scaleTargetRef: { apiVersion: "serving.knative.dev/v1", kind: "Service", name: "orders" },
        triggers: [{ type: "kafka", metadata: { kafkaSource: "orders-src", lagThreshold: "50", activationLagThreshold: "5", offsetResetPolicy: "earliest" } }],
      },
    });
    expect(plan.decider).toBeNull();
    expect(plan.triggers[0]).toMatchObject({
      metric: "lag",
      target: 50,
      activationTarget: 5,
      kafka: { offsetResetPolicy: "earliest", allowIdleConsumers: false },
    });
    expect(() => deciderSpecFrom({ spec: { ...base, triggers: [] } })).toThrow(/spec.triggers: must list 1 to 16/);
  });
});
