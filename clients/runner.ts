/**
 * The objects that run a resource on their own schedule (source pollers, PingSource, autoscalers; their
 * contract is shared/contracts/runner.ts), as the control plane and the autoscaler reach them: which
 * binding and object run a resource, their status merged, a source's backlog.
 */
import { kindByName } from "../shared/resources/kinds.ts";
import type { Manifest } from "../shared/resources/manifest.ts";
import { mergeConsumerStatus } from "../shared/bridges/kafka/spec.ts";
import type { Runner } from "../shared/contracts/runner.ts";
import { type Stub, stub } from "./stubs.ts";
import { brokerMetrics } from "./partitions.ts";
import { backlogOf, sampleTrigger } from "../shared/autoscaling/router-metrics.ts";
import type { SourceBacklog } from "../shared/autoscaling/source-metrics.ts";

/** The binding whose objects run a kind (KindInfo.runs), or undefined for kinds nothing runs. */
export function runnerBinding(kind: string): "POLLER" | "AUTOSCALER" | undefined {
  const runs = kindByName(kind)?.runs;
  return runs === undefined ? undefined : runs === "scaling" ? "AUTOSCALER" : "POLLER";
}

/** The object that runs a resource; a KafkaSource's consumers after the first get their own. */
export function runnerKey(kind: string, namespace: string, name: string, consumer = 0): string {
  return consumer === 0 ? `${kind}/${namespace}/${name}` : `${kind}/${namespace}/${name}#${consumer}`;
}

/** How many objects run a resource: as its kind says (a KafkaSource's `spec.consumers`), else one. */
export function runnerCount(m: Manifest): number {
  return kindByName(m.kind)?.consumers?.(m) ?? 1;
}

export function runnerStub(env: Env, kind: string, namespace: string, name: string, consumer = 0): Stub<Runner> {
  return stub(env, runnerBinding(kind)!, runnerKey(kind, namespace, name, consumer));
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
  const stubs = Array.from({ length: typeof count === "number" ? count : 1 }, (_, i) => stub(env, "POLLER", runnerKey(kind, namespace, name, i)));
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
    ...(kind === "RocketMQSource" && !channel
      ? { unmeasured: "its sink is a Broker, and the RocketMQ HTTP API tells no backlog: scale on the Trigger's backlog (type edge-eventing)" }
      : {}),
  };
}
