/**
 * The objects that run a resource on their own schedule (SourcePoller: sources and PingSource; Autoscaler:
 * ScaledObjects). The control plane calls `configure` on every change (null when the resource was
 * deleted) and from the cron watchdog, and merges `status()` into what users read.
 */
import type { Gate, Lease } from "../autoscaling/activator.ts";
import type { PartitionOffsets } from "../autoscaling/kafka-lag.ts";
import type { ClusterConnection } from "../kubernetes/cluster.ts";
import type { ResolveContext } from "../resources/destination.ts";
import type { Manifest } from "../resources/manifest.ts";
import type { SinkEntry } from "../resources/sources.ts";

export interface RunnerInput {
  manifest: Manifest;
  /** Sources: the broker object their events are ingested into. */
  sink?: SinkEntry;
  /** KafkaSource: which of its `spec.consumers` consumer instances this object runs (0 when there is one). */
  consumer?: number;
  ctx: ResolveContext;
  /** The KubernetesCluster the resource names with the edge-eventing.dev/cluster annotation, when it names one. */
  cluster?: ClusterConnection;
}

export interface Runner {
  /** Idempotent: also the watchdog's way to re-arm a stalled alarm. */
  configure(input: RunnerInput | null): Promise<void>;
  /** Live status fields (conditions, last poll, lag, last error...), merged over the control plane's. */
  status(): Promise<Record<string, unknown>>;
}

/** One consumer's part of its source's backlog (the runner client sums the consumers and reads the channel). */
export interface ConsumerBacklog {
  channel: SinkEntry | null;
  partitions?: PartitionOffsets[];
  /** Records at the bridge not committed, as of the last poll less what was committed since. */
  pending?: number;
}

/** The SourcePoller object's calls (durable-objects/source-poller.ts): one per source and consumer. */
export interface SourcePollerRpc extends Runner {
  /** What the bridge still holds for the router; null when no source runs here. */
  backlog(): Promise<ConsumerBacklog | null>;
}

/** The Autoscaler object's calls (durable-objects/autoscaler.ts): one per ScaledObject. */
export interface AutoscalerRpc extends Runner {
  /** A gated broker partition holds deliveries that found no ready replica: decide now; the gate after it. */
  activate(): Promise<Gate | null>;
  /** A broker partition's lease of the target's capacity, for `demand` (in flight plus waiting) while holding `inFlight`. */
  lease(partition: string, demand: number, inFlight: number): Lease;
}
