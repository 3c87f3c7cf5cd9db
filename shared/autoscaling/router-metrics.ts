/**
 * A Trigger's scaling metrics from its broker's counters: concurrency (deliveries in flight now),
 * rps (events matched per second since the previous sample) and backlog (matched, not yet finished).
 * A sample is plain data so the Autoscaler object can keep the previous one in storage.
 */
import type { GateStats } from "./activator.ts";

/** The shape of `Broker.metrics()` that scaling reads. */
export interface BrokerCounters {
  inflight: Record<string, number>;
  counters: { trigger: string; name: string; value: number }[];
  /** Gated triggers: what waits for the target and what is in flight to it (shared/autoscaling/activator.ts). */
  activator?: Record<string, GateStats>;
}

/** Counters that end a delivery of a trigger (the broker's verdicts, and drops on reconfiguration). */
const FINISHED = ["delivered", "deadlettered", "failed", "dropped"];

export interface TriggerSample {
  atMs: number;
  matched: number;
  finished: number;
  inflight: number;
}

export function sampleTrigger(metrics: BrokerCounters, trigger: string, atMs: number): TriggerSample {
  let matched = 0;
  let finished = 0;
  for (const c of metrics.counters) {
    if (c.trigger !== trigger) continue;
    if (c.name === "matched") matched += c.value;
    else if (FINISHED.includes(c.name)) finished += c.value;
  }
  return { atMs, matched, finished, inflight: metrics.inflight[trigger] ?? 0 };
}

export const backlogOf = (s: TriggerSample) => Math.max(0, s.matched - s.finished);

/**
 * Events per second matched between two samples; null without a usable previous sample (none yet,
 * same instant, or counters that went backwards because the broker was recreated).
 */
export function rateBetween(previous: TriggerSample | null, now: TriggerSample): number | null {
  if (!previous || now.atMs <= previous.atMs || now.matched < previous.matched) return null;
  return ((now.matched - previous.matched) * 1000) / (now.atMs - previous.atMs);
}
