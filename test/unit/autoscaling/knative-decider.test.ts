/**
 * Knative's own decider tests (knative/serving pkg/autoscaler/scaling/autoscaler_test.go), restated
 * as data: same specs, same observations, same expected pod counts, panic flags and excess burst
 * capacity (compared within ±1 as upstream does).
 */
import { describe, expect, it } from "vitest";
import type { DeciderSpec } from "../../../shared/autoscaling/decider.ts";
import { runDecisions, validateDecideInput, type DecideObservation } from "../../../shared/autoscaling/decide-input.ts";
import { upstreamSpec } from "../../support/knative-decider.ts";

/** Upstream's expectedEBC: pods × target / 75 % − burst target − panic value, floored. */
const ebc = (target: number, tbc: number, panic: number, pods: number) => Math.floor((target / 0.75) * pods - tbc - panic);

type Step = DecideObservation & { want: number; wantEBC?: number; wantPanic?: boolean; wantValid?: boolean };
interface Case {
  name: string;
  decider: DeciderSpec;
  initialReadyPods: number;
  steps: Step[];
}

const T = 1_000;
const obs = (tSec: number, readyPods: number, stable: number, panic: number) => ({ tSec, readyPods, observedStable: stable, observedPanic: panic });
const delaySpec = (over: Partial<DeciderSpec>): DeciderSpec => ({
  scalingMetric: "concurrency",
  targetValue: 10,
  totalValue: 0,
  targetBurstCapacity: 0,
  panicThreshold: 100,
  maxScaleUpRate: 10,
  maxScaleDownRate: 10,
  stableWindowSec: 0,
  scaleDownDelaySec: 300,
  reachable: true,
  activationScale: 0,
  ...over,
});

