import { describe, expect, it } from "vitest";
import {
  activationState,
  activatorSettings,
  admit,
  CapacityLeases,
  capacityOf,
  DEFAULT_HOLD_MS,
  effectiveConcurrency,
  type Gate,
  keepAwake,
  LEASE_MS,
  shareOut,
  sumGateStats,
  watchesReadiness,
} from "../../../shared/autoscaling/activator.ts";
import { deciderSpecFrom, gatedBy, validateScaledObject } from "../../../shared/autoscaling/scaled-object.ts";

const gate = (ready: number, capacity: number | null, holdMs = 60_000): Gate => ({ ready, capacity, holdMs, shared: false });
const idle = { held: 0, inFlight: 0, heldSince: null, expired: false };

describe("admit: a gated trigger's deliveries", () => {
  it("wait while the target has no ready replica, without limit on how many wait", () => {
    expect(admit({ gate: gate(0, 0), capacity: 0, inFlight: 0, want: 20, heldSince: 1000, now: 5000 })).toEqual({ start: 0, holding: true, expired: false });
  });

  it("wait when the gate is not known yet (a restarted partition) as at zero", () => {
    expect(admit({ gate: null, capacity: null, inFlight: 0, want: 3, heldSince: null, now: 0 })).toMatchObject({ start: 0, holding: true });
  });

  it("go out under the delivery spec once the hold has lasted its limit", () => {
    expect(admit({ gate: gate(0, null, 10_000), capacity: null, inFlight: 0, want: 4, heldSince: 0, now: 9_999 })).toMatchObject({ start: 0, holding: true });
    expect(admit({ gate: gate(0, null, 10_000), capacity: null, inFlight: 0, want: 4, heldSince: 0, now: 10_000 })).toEqual({
      start: 4,
      holding: false,
      expired: true,
    });
    expect(admit({ gate: null, capacity: null, inFlight: 0, want: 1, heldSince: 0, now: DEFAULT_HOLD_MS })).toMatchObject({ expired: true });
  });

  it("start up to ready x containerConcurrency minus what is in flight", () => {
    expect(admit({ gate: gate(2, 2), capacity: 2, inFlight: 0, want: 10, heldSince: null, now: 0 }).start).toBe(2);
    expect(admit({ gate: gate(2, 2), capacity: 2, inFlight: 2, want: 10, heldSince: null, now: 0 }).start).toBe(0);
    // The ready count fell under what is in flight: nothing starts until completions bring it under.
    expect(admit({ gate: gate(1, 1), capacity: 1, inFlight: 3, want: 10, heldSince: null, now: 0 }).start).toBe(0);
    expect(admit({ gate: gate(3, null), capacity: null, inFlight: 50, want: 10, heldSince: null, now: 0 }).start).toBe(10);
  });
});

