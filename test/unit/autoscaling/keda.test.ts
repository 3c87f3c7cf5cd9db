import { describe, expect, it } from "vitest";
import { KAFKA_DEFAULTS, kafkaLag, nextEvenFactor, type PartitionOffsets } from "../../../shared/autoscaling/kafka-lag.ts";
import { kedaReplicas, newKedaState } from "../../../shared/autoscaling/keda.ts";

const parts = (...specs: [number, number | undefined][]): PartitionOffsets[] =>
  specs.map(([committed, latest], partition) => ({ topic: "t", partition, committed, latest }));

describe("KEDA Kafka lag", () => {
  it("sums per-partition lag and caps it at one consumer per partition", () => {
    expect(kafkaLag(parts([0, 30], [10, 15]), KAFKA_DEFAULTS)).toMatchObject({ totalLag: 20, totalLagWithPersistent: 35, active: true });
    expect(kafkaLag(parts([0, 30], [10, 15]), { ...KAFKA_DEFAULTS, allowIdleConsumers: true }).totalLag).toBe(35);
  });

  it("treats uncommitted offsets per offsetResetPolicy and scaleToZeroOnInvalidOffset", () => {
    expect(kafkaLag(parts([-1, 500]), KAFKA_DEFAULTS).totalLag).toBe(1);
    expect(kafkaLag(parts([-1, 5]), { ...KAFKA_DEFAULTS, offsetResetPolicy: "earliest" }).totalLag).toBe(5);
    expect(kafkaLag(parts([-1, 500]), { ...KAFKA_DEFAULTS, scaleToZeroOnInvalidOffset: true })).toMatchObject({ totalLag: 0, active: false });
    expect(kafkaLag(parts([3, undefined]), KAFKA_DEFAULTS).totalLag).toBe(0);
  });

  it("excludes persistent lag from scaling but not from activation", () => {
    const o = { ...KAFKA_DEFAULTS, excludePersistentLag: true, allowIdleConsumers: true };
    const first = kafkaLag(parts([5, 50]), o);
    expect(first.totalLag).toBe(45);
    const stuck = kafkaLag(parts([5, 60]), o, first.previous);
    expect(stuck).toMatchObject({ totalLag: 0, totalLagWithPersistent: 55, active: true });
  });

  it("limits to partitions with lag and rounds up to an even partition share", () => {
    const o = { ...KAFKA_DEFAULTS, limitToPartitionsWithLag: true };
    expect(kafkaLag(parts([0, 100], [0, 0], [0, 0]), o).totalLag).toBe(10);
    expect(nextEvenFactor(10, 100, 10)).toBe(1);
    expect(nextEvenFactor(25, 12, 10)).toBe(3);
    expect(kafkaLag(parts([0, 25], [0, 0], [0, 0], [0, 0], [0, 0], [0, 0]), { ...KAFKA_DEFAULTS, ensureEvenDistributionOfPartitions: true }).totalLag).toBe(30);
  });

  it("activates only above activationLagThreshold", () => {
    expect(kafkaLag(parts([0, 5]), { ...KAFKA_DEFAULTS, activationLagThreshold: 5 }).active).toBe(false);
    expect(kafkaLag(parts([0, 6]), { ...KAFKA_DEFAULTS, activationLagThreshold: 5 }).active).toBe(true);
  });
});

describe("KEDA + HPA replicas", () => {
  const policy = { minReplicaCount: 0, maxReplicaCount: 10, cooldownPeriodSec: 300 };
  const m = (value: number, active = value > 0) => [{ value, target: 10, active }];

  it("activates from zero, scales by ceil(value/target) within tolerance and bounds", () => {
    const s = newKedaState();
    let r = kedaReplicas(policy, s, { tSec: 0, current: 0, metrics: m(95) });
    expect(r.replicas).toBe(1);
    r = kedaReplicas(policy, r.state, { tSec: 15, current: 1, metrics: m(95) });
    expect(r.replicas).toBe(10);
    r = kedaReplicas(policy, r.state, { tSec: 30, current: 10, metrics: m(105) });
    expect(r.replicas).toBe(10);
    r = kedaReplicas(policy, r.state, { tSec: 45, current: 10, metrics: m(500) });
    expect(r.replicas).toBe(10);
  });

  it("holds scale-down for the 300 s stabilization window and goes to zero only after cooldown", () => {
    const s = newKedaState();
    let r = kedaReplicas(policy, s, { tSec: 0, current: 8, metrics: m(80) });
    r = kedaReplicas(policy, r.state, { tSec: 60, current: 8, metrics: m(20) });
    expect(r.replicas).toBe(8);
    r = kedaReplicas(policy, r.state, { tSec: 300, current: 8, metrics: m(20) });
    expect(r.replicas).toBe(2);
    r = kedaReplicas(policy, r.state, { tSec: 400, current: 2, metrics: m(0) });
    expect(r.replicas).toBe(2);
    r = kedaReplicas(policy, r.state, { tSec: 600, current: 2, metrics: m(0) });
    expect(r.replicas).toBe(0);
  });
});
