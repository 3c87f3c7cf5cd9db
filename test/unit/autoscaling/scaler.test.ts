import { describe, expect, it } from "vitest";
import { backlogOf, rateBetween, sampleTrigger } from "../../../shared/autoscaling/router-metrics.ts";
import { deciderSpecFrom } from "../../../shared/autoscaling/scaled-object.ts";
import { newScalerState, observeSecond, scaleStep, type ScalerState } from "../../../shared/autoscaling/scaler.ts";
import { sourceMetric, type SourceTrigger } from "../../../shared/autoscaling/source-metrics.ts";

const cluster = { url: "https://k8s.example.com", secretKeyRef: { name: "SECRET_K8S_TOKEN" } };
const kpaPlan = deciderSpecFrom({
  metadata: { annotations: { "autoscaling.knative.dev/window": "6s" } },
  spec: {
    scaleTargetRef: { name: "consumer" },
    cluster,
    minReplicaCount: 1,
    maxReplicaCount: 10,
    triggers: [{ type: "edge-eventing", metadata: { broker: "b", trigger: "t", metric: "concurrency", target: "2" } }],
  },
});

/** Feeds `value` each second from `from` to `to` and steps every 2 s; returns the replicas per step. */
function run(state: ScalerState, from: number, to: number, value: number, current: number, persist: boolean) {
  const out: number[] = [];
  for (let t = from; t < to; t++) {
    observeSecond(state, t, value);
    if (t % 2 !== 0) continue;
    const step = scaleStep(kpaPlan, state, { tSec: t, readyPods: 1, current, kpa: true });
    // What the Autoscaler object does between ticks: store as JSON, read back.
    state = persist ? JSON.parse(JSON.stringify(step.state)) : step.state;
    current = step.replicas;
    out.push(step.replicas);
  }
  return { out, state, current };
}

describe("scaler step (KPA + KEDA + bounds)", () => {
  it("decides the same after every state went through JSON as it does in memory", () => {
    const mem = run(newScalerState(kpaPlan, 1, 0), 0, 6, 20, 1, false);
    const stored = run(newScalerState(kpaPlan, 1, 0), 0, 6, 20, 1, true);
    expect(stored.out).toEqual(mem.out);
    expect(mem.out.at(-1)).toBe(10); // ceil(20 / 1.4) = 15, capped at maxReplicaCount
    const memDown = run(mem.state, 6, 30, 0, mem.current, false);
    const storedDown = run(stored.state, 6, 30, 0, stored.current, true);
    expect(storedDown.out).toEqual(memDown.out);
    // Panic holds 10 for a stable window after the last overload, then the idle window asks for min 1.
    expect(memDown.out.slice(0, 3)).toEqual([10, 10, 10]);
    expect(memDown.out.at(-1)).toBe(1);
  });

  it("leaves the target alone until a metric has been seen", () => {
    const state = newScalerState(kpaPlan, 3, 0);
    const step = scaleStep(kpaPlan, state, { tSec: 0, readyPods: 3, current: 3, kpa: true });
    expect(step).toMatchObject({ replicas: 3, desired: null });
    const keda = deciderSpecFrom({ spec: { scaleTargetRef: { name: "c" }, cluster, triggers: [{ type: "kafka", metadata: { kafkaSource: "k" } }] } });
    expect(scaleStep(keda, newScalerState(keda, 3, 0), { tSec: 0, readyPods: 3, current: 3, kpa: false })).toMatchObject({ replicas: 3, desired: null });
    expect(
      scaleStep(keda, newScalerState(keda, 3, 0), { tSec: 0, readyPods: 3, current: 3, kpa: false, keda: [{ value: 95, target: 10, active: true }] }).replicas,
    ).toBe(10);
  });
});

describe("decision reasons", () => {
  it("shows the KPA's window averages, target and ready pods, and the bound that capped it", () => {
    const state = newScalerState(kpaPlan, 1, 0);
    for (let t = 0; t <= 4; t++) observeSecond(state, t, 20);
    const step = scaleStep(kpaPlan, state, { tSec: 4, readyPods: 1, current: 1, kpa: true });
    expect(step.inputs).toEqual({
      readyPods: 1,
      currentReplicas: 1,
      kpa: { metric: "concurrency", observedStable: 20, observedPanic: 20, target: 1.4, panicThreshold: 2, panic: true },
    });
    expect(step).toMatchObject({ replicas: 10, desired: 15, reason: "PanicWindow" });
    expect(step.message).toBe(
      "KPA panic mode (stable concurrency 20, panic concurrency 20, target 1.4 per pod, ready pods 1) asks for 15; capped at maxReplicaCount 10",
    );
  });

  it("names KEDA's activation and the metric that drove it", () => {
    const keda = deciderSpecFrom({
      spec: { scaleTargetRef: { name: "c" }, cluster, minReplicaCount: 0, triggers: [{ type: "kafka", metadata: { kafkaSource: "k", lagThreshold: "10" } }] },
    });
    const step = scaleStep(keda, newScalerState(keda, 0, 0), {
      tSec: 0,
      readyPods: 0,
      current: 0,
      kpa: false,
      keda: [{ value: 95, target: 10, active: true }],
    });
    expect(step).toMatchObject({ replicas: 1, reason: "KedaActivation", inputs: { keda: [{ metric: "k.lag", value: 95, target: 10, active: true }] } });
    expect(step.message).toBe("KEDA a trigger became active (k.lag 95 (target 10 per replica, active)) asks for 1");
  });
});

