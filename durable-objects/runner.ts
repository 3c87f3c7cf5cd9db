/**
 * The contract between the control plane and the objects that run a resource on their own schedule
 * (source pollers, PingSource, autoscalers). The control plane calls `configure` on every change (null
 * when the resource was deleted) and from the cron watchdog, and merges `status()` into what users read.
 */
import type { ResolveContext } from "../shared/resources/destination.ts";
import type { Manifest } from "../shared/resources/manifest.ts";
import type { SinkEntry } from "../shared/resources/sources.ts";

export interface RunnerInput {
  manifest: Manifest;
  /** Sources: the broker object their events are ingested into. */
  sink?: SinkEntry;
  ctx: ResolveContext;
}

export interface Runner {
  /** Idempotent: also the watchdog's way to re-arm a stalled alarm. */
  configure(input: RunnerInput | null): Promise<void>;
  /** Live status fields (conditions, last poll, lag, last error...), merged over the control plane's. */
  status(): Promise<Record<string, unknown>>;
}

/** Which binding runs which kind. */
export const RUNNERS: Record<string, "POLLER" | "AUTOSCALER"> = {
  PingSource: "POLLER",
  KafkaSource: "POLLER",
  RocketMQSource: "POLLER",
  MNSSource: "POLLER",
  RedisStreamSource: "POLLER",
  ScaledObject: "AUTOSCALER",
};

export function runnerKey(kind: string, namespace: string, name: string): string {
  return `${kind}/${namespace}/${name}`;
}