describe("capacity", () => {
  it("is ready x containerConcurrency, the smaller of the annotation's and the Knative Service's, 0 unlimited", () => {
    expect(capacityOf(3, 2)).toBe(6);
    expect(capacityOf(3, 0)).toBeNull();
    expect(effectiveConcurrency(4, 1)).toBe(1);
    expect(effectiveConcurrency(0, 8)).toBe(8);
    expect(effectiveConcurrency(2, 0)).toBe(2);
    expect(effectiveConcurrency(0, undefined)).toBe(0);
  });

  it("is shared max-min fairly: small demands in full, the rest split evenly, never more than the capacity", () => {
    expect(shareOut(10, [2, 20, 20])).toEqual([2, 4, 4]);
    expect(shareOut(5, [10, 10])).toEqual([2, 3]);
    expect(shareOut(0, [3])).toEqual([0]);
    expect(shareOut(100, [1, 2])).toEqual([1, 2]);
    for (const demands of [
      [7, 1, 9, 3],
      [5, 5, 5],
      [0, 12],
    ])
      expect(shareOut(6, demands).reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(6);
  });

  it("leases never add up to more than the capacity, shift to the fair share as partitions report, and lapse", () => {
    const leases = new CapacityLeases();
    expect(leases.request("b#0/t", 8, 0, 4, 0)).toEqual({ allowance: 4, contended: false });
    // b#0 holds all 4: b#1 gets nothing until b#0 reports less, but learns that capacity is contended.
    expect(leases.request("b#1/t", 8, 0, 4, 10)).toEqual({ allowance: 0, contended: true });
    // b#0 reports (4 in flight): its fair share is 2, so it is allowed 2 and frees 2 as they finish.
    expect(leases.request("b#0/t", 8, 4, 4, 20)).toEqual({ allowance: 2, contended: true });
    expect(leases.request("b#1/t", 8, 0, 4, 30).allowance).toBe(0);
    expect(leases.request("b#0/t", 8, 2, 4, 40).allowance).toBe(2);
    expect(leases.request("b#1/t", 8, 0, 4, 50).allowance).toBe(2);
    // b#1 is done and gives its share back; b#0 may take all again.
    expect(leases.request("b#1/t", 0, 0, 4, 60).allowance).toBe(0);
    expect(leases.request("b#0/t", 8, 2, 4, 70)).toEqual({ allowance: 4, contended: false });
    // b#0 stops reporting: after LEASE_MS what it held counts no more.
    expect(leases.request("b#1/t", 8, 0, 4, 80).allowance).toBe(0);
    expect(leases.request("b#1/t", 8, 0, 4, 70 + LEASE_MS + 1).allowance).toBe(4);
    expect(leases.request("b#2/t", 5, 0, null, 0).allowance).toBe(5);
  });

  it("never allows more than the capacity in total, whatever order the partitions report in", () => {
    const leases = new CapacityLeases();
    const held = new Map<string, number>();
    let seed = 7;
    const next = () => {
      seed = (seed * 48271) % 2147483647;
      return seed / 2147483647;
    };
    for (let t = 0; t < 2000; t += 10) {
      const p = `b#${Math.floor(next() * 4)}/t`;
      const inFlight = Math.min(held.get(p) ?? 0, Math.floor(next() * 3));
      const lease = leases.request(p, inFlight + Math.floor(next() * 6), inFlight, 5, t);
      held.set(p, Math.max(lease.allowance, inFlight));
      expect([...held.values()].reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(5);
    }
  });
});

describe("what the autoscaler makes of it", () => {
  it("keeps one replica while anything is held or in flight, however the deciders decide", () => {
    expect(keepAwake(0, { ...idle, held: 1 }, 10)).toBe(1);
    expect(keepAwake(0, { ...idle, inFlight: 2 }, 10)).toBe(1);
    expect(keepAwake(0, idle, 10)).toBe(0);
    expect(keepAwake(3, { ...idle, held: 9 }, 10)).toBe(3);
  });

  it("watches readiness while deliveries wait for it, or while the target is still becoming ready under load", () => {
    expect(watchesReadiness({ replicas: 1, ready: 0 }, { ...idle, held: 1 })).toBe(true);
    expect(watchesReadiness({ replicas: 3, ready: 1 }, { ...idle, inFlight: 1 })).toBe(true);
    expect(watchesReadiness({ replicas: 3, ready: 1 }, idle)).toBe(false);
    expect(watchesReadiness({ replicas: 1, ready: 1 }, { ...idle, held: 5 })).toBe(false);
  });

  it("reports the activation state", () => {
    expect(activationState(0, { ...idle, held: 2 })).toBe("Activating");
    expect(activationState(0, { ...idle, held: 2, expired: true })).toBe("TimedOut");
    expect(activationState(2, { ...idle, held: 2 })).toBe("Active");
    expect(activationState(0, idle)).toBe("Idle");
    expect(
      sumGateStats([
        { held: 1, inFlight: 2, heldSince: 50, expired: false },
        { held: 3, inFlight: 0, heldSince: 20, expired: true },
      ]),
    ).toEqual({ held: 4, inFlight: 2, heldSince: 20, expired: true });
  });
});

describe("the ScaledObject's activator annotations", () => {
  const spec = {
    scaleTargetRef: { name: "asr" },
    cluster: { url: "https://k8s.example", secretKeyRef: { name: "SECRET_K8S_TOKEN" } },
    triggers: [{ type: "edge-eventing", metadata: { broker: "default", trigger: "asr", metric: "backlog", target: "2" } }],
  };

  it("default to no cap and Knative's 300 s hold", () => {
    expect(deciderSpecFrom({ spec }).activator).toEqual({ containerConcurrency: 0, holdMs: 300_000 });
    expect(activatorSettings({ "edge-eventing.dev/container-concurrency": "1", "edge-eventing.dev/activation-timeout": "90s" }).settings).toEqual({
      containerConcurrency: 1,
      holdMs: 90_000,
    });
  });

  it("are refused by field when malformed", () => {
    expect(
      validateScaledObject(spec, { "edge-eventing.dev/container-concurrency": "-1", "edge-eventing.dev/activation-timeout": "2h" }).map((e) => e.field),
    ).toEqual(["metadata.annotations.edge-eventing.dev/container-concurrency", "metadata.annotations.edge-eventing.dev/activation-timeout"]);
    expect(validateScaledObject(spec, { "edge-eventing.dev/container-concurrency": "1001" })).toHaveLength(1);
  });

  it("gate the Trigger of an edge-eventing trigger and the source of a kafka, rocketmq or redis-streams trigger", () => {
    const so = (name: string, triggers: unknown[]) => ({ metadata: { name }, spec: { ...spec, triggers } });
    const gated = gatedBy([
      so("b-second", [{ type: "edge-eventing", metadata: { broker: "default", trigger: "asr", metric: "concurrency" } }]),
      so("a-first", [
        { type: "edge-eventing", metadata: { broker: "default", trigger: "asr", metric: "backlog", target: "2" } },
        { type: "kafka", metadata: { kafkaSource: "clicks", lagThreshold: "5" } },
        { type: "redis-streams", metadata: { redisStreamSource: "tasks" } },
      ]),
      so("broken", [{ type: "nope" }]),
      // A ScaledObject that names a KubernetesCluster instead of an inline spec.cluster gates the same way.
      {
        metadata: { name: "c-named", annotations: { "edge-eventing.dev/cluster": "prod" } },
        spec: { scaleTargetRef: { name: "tts" }, triggers: [{ type: "rocketmq", metadata: { rocketmqSource: "speech" } }] },
      },
    ]);
    expect(Object.fromEntries(gated)).toEqual({
      "Trigger/default/asr": "a-first",
      "KafkaSource/clicks": "a-first",
      "RedisStreamSource/tasks": "a-first",
      "RocketMQSource/speech": "c-named",
    });
  });
});
