/**
 * KEDA's scaling of a ScaledObject from external AverageValue metrics: KEDA activates (0 -> 1) and
 * deactivates (-> 0 after cooldownPeriod), the HPA it generates does 1 <-> N with its 10 % tolerance
 * and its 300 s scale-down stabilization. HPA rate policies are not modelled.
 */
import { currentMax, newMaxWindow, recordMax, type MaxWindow } from "./max-window.ts";

export interface KedaMetric {
  /** The metric value (e.g. total lag). */
  value: number;
  /** AverageValue target per replica (e.g. lagThreshold). */
  target: number;
  /** The trigger's activity: value above its activation threshold. */
  active: boolean;
}

export interface KedaPolicy {
  minReplicaCount: number;
  maxReplicaCount: number;
  cooldownPeriodSec: number;
}

export const HPA_TOLERANCE = 0.1;
export const HPA_DOWNSCALE_STABILIZATION_SEC = 300;

export interface KedaState {
  lastActiveSec: number | null;
  /** Recent HPA recommendations, one bucket per second; scale-down takes their maximum. */
  recommendations: MaxWindow;
}

export const newKedaState = (): KedaState => ({
  lastActiveSec: null,
  recommendations: newMaxWindow(HPA_DOWNSCALE_STABILIZATION_SEC, 1),
});

/** HPA's AverageValue proposal: within tolerance keep `current`, else ceil(value / target). */
export function hpaProposal(metric: KedaMetric, current: number): number {
  const ratio = metric.value / (metric.target * Math.max(1, current));
  if (current > 0 && Math.abs(1 - ratio) <= HPA_TOLERANCE) return current;
  return Math.ceil(metric.value / metric.target);
}

export function kedaReplicas(
  policy: KedaPolicy,
  state: KedaState,
  input: { tSec: number; current: number; metrics: KedaMetric[] },
): { replicas: number; active: boolean; state: KedaState } {
  const active = input.metrics.some((m) => m.active);
  const lastActiveSec = active ? input.tSec : state.lastActiveSec;
  const floor = Math.max(1, policy.minReplicaCount);
  const clamp = (n: number) => Math.min(policy.maxReplicaCount, Math.max(floor, n));
  if (input.current === 0) {
    const replicas = active ? clamp(floor) : policy.minReplicaCount;
    return { replicas, active, state: { ...state, lastActiveSec } };
  }
  const cooled = lastActiveSec === null || input.tSec - lastActiveSec >= policy.cooldownPeriodSec;
  if (!active && cooled && policy.minReplicaCount === 0) {
    return { replicas: 0, active, state: { ...state, lastActiveSec } };
  }
  const proposal = Math.max(0, ...input.metrics.map((m) => hpaProposal(m, input.current)));
  const recommendations = recordMax(state.recommendations, Math.floor(input.tSec), proposal);
  const stabilized = proposal >= input.current ? proposal : Math.min(input.current, currentMax(recommendations));
  return { replicas: clamp(stabilized), active, state: { lastActiveSec, recommendations } };
}
