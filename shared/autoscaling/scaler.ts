/**
 * One ScaledObject's whole scaling state and step: the KPA decider over its metric windows for a
 * concurrency/rps trigger, KEDA for backlog/lag triggers, the larger of the two, then the bounds.
 * Used by the simulator and by the router's Autoscaler object, which stores the state as JSON
 * between ticks so an eviction does not reset the windows.
 */
import { applyBounds, newBoundsState, type BoundsState } from "./bounds.ts";
import { decide, newDeciderState, type DeciderState } from "./decider.ts";
import { explainDecision, type DecisionInputs, type DecisionReason } from "./explain.ts";
import { kedaReplicas, newKedaState, type KedaMetric, type KedaState } from "./keda.ts";
import type { AutoscalerPlan } from "./scaled-object.ts";
import { newMetricWindows, observe, observed, type MetricWindows } from "./window-average.ts";

export interface ScalerState {
  decider: DeciderState | null;
  windows: MetricWindows | null;
  bounds: BoundsState;
  keda: KedaState;
  /**
   * The last valid KPA decision and the last KEDA answer: an invalid tick keeps the previous one.
   * Null until the first: without any metric the target is left as it is.
   */
  kpaWant: number | null;
  kedaWant: number | null;
  panic: boolean;
  /** Whether a KEDA trigger was active at its last poll. */
  active: boolean;
}

export function newScalerState(plan: AutoscalerPlan, readyPods: number, tSec: number): ScalerState {
  return {
    decider: plan.decider ? newDeciderState(plan.decider, readyPods, tSec) : null,
    windows: plan.decider ? newMetricWindows(plan.decider.stableWindowSec, plan.panicWindowPercentage) : null,
    bounds: newBoundsState(),
    keda: newKedaState(),
    kpaWant: null,
    kedaWant: null,
    panic: false,
    active: false,
  };
}

/** The triggers KEDA scales on (AverageValue metrics); the rest feed the KPA decider. */
export const kedaTriggers = (plan: AutoscalerPlan) => plan.triggers.filter((t) => t.metric === "backlog" || t.metric === "lag");

/** Records one second's KPA metric (concurrency or rps); call at most once per second. */
export function observeSecond(state: ScalerState, tSec: number, value: number): void {
  if (state.windows) observe(state.windows, tSec, value);
}

export interface StepInput {
  tSec: number;
  readyPods: number;
  /** Replicas the target has now (what the scaler last set). */
  current: number;
  /** Run the KPA decider this step (Knative: every 2 s). */
  kpa: boolean;
  /** KEDA's metrics when KEDA polls this step (every pollingInterval); undefined: no poll. */
  keda?: KedaMetric[];
}

export interface StepResult {
  /** Replicas to set, after bounds; `current` while no metric was ever seen. */
  replicas: number;
  /** Before bounds: the larger of the KPA and KEDA wants; null while no metric was ever seen. */
  desired: number | null;
  state: ScalerState;
  /** What the deciders saw this step, and why `replicas` (docs/AUTOSCALING.md, status.lastDecision). */
  inputs: DecisionInputs;
  reason: DecisionReason;
  message: string;
}

export function scaleStep(plan: AutoscalerPlan, state: ScalerState, input: StepInput): StepResult {
  let { decider, kpaWant, kedaWant, panic, active, keda } = state;
  const inputs: DecisionInputs = { readyPods: input.readyPods, currentReplicas: input.current };
  if (plan.decider && decider && state.windows && input.kpa) {
    const seen = observed(state.windows, input.tSec);
    const step = decide(plan.decider, decider, { tSec: input.tSec, readyPods: input.readyPods, ...seen });
    decider = step.state;
    panic = step.result.panic;
    if (step.result.valid) {
      kpaWant = step.result.desiredPodCount;
      inputs.kpa = {
        metric: plan.decider.scalingMetric,
        observedStable: seen.observedStable,
        observedPanic: seen.observedPanic,
        target: plan.decider.targetValue,
        panicThreshold: plan.decider.panicThreshold,
        panic,
      };
    }
  }
  if (input.keda) {
    const step = kedaReplicas(plan.keda, keda, { tSec: input.tSec, current: input.current, metrics: input.keda });
    keda = step.state;
    kedaWant = step.replicas;
    active = step.active;
    const names = kedaTriggers(plan).map((t) => `${t.source}.${t.metric}`);
    inputs.keda = input.keda.map((m, i) => ({ metric: names[i] ?? `trigger ${i}`, ...m }));
  }
  const next = { decider, windows: state.windows, bounds: state.bounds, keda, kpaWant, kedaWant, panic, active };
  const explain = (replicas: number) => explainDecision(plan, inputs, { kpa: kpaWant, keda: kedaWant, panic, kedaActive: active }, replicas);
  if (kpaWant === null && kedaWant === null) return { replicas: input.current, desired: null, state: next, inputs, ...explain(input.current) };
  const desired = Math.max(kpaWant ?? 0, kedaWant ?? 0);
  const bounded = applyBounds(plan.bounds, state.bounds, { tSec: input.tSec, desired, current: input.current });
  return { replicas: bounded.replicas, desired, state: { ...next, bounds: bounded.state }, inputs, ...explain(bounded.replicas) };
}