const cases: Case[] = [
  {
    name: "ScaleDownDelay: simple then gradual",
    decider: delaySpec({}),
    initialReadyPods: 0,
    steps: [
      { ...obs(2, 0, 40, 40), want: 4, wantEBC: 0 },
      { ...obs(300, 0, 0, 0), want: 4 },
      { ...obs(302, 0, 0, 0), want: 0 },
      { ...obs(540, 0, 40, 40), want: 4 },
      { ...obs(600, 0, 30, 30), want: 4 },
      { ...obs(660, 0, 0, 0), want: 4 },
      { ...obs(840, 0, 0, 0), want: 3 },
      { ...obs(900, 0, 0, 0), want: 0 },
    ],
  },
  {
    name: "ScaleDownDelayNotReachable",
    decider: delaySpec({}),
    initialReadyPods: 0,
    steps: [
      { ...obs(2, 0, 40, 40), want: 4 },
      { ...obs(60, 0, 0, 0), want: 4 },
      { ...obs(2, 0, 0, 0), decider: { reachable: false }, want: 0 },
    ],
  },
  {
    name: "ScaleDownDelayZero",
    decider: delaySpec({ scaleDownDelaySec: 0, reachable: false }),
    initialReadyPods: 0,
    steps: [
      { ...obs(0, 0, 40, 40), want: 4 },
      { ...obs(0.5, 0, 20, 20), want: 2 },
    ],
  },
  {
    name: "NoDataNoAutoscale",
    decider: upstreamSpec(10, 100),
    initialReadyPods: 1,
    steps: [{ ...obs(T, 1, 0, 0), metricsAvailable: false, want: 0, wantEBC: 0, wantValid: false }],
  },
  {
    name: "Metrics",
    decider: upstreamSpec(10, 100),
    initialReadyPods: 1,
    steps: [{ ...obs(T, 1, 50, 50), want: 5, wantEBC: ebc(10, 100, 50, 1), wantPanic: true }],
  },
  {
    name: "MetricsWithRPS",
    decider: upstreamSpec(10, 100, { scalingMetric: "rps" }),
    initialReadyPods: 1,
    steps: [{ ...obs(T + 61, 1, 100, 99), want: 10, wantEBC: ebc(10, 100, 99, 1), wantPanic: true }],
  },
  {
    name: "StableModeIncreaseWithConcurrencyDefault",
    decider: upstreamSpec(10, 101),
    initialReadyPods: 1,
    steps: [
      { ...obs(T, 1, 50, 10), want: 5, wantEBC: ebc(10, 101, 10, 1), wantPanic: false },
      { ...obs(T, 1, 100, 10), want: 10, wantEBC: ebc(10, 101, 10, 1), wantPanic: false },
    ],
  },
  {
    name: "StableModeIncreaseWithRPS",
    decider: upstreamSpec(10, 101, { scalingMetric: "rps" }),
    initialReadyPods: 1,
    steps: [
      { ...obs(T, 1, 50, 50), want: 5, wantEBC: ebc(10, 101, 50, 1) },
      { ...obs(T, 1, 100, 99), want: 10, wantEBC: ebc(10, 101, 99, 1) },
    ],
  },
  {
    name: "UnpanicAfterSlowIncrease",
    decider: upstreamSpec(1, 98),
    initialReadyPods: 1,
    steps: [
      { ...obs(T, 10, 11, 25), want: 25, wantEBC: ebc(1, 98, 25, 10), wantPanic: true },
      { ...obs(T + 30, 40, 30, 41), want: 41, wantEBC: ebc(1, 98, 41, 40), wantPanic: true },
      { ...obs(T + 62, 55, 50, 56), want: 50, wantEBC: ebc(1, 98, 56, 55), wantPanic: false },
    ],
  },
  {
    name: "ExtendPanicWindow",
    decider: upstreamSpec(1, 98),
    initialReadyPods: 1,
    steps: [
      { ...obs(T, 10, 11, 25), want: 25, wantEBC: ebc(1, 98, 25, 10), wantPanic: true },
      { ...obs(T + 30, 40, 30, 80), want: 80, wantEBC: ebc(1, 98, 80, 40), wantPanic: true },
      // Renewed at T+30, so still panicking 60 s after the first tick.
      { ...obs(T + 62, 80, 30, 30), want: 80, wantPanic: true },
    ],
  },
  {
    name: "StableModeDecrease",
    decider: upstreamSpec(10, 98),
    initialReadyPods: 1,
    steps: [
      { ...obs(T, 8, 100, 100), want: 10, wantEBC: ebc(10, 98, 100, 8) },
      { ...obs(T, 8, 50, 50), want: 5, wantEBC: ebc(10, 98, 50, 8) },
    ],
  },
  {
    name: "StableModeNoTrafficScaleToZero",
    decider: upstreamSpec(10, 75),
    initialReadyPods: 1,
    steps: [
      { ...obs(T, 1, 1, 0), want: 1, wantEBC: ebc(10, 75, 0, 1) },
      { ...obs(T, 1, 0, 0), want: 0, wantEBC: ebc(10, 75, 0, 1) },
    ],
  },
  {
    name: "ActivationScale",
    decider: upstreamSpec(10, 75, { activationScale: 2 }),
    initialReadyPods: 1,
    steps: [
      { ...obs(T, 1, 0, 0), want: 0, wantEBC: ebc(10, 75, 0, 1) },
      { ...obs(T, 1, 1, 0), want: 2, wantEBC: ebc(10, 75, 0, 1) },
    ],
  },
  {
    name: "PanicModeExponentialTrackAndStabilize",
    decider: upstreamSpec(1, 101),
    initialReadyPods: 1,
    steps: [
      { ...obs(T, 1, 6, 6), want: 6, wantEBC: ebc(1, 101, 6, 1) },
      { ...obs(T, 6, 36, 36), want: 36, wantEBC: ebc(1, 101, 36, 6), wantPanic: true },
      { ...obs(T + 1, 36, 216, 216), want: 216, wantEBC: ebc(1, 101, 216, 36), wantPanic: true },
      { ...obs(T + 1, 216, 1296, 1296), want: 1296, wantEBC: ebc(1, 101, 1296, 216), wantPanic: true },
      { ...obs(T + 2, 1296, 1296, 1296), want: 1296, wantEBC: ebc(1, 101, 1296, 1296) },
    ],
  },
  // TestAutoscalerScale's table: a fresh decider per row, ready pods = the row's base scale.
  {
    name: "Scale/NoDataAtZeroNoAutoscale",
    decider: upstreamSpec(10, 100),
    initialReadyPods: 1,
    steps: [{ ...obs(T, 1, 0, 0), want: 0, wantEBC: ebc(10, 100, 0, 1) }],
  },
  { name: "Scale/StableModeUnlimitedTBC", decider: upstreamSpec(181, -1), initialReadyPods: 1, steps: [{ ...obs(T, 1, 21, 26), want: 1, wantEBC: -1 }] },
  { name: "Scale/0TBC", decider: upstreamSpec(10, 0), initialReadyPods: 1, steps: [{ ...obs(T, 1, 50, 49), want: 5, wantEBC: 0 }] },
  {
    name: "Scale/StableModeNoChange",
    decider: upstreamSpec(10, 100),
    initialReadyPods: 1,
    steps: [{ ...obs(T, 1, 50, 50), want: 5, wantEBC: ebc(10, 100, 50, 1) }],
  },
  // Upstream primes panic with maxPanicPods 5; a decider that starts with 5 ready pods is in that state.
  {
    name: "Scale/PanicStableLargerThanPanic",
    decider: upstreamSpec(1, 100),
    initialReadyPods: 5,
    steps: [{ ...obs(T, 5, 50, 30), want: 50, wantEBC: ebc(1, 100, 30, 5), wantPanic: true }],
  },
  {
    name: "Scale/PanicStableLessThanPanic",
    decider: upstreamSpec(1, 100),
    initialReadyPods: 5,
    steps: [{ ...obs(T, 5, 20, 30), want: 30, wantEBC: ebc(1, 100, 30, 5), wantPanic: true }],
  },
  {
    name: "Scale/StableModeNoChangeAlreadyScaled",
    decider: upstreamSpec(10, 100),
    initialReadyPods: 1,
    steps: [{ ...obs(T, 5, 50, 50), want: 5, wantEBC: ebc(10, 100, 50, 5) }],
  },
  {
    name: "Scale/StableModeIncreaseWithSmallScaleUpRate",
    decider: upstreamSpec(1, 1982, { maxScaleUpRate: 1.1 }),
    initialReadyPods: 1,
    steps: [{ ...obs(T, 2, 3, 3.1), want: 3, wantEBC: ebc(1, 1982, 3.1, 2) }],
  },
  {
    name: "Scale/StableModeDecreaseWithSmallScaleDownRate",
    decider: upstreamSpec(10, 1982, { maxScaleDownRate: 1.1 }),
    initialReadyPods: 1,
    steps: [{ ...obs(T, 100, 1, 1), want: 90, wantEBC: ebc(10, 1982, 1, 100) }],
  },
  {
    name: "Scale/StableModeDecreaseNonReachable",
    decider: upstreamSpec(10, 1982, { maxScaleDownRate: 1.1, reachable: false }),
    initialReadyPods: 1,
    steps: [{ ...obs(T, 100, 1, 1), want: 1, wantEBC: ebc(10, 1982, 1, 100) }],
  },
  {
    name: "Scale/PanicModeDoublePodCount",
    decider: upstreamSpec(10, 84),
    initialReadyPods: 1,
    steps: [{ ...obs(T, 1, 50, 100), want: 10, wantEBC: ebc(10, 84, 100, 1), wantPanic: true }],
  },
  {
    name: "PanicThenUnPanicScaleDown",
    decider: upstreamSpec(10, 93),
    initialReadyPods: 1,
    steps: [
      { ...obs(T, 1, 100, 100), want: 10, wantEBC: ebc(10, 93, 100, 1) },
      { ...obs(T, 10, 100, 1000), want: 100, wantEBC: ebc(10, 93, 1000, 10), wantPanic: true },
      { ...obs(T + 30, 10, 1, 1), want: 100, wantEBC: ebc(10, 93, 1, 10), wantPanic: true },
      { ...obs(T + 61, 10, 1, 1), want: 1, wantEBC: ebc(10, 93, 1, 10), wantPanic: false },
    ],
  },
  {
    name: "RateLimitScaleUp",
    decider: upstreamSpec(10, 61),
    initialReadyPods: 1,
    steps: [
      { ...obs(T, 1, 1000, 1001), want: 10, wantEBC: ebc(10, 61, 1001, 1) },
      { ...obs(T, 10, 1000, 1001), want: 100, wantEBC: ebc(10, 61, 1001, 10) },
    ],
  },
  {
    name: "RateLimitScaleDown",
    decider: upstreamSpec(10, 61),
    initialReadyPods: 1,
    steps: [
      { ...obs(T, 100, 1, 1), want: 10, wantEBC: ebc(10, 61, 1, 100) },
      { ...obs(T, 10, 1, 1), want: 1, wantEBC: ebc(10, 61, 1, 10) },
    ],
  },
  {
    name: "UseOnePodAsMinimumIfEndpointsNotFound",
    decider: upstreamSpec(10, 81),
    initialReadyPods: 1,
    steps: [{ ...obs(T, 0, 1000, 888), want: 10, wantEBC: ebc(10, 81, 888, 0) }],
  },
  {
    name: "UpdateTarget",
    decider: upstreamSpec(10, 77),
    initialReadyPods: 1,
    steps: [
      { ...obs(T, 1, 100, 101), want: 10, wantEBC: ebc(10, 77, 101, 1) },
      {
        ...obs(T, 10, 100, 101),
        want: 100,
        wantEBC: ebc(1, 71, 101, 10),
        decider: { targetValue: 1, totalValue: 1 / 0.75, targetBurstCapacity: 71, reachable: false },
      },
    ],
  },
  {
    // TestStartInPanicMode: a decider created over more than one ready pod holds them.
    name: "StartInPanicMode",
    decider: upstreamSpec(100, 11, { totalValue: 120 }),
    initialReadyPods: 2,
    steps: [{ ...obs(T, 2, 10, 10), want: 2, wantPanic: true }],
  },
  {
    name: "StartInPanicMode/one pod starts calm",
    decider: upstreamSpec(100, 11, { totalValue: 120 }),
    initialReadyPods: 1,
    steps: [{ ...obs(T, 1, 10, 10), want: 1, wantPanic: false }],
  },
];

describe("KPA decider against Knative's autoscaler_test.go", () => {
  it.each(cases.map((c) => [c.name, c] as const))("%s", (_name, c) => {
    const input = { decider: c.decider, initialReadyPods: c.initialReadyPods, observations: c.steps };
    expect(validateDecideInput(input)).toEqual([]);
    const out = runDecisions(input);
    c.steps.forEach((step, i) => {
      const got = out[i];
      expect(got.desiredPodCount, `${c.name} step ${i} pods`).toBe(step.want);
      expect(got.valid, `${c.name} step ${i} valid`).toBe(step.wantValid ?? true);
      if (step.wantPanic !== undefined) expect(got.panic, `${c.name} step ${i} panic`).toBe(step.wantPanic);
      if (step.wantEBC !== undefined) expect(Math.abs(got.excessBurstCapacity - step.wantEBC), `${c.name} step ${i} EBC`).toBeLessThanOrEqual(1);
    });
  });
});
