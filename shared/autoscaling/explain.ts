/**
 * Why a scaling step chose its replicas, in the words a ScaledObject's status shows: the inputs
 * each decider saw, a reason naming the one that won, and a sentence with the numbers and the bound.
 */
import type { AutoscalerPlan } from "./scaled-object.ts";

export interface DecisionInputs {
  readyPods: number;
  /** What the target was asked for before this step. */
  currentReplicas: number;
  /** The KPA decider's inputs and answer, when it ran this step. */
  kpa?: {
    metric: "concurrency" | "rps";
    observedStable: number;
    observedPanic: number;
    /** Per-pod target after utilization. */
    target: number;
    panicThreshold: number;
    panic: boolean;
  };
  /** KEDA's metrics when it polled this step, named `<trigger or source>.<metric>`. */
  keda?: { metric: string; value: number; target: number; active: boolean }[];
}

/**
 * Which decider won: Knative's KPA in its stable or panic mode, or KEDA activating, idling or by AverageValue;
 * or the activator keeping one replica while deliveries wait for the target or are in flight to it.
 */
export type DecisionReason = "NoMetrics" | "StableWindow" | "PanicWindow" | "KedaActivation" | "KedaIdle" | "KedaAverageValue" | "ActivatorHolding";

export interface Explained {
  reason: DecisionReason;
  message: string;
}

const num = (n: number) => String(Math.round(n * 1000) / 1000);

export function explainDecision(
  plan: AutoscalerPlan,
  inputs: DecisionInputs,
  wants: { kpa: number | null; keda: number | null; panic: boolean; kedaActive: boolean },
  replicas: number,
): Explained {
  if (wants.kpa === null && wants.keda === null) {
    return { reason: "NoMetrics", message: `no metric read yet: the target keeps ${replicas} replicas` };
  }
  let reason: DecisionReason;
  let message: string;
  const desired = Math.max(wants.kpa ?? 0, wants.keda ?? 0);
  if (wants.kpa !== null && wants.kpa >= (wants.keda ?? 0)) {
    reason = wants.panic ? "PanicWindow" : "StableWindow";
    const k = inputs.kpa;
    const seen = k
      ? `stable ${k.metric} ${num(k.observedStable)}, panic ${k.metric} ${num(k.observedPanic)}, target ${num(k.target)} per pod, ready pods ${inputs.readyPods}`
      : "the last KPA decision";
    message = `KPA ${wants.panic ? "panic" : "stable"} mode (${seen}) asks for ${wants.kpa}`;
  } else {
    const keda = wants.keda!;
    reason = keda === 0 ? "KedaIdle" : inputs.currentReplicas === 0 && wants.kedaActive ? "KedaActivation" : "KedaAverageValue";
    const seen = inputs.keda
      ? inputs.keda.map((m) => `${m.metric} ${num(m.value)} (target ${num(m.target)} per replica, ${m.active ? "active" : "inactive"})`).join(", ")
      : "the last KEDA poll";
    const what = reason === "KedaIdle" ? "no trigger active for cooldownPeriod" : reason === "KedaActivation" ? "a trigger became active" : "AverageValue";
    message = `KEDA ${what} (${seen}) asks for ${keda}`;
  }
  const bound = boundApplied(plan, desired, replicas, inputs.currentReplicas);
  return { reason, message: bound ? `${message}; ${bound}` : message };
}

/** Which bound moved the decision, or null when it stood. */
function boundApplied(plan: AutoscalerPlan, desired: number, replicas: number, current: number): string | null {
  if (replicas === desired) return null;
  const buffered = desired > 0 ? desired + plan.bounds.podBufferSize : 0;
  if (replicas < buffered) return `capped at maxReplicaCount ${plan.bounds.maxScale}`;
  if (replicas === buffered) return `plus pod-buffer-size ${plan.bounds.podBufferSize}`;
  // initial-scale binds only until the target first reached it.
  if (desired === 0 && replicas === 1 && plan.bounds.minScale < 1 && current >= plan.bounds.initialScale) {
    return "one pod held until the scale-to-zero grace period has passed";
  }
  return `raised to ${replicas} by minReplicaCount ${plan.bounds.minScale} or initial-scale ${plan.bounds.initialScale}`;
}
