/** The resource kinds the management API serves, by group, version and plural (API.md §3 Resources). */
import { validateScaledObject } from "../autoscaling/scaled-object.ts";
import { validateKafkaSourceSpec } from "../bridges/kafka/spec.ts";
import { validateMnsSourceSpec } from "../bridges/mns/spec.ts";
import { validateRedisStreamSourceSpec } from "../bridges/redis/spec.ts";
import { validateRocketMQSourceSpec } from "../bridges/rocketmq/spec.ts";
import type { FieldError } from "../delivery/policy.ts";
import { validateReplay } from "../history/replay.ts";
import { validatePingSource } from "../sources/ping.ts";
import { validateWebhookSpec } from "../webhooks/spec.ts";
import { validateEventPolicy } from "../policy/spec.ts";
import { validateEventTransform, validateParallel, validateSequence } from "./composition.ts";
import { validateBroker, validateTrigger } from "./eventing.ts";
import type { Manifest } from "./manifest.ts";
import { type SourceSpec, validateSourceCommon } from "./sources.ts";
import { type RequestReplySpec, validateRequestReply } from "../requestreply/spec.ts";
import { requestReplyStatus } from "../requestreply/status.ts";
import { CLUSTER_ANNOTATION, validateKubernetesCluster } from "../kubernetes/cluster.ts";
import { jobSinkCluster, jobSinkStatus, validateJobSink } from "./job-sink.ts";
import { readyCondition } from "./manifest.ts";

/** Another resource of the same namespace that one names. */
export interface Reference {
  kind: string;
  name: string;
}

export interface KindInfo {
  group: string;
  versions: readonly string[];
  kind: string;
  plural: string;
  validate(m: Manifest): FieldError[];
  /** Sources deliver to `spec.sink`. */
  source?: boolean;
  /** EventTransform, Sequence and Parallel: an address that takes events (shared/resources/composition.ts). */
  addressable?: boolean;
  /** kubectl's short names and categories, as the CRDs of Knative and KEDA declare them. */
  shortNames?: readonly string[];
  categories?: readonly string[];
  /** `spec` fields that cannot change once created (Knative: a Trigger's broker, a KafkaSource's group). */
  immutable?: readonly string[];
  /**
   * Kinds that an object runs on its own schedule (durable-objects/runner.ts): a bridge source's poll
   * loop (shared/bridges/pollers.ts must then have its client), a schedule (PingSource), or scaling.
   */
  runs?: "bridge" | "schedule" | "scaling";
  /**
   * The resources it names: a change to one of them re-pushes it, and its runner stops while one is
   * missing (a ScaledObject's or a JobSink's KubernetesCluster).
   */
  references?(m: Manifest): Reference[];
  /**
   * A kind whose resolved form travels inside delivery targets (an EventTransform's expression, a JobSink's
   * Job, a KubernetesCluster's connection): a change re-pushes everything of its namespace that delivers.
   */
  inTargets?: true;
  /** The kind's status beside `observedGeneration`, when the kind computes its own (a RequestReply). */
  status?(m: Manifest, ctx: StatusContext): Record<string, unknown>;
  /** The Broker whose pushed configuration carries the resource: a change to it pushes that broker again. */
  brokerOf?(m: Manifest): string;
}

/** What a kind's `status` may read besides its manifest. */
export interface StatusContext {
  baseUrl: string;
  /** Whether a resource of that kind and name exists in the resource's namespace. */
  exists(kind: string, name: string): boolean;
  /** The Worker's env: which secrets are set. */
  env: object;
}

/** Causes for changes to immutable `spec` fields between the stored and the new manifest. */
export function immutableChanges(info: KindInfo, before: Manifest, after: Manifest): FieldError[] {
  return (info.immutable ?? [])
    .filter((f) => JSON.stringify(before.spec?.[f]) !== JSON.stringify(after.spec?.[f]))
    .map((f) => ({ field: `spec.${f}`, message: `is immutable (was ${JSON.stringify(before.spec?.[f])})` }));
}

/** A source kind's own checks plus what every source shares (delivery, ACK annotations). */
const sourceChecks = (own: (m: Manifest) => FieldError[]) => (m: Manifest) => [...own(m), ...validateSourceCommon(m as Manifest<SourceSpec>)];

/** A ScaledObject's KubernetesCluster, when its annotation names one. */
const namedCluster = (m: Manifest): Reference[] => {
  const name = m.metadata.annotations?.[CLUSTER_ANNOTATION];
  return name === undefined ? [] : [{ kind: "KubernetesCluster", name }];
};

/** Ready=False while a KubernetesCluster it names is missing; nothing to add otherwise (its runner reports). */
function scaledObjectStatus(m: Manifest, ctx: StatusContext): Record<string, unknown> {
  const missing = namedCluster(m).find((r) => !ctx.exists(r.kind, r.name));
  return missing ? { conditions: [readyCondition(false, "KubernetesClusterNotFound", `KubernetesCluster "${missing.name}" does not exist in namespace "${m.metadata.namespace}"`)] } : {};
}

const SOURCES = "sources.knative.dev";
const PROJECT_SOURCES = "sources.edge-eventing.dev";

