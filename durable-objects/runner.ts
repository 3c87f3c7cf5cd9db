/**
 * The contract between the control plane and the objects that run a resource on their own schedule
 * (source pollers, PingSource, autoscalers). The control plane calls `configure` on every change (null
 * when the resource was deleted) and from the cron watchdog, and merges `status()` into what users read.
 */
import type { ResolveContext } from "../shared/resources/destination.ts";
import type { ClusterConnection } from "../shared/kubernetes/cluster.ts";
import { kindByName } from "../shared/resources/kinds.ts";
import type { Manifest } from "../shared/resources/manifest.ts";
import type { SinkEntry } from "../shared/resources/sources.ts";
import { kafkaConsumers, mergeConsumerStatus } from "../shared/bridges/kafka/spec.ts";
import type { Stub } from "./stub.ts";
import type { SourcePoller } from "./source-poller.ts";
import { brokerMetrics } from "./routing.ts";
import { backlogOf, sampleTrigger } from "../shared/autoscaling/router-metrics.ts";
import type { SourceBacklog } from "../shared/autoscaling/source-metrics.ts";

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

/** The binding whose objects run a kind (KindInfo.runs), or undefined for kinds nothing runs. */
export function runnerBinding(kind: string): "POLLER" | "AUTOSCALER" | undefined {
  const runs = kindByName(kind)?.runs;
  return runs === undefined ? undefined : runs === "scaling" ? "AUTOSCALER" : "POLLER";
}

/** The object that runs a resource; a KafkaSource's consumers after the first get their own. */
export function runnerKey(kind: string, namespace: string, name: string, consumer = 0): string {
  return consumer === 0 ? `${kind}/${namespace}/${name}` : `${kind}/${namespace}/${name}#${consumer}`;
}

/** How many objects run a resource: a KafkaSource's `spec.consumers`, else one. */
export function runnerCount(m: Manifest): number {
  return m.kind === "KafkaSource" ? kafkaConsumers(m.spec) : 1;
}

export function runnerStub(env: Env, kind: string, namespace: string, name: string, consumer = 0): Stub<Runner> {
  return (env[runnerBinding(kind)!] as unknown as DurableObjectNamespace).getByName(runnerKey(kind, namespace, name, consumer)) as unknown as Stub<Runner>;
}

/** A resource's live status: its object's, or its consumers' merged (each reports how many there are). */
export async function runnerStatus(env: Env, kind: string, namespace: string, name: string): Promise<Record<string, unknown>> {
  const first = await runnerStub(env, kind, namespace, name).status();
  const count = typeof first.consumers === "number" ? first.consumers : 1;
  if (count <= 1) return first;
  const rest = await Promise.all(Array.from({ length: count - 1 }, (_, i) => runnerStub(env, kind, namespace, name, i + 1).status()));
  return mergeConsumerStatus([first, ...rest]);
}

/**
 * A bridge source's backlog for autoscaling: its consumers' bridge figures summed, plus the events its
 * channel holds for the sink (the channel's one trigger is named `sink`, see shared/resources/sources.ts).
 */
export async function sourceBacklog(env: Env, kind: string, namespace: string, name: string): Promise<SourceBacklog> {
  const count = (await runnerStatus(env, kind, namespace, name)).consumers;
  const stubs = Array.from({ length: typeof count === "number" ? count : 1 }, (_, i) => runnerStub(env, kind, namespace, name, i) as unknown as Stub<SourcePoller>);
  const read = await Promise.all(stubs.map((stub) => stub.backlog()));
  if (read[0] === null) return { buffered: 0, unmeasured: `no such ${kind} in namespace ${namespace}` };
  const consumers = read.filter((c) => c !== null);
  const channel = consumers[0].channel;
  const buffered = channel ? backlogOf(sampleTrigger(await brokerMetrics(env, channel.namespace, channel.name), "sink", Date.now())) : 0;
  const pending = consumers.filter((c) => c.pending !== undefined);
  return {
    buffered,
    ...(consumers.some((c) => c.partitions) ? { partitions: consumers.flatMap((c) => c.partitions ?? []) } : {}),
    ...(pending.length > 0 ? { pending: pending.reduce((n, c) => n + c.pending!, 0) } : {}),
    ...(kind === "RocketMQSource" && !channel ? { unmeasured: "its sink is a Broker, and the RocketMQ HTTP API tells no backlog: scale on the Trigger's backlog (type edge-eventing)" } : {}),
  };
}
