/**
 * Knative's KPA decision (serving `pkg/autoscaler/scaling/autoscaler.go`, `Scale`), as a pure
 * function over JSON state so a Durable Object can keep the state in storage between ticks.
 * Formulas: docs/AUTOSCALING.md.
 */
import { currentMax, newMaxWindow, recordMax, type MaxWindow } from "./max-window.ts";

/** Knative's DeciderSpec with durations in seconds. */
export interface DeciderSpec {
  scalingMetric: "concurrency" | "rps";
  /** Per-pod target after utilization: `max(0.01, total × utilization)`. */
  targetValue: number;
  /** Per-pod capacity before utilization (container concurrency or the rps target). */
  totalValue: number;
  /** 0: activator never kept for bursts; -1: activator always in the path. */
  targetBurstCapacity: number;
  /** Ratio, e.g. 2 for 200 %. */
  panicThreshold: number;
  maxScaleUpRate: number;
  maxScaleDownRate: number;
  stableWindowSec: number;
  scaleDownDelaySec: number;
  reachable: boolean;
  /** Minimum non-zero scale; values <= 1 mean none. */
  activationScale: number;
}

/** Knative decides every two seconds; the scale-down-delay window has one bucket per tick. */
export const TICK_SEC = 2;

export interface DeciderState {
  panicStartSec: number | null;
  maxPanicPods: number;
  delay: MaxWindow | null;
}

export interface Tick {
  tSec: number;
  readyPods: number;
  observedStable: number;
  observedPanic: number;
  /** False when the metric window had no data: Knative returns an invalid result. */
  metricsAvailable?: boolean;
}

export interface ScaleResult {
  desiredPodCount: number;
  excessBurstCapacity: number;
  /** False means: do not act on this result. */
  valid: boolean;
  panic: boolean;
}

/**
 * A new decider starts in panic when it sees more than one ready pod, holding that count, so a
 * restart without metric history never scales down (knative/serving#4795).
 */
export function newDeciderState(spec: DeciderSpec, readyPods: number, tSec: number): DeciderState {
  return {
    panicStartSec: readyPods > 1 ? tSec : null,
    maxPanicPods: Math.max(0, readyPods),
    delay: spec.scaleDownDelaySec > 0 ? newMaxWindow(spec.scaleDownDelaySec, TICK_SEC) : null,
  };
}

export function decide(spec: DeciderSpec, state: DeciderState, tick: Tick): { result: ScaleResult; state: DeciderState } {
  if (tick.metricsAvailable === false) {
    return { result: { desiredPodCount: 0, excessBurstCapacity: 0, valid: false, panic: state.panicStartSec !== null }, state };
  }
  const ready = Math.max(1, tick.readyPods);
  // ceil keeps a growth of at least one pod even with a rate close to 1.
  const maxUp = Math.ceil(spec.maxScaleUpRate * ready);
  const maxDown = spec.reachable ? Math.floor(ready / spec.maxScaleDownRate) : 0;
  const dspc = Math.ceil(tick.observedStable / spec.targetValue);
  const dppc = Math.ceil(tick.observedPanic / spec.targetValue);
  let stablePods = Math.min(Math.max(dspc, maxDown), maxUp);
  let panicPods = Math.min(Math.max(dppc, maxDown), maxUp);
  if (spec.activationScale > 1) {
    if (dspc > 0 && stablePods < spec.activationScale) stablePods = spec.activationScale;
    if (dppc > 0 && panicPods < spec.activationScale) panicPods = spec.activationScale;
  }

  let { panicStartSec, maxPanicPods, delay } = state;
  const over = dppc / ready >= spec.panicThreshold;
  if (over) panicStartSec = tick.tSec;
  else if (panicStartSec !== null && panicStartSec + spec.stableWindowSec < tick.tSec) {
    panicStartSec = null;
    maxPanicPods = 0;
  }

  let desired = stablePods;
  if (panicStartSec !== null) {
    // No scale-down while panicking: hold the largest count of this panic.
    maxPanicPods = Math.max(maxPanicPods, stablePods, panicPods);
    desired = maxPanicPods;
  }

  if (spec.reachable && spec.scaleDownDelaySec > 0) {
    const size = Math.ceil(spec.scaleDownDelaySec / TICK_SEC);
    if (!delay || delay.size !== size) delay = newMaxWindow(spec.scaleDownDelaySec, TICK_SEC);
    delay = recordMax(delay, Math.floor(tick.tSec / TICK_SEC), desired);
    desired = currentMax(delay);
  }

  return {
    result: {
      desiredPodCount: desired,
      excessBurstCapacity: excessBurstCapacity(spec, tick.readyPods, tick.observedPanic),
      valid: true,
      panic: panicStartSec !== null,
    },
    state: { panicStartSec, maxPanicPods, delay },
  };
}

/** Spare capacity beyond the burst target; the activator leaves the path only when it is >= 0. */
export function excessBurstCapacity(spec: DeciderSpec, readyPods: number, observedPanic: number): number {
  if (spec.targetBurstCapacity === 0) return 0;
  if (spec.targetBurstCapacity < 0) return -1;
  return Math.floor(readyPods * spec.totalValue - spec.targetBurstCapacity - observedPanic);
}