describe("router metrics of a trigger", () => {
  const metrics = (matched: number, delivered: number, inflight: number) => ({
    inflight: { t: inflight, other: 9 },
    counters: [
      { trigger: "t", name: "matched", value: matched },
      { trigger: "t", name: "delivered", value: delivered },
      { trigger: "t", name: "deadlettered", value: 1 },
      { trigger: "t", name: "retried", value: 7 },
      { trigger: "other", name: "matched", value: 1000 },
    ],
  });

  it("reads concurrency, backlog (matched minus finished) and the matched rate between samples", () => {
    const a = sampleTrigger(metrics(10, 2, 4), "t", 1_000);
    expect(a.inflight).toBe(4);
    expect(backlogOf(a)).toBe(7);
    const b = sampleTrigger(metrics(40, 30, 0), "t", 3_000);
    expect(rateBetween(a, b)).toBe(15);
    expect(rateBetween(null, b)).toBeNull();
    // A recreated broker restarts its counters: no rate from that pair.
    expect(rateBetween(b, sampleTrigger(metrics(3, 0, 0), "t", 4_000))).toBeNull();
  });
});

describe("source metrics from a poller's backlog", () => {
  const plan = deciderSpecFrom({
    spec: {
      scaleTargetRef: { name: "c" },
      cluster,
      triggers: [
        { type: "kafka", metadata: { kafkaSource: "orders", lagThreshold: "10", activationLagThreshold: "5" } },
        { type: "redis-streams", metadata: { redisStreamSource: "rs", pendingEntriesCount: "4" } },
        { type: "rocketmq", metadata: { rocketmqSource: "rmq", lagThreshold: "2" } },
      ],
    },
  });
  const [kafka, redis, rocketmq] = plan.triggers as SourceTrigger[];

  it("applies KEDA's Kafka formula to partition offsets, with what the router's channel holds added before the cap", () => {
    const partitions = [
      { topic: "o", partition: 0, committed: 0, latest: 100 },
      { topic: "o", partition: 1, committed: 5, latest: 7 },
    ];
    // 102 lag capped at 2 partitions × 10.
    expect(sourceMetric(kafka, { partitions, buffered: 0 })).toMatchObject({ ok: true, value: 20, metric: { value: 20, target: 10, active: true } });
    const drained = [
      { topic: "o", partition: 0, committed: 100, latest: 100 },
      { topic: "o", partition: 1, committed: 7, latest: 7 },
    ];
    // Everything committed, records waiting in the channel for a slow sink: they are the lag (activation above 5).
    expect(sourceMetric(kafka, { partitions: drained, buffered: 4 })).toMatchObject({ ok: true, metric: { value: 4, active: false } });
    expect(sourceMetric(kafka, { partitions: drained, buffered: 6 })).toMatchObject({ ok: true, metric: { value: 6, active: true } });
    expect(sourceMetric(kafka, { partitions: drained, buffered: 0 })).toMatchObject({ ok: true, metric: { value: 0, active: false } });
  });

  it("adds what the bridge holds to what the channel holds; RocketMQ counts the channel alone", () => {
    expect(sourceMetric(redis, { pending: 9, buffered: 3 })).toMatchObject({ ok: true, metric: { value: 12, target: 4, active: true } });
    expect(sourceMetric(rocketmq, { buffered: 7 })).toMatchObject({ ok: true, metric: { value: 7, target: 2, active: true } });
    expect(sourceMetric(rocketmq, { buffered: 0 })).toMatchObject({ ok: true, metric: { value: 0, active: false } });
  });

  it("names the source and says why when there is nothing to measure yet", () => {
    expect(sourceMetric(kafka, { buffered: 0 })).toEqual({ ok: false, error: "KafkaSource orders has read no partition yet" });
    expect(sourceMetric(rocketmq, { buffered: 0, unmeasured: "its sink is a Broker" })).toEqual({
      ok: false,
      error: "RocketMQSource rmq: its sink is a Broker",
    });
  });
});
