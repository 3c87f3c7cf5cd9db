/**
 * The Broker object's calls (durable-objects/broker.ts): one per broker partition, and per channel of a
 * source, an EventTransform, a Sequence or a Parallel. Named `{ns}/{broker}`, then `{ns}/{broker}#p`
 * (shared/partitions.ts).
 */
import type { Gate } from "../autoscaling/activator.ts";
import type { CloudEvent } from "../cloudevents/event.ts";
import type { HistoryQuery, PartitionPage } from "../history/query.ts";
import type { ReplayPlan, ReplayProgress } from "../history/replay.ts";
import type { BrokerMetrics, DeadLetter } from "../resources/broker-api.ts";
import type { BrokerConfig } from "../resources/eventing.ts";
import type { IngestResult } from "./ingest.ts";

export interface BrokerRpc {
  /** The control plane's push (null: deleted); a push older than `version` is ignored. */
  configure(config: BrokerConfig | null, version: number): Promise<void>;
  /**
   * Store events (202 once durable). `headers` are the request's pass-through headers; `producer` is given
   * by public ingress only, for the broker's shared ingress token.
   */
  ingest(events: CloudEvent[], headers?: Record<string, string>, producer?: { bearer: string | undefined }): Promise<IngestResult>;
  /** The live feed's WebSocket upgrade. */
  fetch(request: Request): Promise<Response>;
  metrics(): BrokerMetrics;
  /** Events no sink took, newest first. */
  deadLetters(limit?: number): DeadLetter[];
  /** Queue a kept dead letter again; false when it is gone (or its trigger is). */
  redeliver(id: number): Promise<boolean>;
  /** This partition's retained events matching `query`, newest first, below position `before`, within a scan budget (durable-objects/broker/history.ts). */
  searchHistory(query: HistoryQuery, before: number | null, limit: number): PartitionPage;
  /** How many deliveries a replay would send from this partition (a dry run, within a scan budget: `complete` false past it). */
  countReplay(plan: ReplayPlan): Promise<{ matched: number; complete: boolean }>;
  startReplay(plan: ReplayPlan): Promise<void>;
  stopReplay(name: string): void;
  replayProgress(name: string): ReplayProgress | null;
  /** Between partitions after a growth: whether this one has deliveries of `pkey` queued for an ordered trigger. */
  queued(trigger: string, pkey: string): boolean;
  /** Between partitions after a growth: which of these (source, id) pairs this one holds in its dedup window. */
  seen(keys: { source: string; id: string }[]): boolean[];
  /** The Autoscaler object's push of a gated trigger's gate: the target's ready replicas and capacity (the activator). */
  gate(trigger: string, gate: Gate): void;
  /** The broker's own connection budget, so tests can check the limit by design. */
  connectionStats(): { open: number; peak: number };
}
