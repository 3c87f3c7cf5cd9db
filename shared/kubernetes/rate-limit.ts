/**
 * Limits on what the router asks of a cluster's API server (issue 6, "API calls rate-limited"):
 * a budget of calls per tick, and a least time between two scale writes to one target. Alarms that
 * fire early, the cron watchdog and re-applied manifests can all run extra ticks; these limits hold
 * whatever the cadence.
 */
import { MAX_CONFLICT_RETRIES, type FetchLike, type KubernetesClient, type ScaleState, type ScaleTarget } from "./client.ts";
import { KubernetesApiError } from "./errors.ts";

/**
 * Limit: API calls per tick. A read of a Knative Service's scale is 2 calls (Service, Revision); a
 * write is a re-read plus a PATCH, attempted up to MAX_CONFLICT_RETRIES times on 409.
 */
export const MAX_CALLS_PER_TICK = 2 + MAX_CONFLICT_RETRIES * 3;

/** Limit: least time between two scale writes to one target, Knative's KPA tick (2 s). */
export const MIN_WRITE_INTERVAL_SEC = 2;

/** A fetch that refuses, without calling the server, any call past the first `max`. */
export function withCallBudget(fetch: FetchLike, max = MAX_CALLS_PER_TICK): FetchLike {
  let calls = 0;
  return (url, init) => {
    if (++calls > max) {
      return Promise.reject(
        new KubernetesApiError(
          429,
          "CallBudgetExhausted",
          `${init.method ?? "GET"} ${new URL(url).pathname}: not sent, this tick already made ${max} Kubernetes API calls (the limit per tick); the next tick goes on`,
        ),
      );
    }
    return fetch(url, init);
  };
}

/** What became of a decision: written, already in place, held back by the write limit, or only reported. */
export type Actuation = "Written" | "Unchanged" | "Deferred" | "DryRun";

export interface ApplyInput {
  tSec: number;
  /** What the target was last asked for. */
  current: number;
  /** When the last write to this target was sent; null: never. */
  lastWriteSec: number | null;
  dryRun: boolean;
}

export interface Applied {
  actuation: Actuation;
  /** The target after a write attempt (Written or Unchanged by the server's answer). */
  scale?: ScaleState;
  /** Deferred: when a write is allowed again. */
  retryAtSec?: number;
}

/**
 * Applies one decision. No call when it matches `current` or in dry-run; no write within
 * MIN_WRITE_INTERVAL_SEC of the last one: the decision is not queued, a later tick applies its own.
 */
export async function applyScale(client: KubernetesClient, target: ScaleTarget, replicas: number, input: ApplyInput): Promise<Applied> {
  if (replicas === input.current) return { actuation: "Unchanged" };
  if (input.dryRun) return { actuation: "DryRun" };
  if (input.lastWriteSec !== null && input.tSec - input.lastWriteSec < MIN_WRITE_INTERVAL_SEC) {
    return { actuation: "Deferred", retryAtSec: input.lastWriteSec + MIN_WRITE_INTERVAL_SEC };
  }
  const scale = await client.setReplicas(target, replicas);
  return { actuation: scale.changed ? "Written" : "Unchanged", scale };
}