const ENTRIES = [
  { group: "eventing.knative.dev", versions: ["v1"], kind: "Broker", plural: "brokers", validate: validateBroker, categories: ["all", "knative", "eventing"] },
  { group: "eventing.knative.dev", versions: ["v1"], kind: "Trigger", plural: "triggers", validate: (m: Manifest) => validateTrigger(m as never), immutable: ["broker"], categories: ["all", "knative", "eventing"] },
  { group: SOURCES, versions: ["v1"], kind: "PingSource", plural: "pingsources", validate: sourceChecks((m) => validatePingSource(m.spec)), source: true, runs: "schedule", categories: ["all", "knative", "sources"] },
  { group: SOURCES, versions: ["v1", "v1beta1", "v1alpha1"], kind: "KafkaSource", plural: "kafkasources", validate: sourceChecks((m) => validateKafkaSourceSpec(m.spec, m.metadata)), source: true, immutable: ["consumerGroup"], runs: "bridge", shortNames: ["kafkasource"], categories: ["all", "knative", "sources"] },
  { group: SOURCES, versions: ["v1alpha1"], kind: "GitHubSource", plural: "githubsources", validate: sourceChecks((m) => validateWebhookSpec("GitHubSource", m.spec)), source: true, categories: ["all", "knative", "sources"] },
  { group: PROJECT_SOURCES, versions: ["v1alpha1"], kind: "WebhookSource", plural: "webhooksources", validate: sourceChecks((m) => validateWebhookSpec("WebhookSource", m.spec)), source: true },
  { group: PROJECT_SOURCES, versions: ["v1alpha1"], kind: "RocketMQSource", plural: "rocketmqsources", validate: sourceChecks((m) => validateRocketMQSourceSpec(m.spec)), source: true, runs: "bridge" },
  { group: PROJECT_SOURCES, versions: ["v1alpha1"], kind: "MNSSource", plural: "mnssources", validate: sourceChecks((m) => validateMnsSourceSpec(m.spec)), source: true, runs: "bridge" },
  { group: PROJECT_SOURCES, versions: ["v1alpha1"], kind: "RedisStreamSource", plural: "redisstreamsources", validate: sourceChecks((m) => validateRedisStreamSourceSpec(m.spec)), source: true, runs: "bridge" },
  { group: "eventing.knative.dev", versions: ["v1alpha1"], kind: "EventTransform", plural: "eventtransforms", validate: (m: Manifest) => validateEventTransform(m as never), addressable: true, inTargets: true, categories: ["all", "knative", "eventing"] },
  { group: "flows.knative.dev", versions: ["v1"], kind: "Sequence", plural: "sequences", validate: (m: Manifest) => validateSequence(m as never), addressable: true, categories: ["all", "knative", "flows"] },
  { group: "flows.knative.dev", versions: ["v1"], kind: "Parallel", plural: "parallels", validate: (m: Manifest) => validateParallel(m as never), addressable: true, categories: ["all", "knative", "flows"] },
  { group: "eventing.knative.dev", versions: ["v1alpha1"], kind: "EventPolicy", plural: "eventpolicies", validate: (m: Manifest) => validateEventPolicy(m as never, KINDS.filter((k) => k.source)), categories: ["all", "knative", "eventing"] },
  {
    group: "eventing.knative.dev", versions: ["v1alpha1"], kind: "RequestReply", plural: "requestreplies", validate: (m: Manifest) => validateRequestReply(m as never),
    immutable: ["brokerRef"], categories: ["all", "knative", "eventing"], status: requestReplyStatus, brokerOf: (m: Manifest) => (m.spec as unknown as RequestReplySpec).brokerRef.name,
  },
  { group: "edge-eventing.dev", versions: ["v1alpha1"], kind: "Replay", plural: "replays", validate: validateReplay, immutable: ["broker", "from", "to", "triggers", "state", "filters"] },
  { group: "keda.sh", versions: ["v1alpha1"], kind: "ScaledObject", plural: "scaledobjects", validate: (m: Manifest) => validateScaledObject(m.spec, m.metadata.annotations), runs: "scaling", shortNames: ["so"], references: namedCluster, status: scaledObjectStatus },
  { group: "edge-eventing.dev", versions: ["v1alpha1"], kind: "KubernetesCluster", plural: "kubernetesclusters", validate: validateKubernetesCluster, inTargets: true },
  {
    group: "sinks.knative.dev", versions: ["v1alpha1"], kind: "JobSink", plural: "jobsinks", validate: (m: Manifest) => validateJobSink(m as never), inTargets: true, categories: ["all", "knative", "eventing", "sink"],
    references: (m: Manifest) => [{ kind: "KubernetesCluster", name: jobSinkCluster(m) }],
    status: (m: Manifest, ctx: StatusContext) => jobSinkStatus(m, ctx.baseUrl, ctx.exists("KubernetesCluster", jobSinkCluster(m))),
  },
] as const satisfies readonly KindInfo[];

export const KINDS: readonly KindInfo[] = ENTRIES;

/** Every kind the management API serves: tables keyed by it must have an entry for each. */
export type KindName = (typeof ENTRIES)[number]["kind"];
/** The source kinds read through a bridge client. */
export type BridgeKind = Extract<(typeof ENTRIES)[number], { runs: "bridge" }>["kind"];

export function findKind(group: string, version: string, plural: string): KindInfo | undefined {
  return KINDS.find((k) => k.group === group && k.plural === plural && k.versions.includes(version));
}

export function kindByName(kind: string): KindInfo | undefined {
  return KINDS.find((k) => k.kind === kind);
}

export function apiVersions(info: KindInfo): string[] {
  return info.versions.map((v) => `${info.group}/${v}`);
}
