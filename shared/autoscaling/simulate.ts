/**
 * Replays a traffic trace through a ScaledObject's plan: the KPA decider every 2 s for a
 * concurrency/rps trigger, KEDA every pollingInterval for backlog/lag triggers, the larger wins;
 * pods become ready `podStartSec` after they are asked for. Deterministic, one step per second.
 */
import { TICK_SEC } from "./decider.ts";
import { kedaTriggers, newScalerState, observeSecond, scaleStep } from "./scaler.ts";
import type { AutoscalerPlan } from "./scaled-object.ts";

/** Piecewise constant: each point holds until the next one. */
export type TracePoint = { tSec: number; eventsPerSec: number } | { tSec: number; value: number };

export interface SimulationInput {
  trace: TracePoint[];
  durationSec?: number;
  initialReplicas?: number;
  /** Seconds from a scale-up to the new pod being ready (cold start). */
  podStartSec?: number;
  /** Concurrency from an event rate by Little's law: in flight = rate × service time. */
  serviceTimeSec?: number;
  /** Events one ready pod drains per second, for backlog and lag. */
  perPodRate?: number;
}

export interface SimulationRow {
  tSec: number;
  value: number;
  desired: number;
  ready: number;
  panic: boolean;
}

/** Limits: a simulation covers at most a week of seconds. */
export const MAX_SIMULATION_SEC = 7 * 86_400;

export function simulate(plan: AutoscalerPlan, input: SimulationInput): SimulationRow[] {
  const trace = [...input.trace].sort((a, b) => a.tSec - b.tSec);
  if (trace.length === 0) throw new RangeError("trace: must have at least one point");
  const duration = Math.min(MAX_SIMULATION_SEC, Math.ceil(input.durationSec ?? trace[trace.length - 1].tSec + 1));
  const podStart = input.podStartSec ?? 5;
  const serviceTime = input.serviceTimeSec ?? 0.1;
  const perPodRate = input.perPodRate ?? 10;
  const metric = plan.decider ? plan.decider.scalingMetric : plan.triggers[0].metric;

  let desired = input.initialReplicas ?? 1;
  /** Ready times of each requested pod, oldest first. */
  let pods: number[] = new Array<number>(desired).fill(0);
  let backlog = 0;
  let state = newScalerState(plan, desired, 0);
  const polled = kedaTriggers(plan);
  const rows: SimulationRow[] = [];

  let ti = 0;
  for (let t = 0; t < duration; t++) {
    while (ti + 1 < trace.length && trace[ti + 1].tSec <= t) ti++;
    const point = trace[ti];
    const ready = pods.filter((at) => at <= t).length;
    let value: number;
    if ("value" in point) value = point.value;
    else if (metric === "concurrency") value = point.eventsPerSec * serviceTime;
    else if (metric === "rps") value = point.eventsPerSec;
    else value = backlog = Math.max(0, backlog + point.eventsPerSec - ready * perPodRate);

    observeSecond(state, t, value);
    const kedaPoll = polled.length > 0 && t % plan.pollingIntervalSec === 0;
    const step = scaleStep(plan, state, {
      tSec: t,
      readyPods: ready,
      current: desired,
      kpa: t % TICK_SEC === 0,
      keda: kedaPoll ? polled.map((tr) => ({ value, target: tr.target, active: value > tr.activationTarget })) : undefined,
    });
    state = step.state;
    if (step.replicas > desired) pods = [...pods, ...new Array<number>(step.replicas - desired).fill(t + podStart)];
    // Scale-down removes the newest (possibly not yet ready) pods first.
    else if (step.replicas < desired) pods = pods.slice(0, step.replicas);
    desired = step.replicas;
    rows.push({ tSec: t, value, desired, ready, panic: state.panic });
  }
  return rows;
}
