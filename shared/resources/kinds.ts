/** The resource kinds the management API serves (API.md §3 Resources), each with its behaviour: the kind registry. */
import { validateScaledObject } from "../autoscaling/scaled-object.ts";
import { kafkaConsumers, validateKafkaSourceSpec } from "../bridges/kafka/spec.ts";
import { validateMnsSourceSpec } from "../bridges/mns/spec.ts";
import { validateRedisStreamSourceSpec } from "../bridges/redis/spec.ts";
import { validateRocketMQSourceSpec } from "../bridges/rocketmq/spec.ts";
import type { DeliverySpec, Destination, FieldError } from "../delivery/policy.ts";
import { type ReplaySpec, replayReferences, validateReplay } from "../history/replay.ts";
import { validatePingSource } from "../sources/ping.ts";
import { validateWebhookSpec } from "../webhooks/spec.ts";
import { appliesTo, audienceOf, type EventPolicySpec, validateEventPolicy } from "../policy/spec.ts";
import { policyStatus } from "../policy/status.ts";
import { type EventTransformSpec, type ParallelSpec, type SequenceSpec, validateEventTransform, validateParallel, validateSequence } from "./composition.ts";
import { addressPath, type CompositionKind } from "./composition-address.ts";
import { type ResolveContext, resolveDestination, targetUrl } from "./destination.ts";
import {
  type BrokerSpec,
  isPaused,
  partitionCount,
  TRIGGER_ANNOTATIONS,
  type TriggerSpec,
  validateBroker,
  validateBrokerChange,
  validateTrigger,
} from "./eventing.ts";
import { condition, type Manifest, readyCondition } from "./manifest.ts";
import { validateBinding, validateRole } from "../rbac/validate.ts";
import { type SourceSpec, validateSourceCommon } from "./sources.ts";
import { type RequestReplySpec, validateRequestReply } from "../requestreply/spec.ts";
import { requestReplyStatus } from "../requestreply/status.ts";
import { CLUSTER_ANNOTATION, validateKubernetesCluster } from "../kubernetes/cluster.ts";
import { type JobSinkSpec, jobSinkCluster, jobSinkStatus, validateJobSink } from "./job-sink.ts";

/** Another resource of the same namespace that one names. */
export interface Reference {
  kind: string;
  name: string;
}

/**
 * What a kind is and does, in one entry: how the management API serves it, how its manifest is checked,
 * its status, and which data-plane objects a change pushes. The control plane only runs these.
 */
export interface KindEntry<Spec> {
  group: string;
  versions: readonly string[];
  plural: string;
  /** The kind's own checks of a manifest as given (its spec is not yet known to be a `Spec`). */
  validate(m: Manifest): FieldError[];
  /** Sources deliver to `spec.sink`. */
  source?: boolean;
  /** EventTransform, Sequence and Parallel: an address that takes events (shared/resources/composition.ts). */
  addressable?: boolean;
  /** kubectl's short names and categories, as the CRDs of Knative and KEDA declare them. */
  shortNames?: readonly string[];
  categories?: readonly string[];
  /** `spec` fields that cannot change once created (Knative: a Trigger's broker, a KafkaSource's group). */
  immutable?: readonly (keyof Spec & string)[];
  /**
   * Kinds that an object runs on its own schedule (clients/runner.ts): a bridge source's poll
   * loop (shared/bridges/pollers.ts must then have its client), a schedule (PingSource), or scaling.
   */
  runs?: "bridge" | "schedule" | "scaling";
  /** Cluster-scoped (ClusterRole, ClusterRoleBinding): no namespace in its path or metadata. */
  clusterScoped?: boolean;
  /** The top-level fields that hold its content instead of `spec`, and no `status` (the RBAC kinds). */
  body?: readonly string[];
  /** How many runner objects share a resource (a KafkaSource's consumers); one without it. */
  consumers?: (m: Manifest<Spec>) => number;
  /**
   * The resources it names: a change to one of them re-pushes it, and its runner stops while one is
   * missing (a ScaledObject's or a JobSink's KubernetesCluster).
   */
  references?: (m: Manifest<Spec>) => Reference[];
  /** Checks against the other stored resources, at every write (a Replay's broker and triggers exist). */
  storedChecks?: (m: Manifest<Spec>, stored: StoredResources) => FieldError[];
  /** Checks of a replacement beyond `immutable` (a Broker's partitions may only grow). */
  change?: (before: Manifest<Spec>, after: Manifest<Spec>) => FieldError[];
  /** The status computed from the stored resources; `observedGeneration` is added to it. */
  status?: (m: Manifest<Spec>, stored: StoredResources) => Status;
  /** What the objects running it report, merged over `status` (read, get and list; not delete). */
  live?: (m: Manifest<Spec>, objects: LiveObjects) => Promise<Status>;
  /** The objects configured from it: pushed on every change of it, and again by the cron's reconcile. */
  objects: (m: Manifest<Spec>) => Push[];
  /** Other resources' objects a change of it re-pushes (a Trigger's broker), before its own. */
  dependents?: (m: Manifest<Spec>, stored: StoredResources) => Push[];
}

/** What a kind's `status` may read besides its manifest (statusContext gives it from the stored resources). */
export interface StatusContext {
  baseUrl: string;
  /** Whether a resource of that kind and name exists in the resource's namespace. */
  exists(kind: string, name: string): boolean;
  /** The Worker's env: which secrets are set. */
  env: object;
}

export type Status = Record<string, unknown>;

/**
 * A data-plane object the control plane configures (durable-objects/control-plane.ts). It reads the
 * resource again when it pushes, so one push serves a creation, a change and a deletion.
 */
export type Push =
  | { to: "broker"; namespace: string; name: string }
  | { to: "channels"; source: Manifest<SourceSpec> }
  | { to: "composition" | "runner"; resource: ResourceRef }
  | { to: "replay"; replay: Manifest<ReplaySpec> };

/** Which resource, whatever its spec. */
export type ResourceRef = Pick<Manifest, "kind" | "metadata">;

/** The stored resources as behaviour reads them (the control plane implements it). */
export interface StoredResources {
  /** The router's address, for the status's URLs. */
  ctx: ResolveContext;
  read<K extends KindName>(kind: K, namespace: string, name: string): Manifest<KindSpecs[K]> | null;
  list<K extends KindName>(kind: K, namespace?: string): Manifest<KindSpecs[K]>[];
  /** Every source and composition resource of a namespace. */
  sources(namespace: string): Manifest<SourceSpec>[];
  compositions(namespace: string): Manifest[];
  /** A broker's partition count as routed, undefined before it has a route. */
  partitions(namespace: string, broker: string): number | undefined;
  /** Whether a resource of any kind exists. */
  exists(kind: string, namespace: string, name: string): boolean;
  /** Every resource of a namespace whose kind `runs` and that names `m` (KindEntry.references). */
  runnersNaming(m: ResourceRef): ResourceRef[];
  /** The OIDC issuers the router trusts (OIDC_ISSUERS). */
  issuers: string[];
  /** The Worker's env: which secrets are set. */
  env: object;
}

/** A kind's StatusContext from the stored resources. */
const statusContext = (m: ResourceRef, stored: StoredResources): StatusContext => ({
  baseUrl: stored.ctx.baseUrl,
  env: stored.env,
  exists: (kind, name) => stored.exists(kind, m.metadata.namespace!, name),
});

/** The objects whose state a live status reads. */
export interface LiveObjects {
  runner(m: ResourceRef): Promise<Status>;
  replay(m: Manifest<ReplaySpec>): Promise<Status>;
}

/**
 * Every kind's spec type. A new kind is a line here and an entry in REGISTRY: the compiler refuses one
 * without the other, and checks the entry's functions against the spec's type.
 */
export interface KindSpecs {
  Broker: BrokerSpec;
  Trigger: TriggerSpec;
  PingSource: SourceSpec;
  KafkaSource: SourceSpec & { consumerGroup?: string; consumers?: number };
  GitHubSource: SourceSpec;
  WebhookSource: SourceSpec;
  RocketMQSource: SourceSpec;
  MNSSource: SourceSpec;
  RedisStreamSource: SourceSpec;
  EventTransform: EventTransformSpec;
  Sequence: SequenceSpec;
  Parallel: ParallelSpec;
  EventPolicy: EventPolicySpec;
  RequestReply: RequestReplySpec;
  Replay: ReplaySpec;
  ScaledObject: Record<string, unknown>;
  KubernetesCluster: Record<string, unknown>;
  JobSink: JobSinkSpec;
  // The RBAC kinds hold their content at the top level (KindEntry.body), not in `spec`.
  Role: RbacBody;
  RoleBinding: RbacBody;
  ClusterRole: RbacBody;
  ClusterRoleBinding: RbacBody;
}

/** What an RBAC kind's entry may name of its top-level content (`immutable: ["roleRef"]`). */
type RbacBody = Record<string, unknown>;

/** Every kind the management API serves: tables keyed by it must have an entry for each. */
export type KindName = keyof KindSpecs;

/** A kind's entry with its spec's type erased: a stored manifest has passed its kind's validation. */
// biome-ignore lint/suspicious/noExplicitAny: the one place where a kind's spec type is erased
export type KindInfo = KindEntry<any> & { kind: string };

/** Causes for changes to immutable fields (of `spec`, or top-level for kinds with a `body`) between the stored and the new manifest. */
export function immutableChanges(info: KindInfo, before: Manifest, after: Manifest): FieldError[] {
  const holder = (m: Manifest) => (info.body ? (m as unknown as Record<string, unknown>) : (m.spec ?? {}));
  const prefix = info.body ? "" : "spec.";
  return (info.immutable ?? [])
    .filter((f) => JSON.stringify(holder(before)[f]) !== JSON.stringify(holder(after)[f]))
    .map((f) => ({ field: `${prefix}${f}`, message: `is immutable (was ${JSON.stringify(holder(before)[f])})` }));
}

/** A source kind's own checks plus what every source shares (delivery, ACK annotations). */
const sourceChecks = (own: (m: Manifest) => FieldError[]) => (m: Manifest) => [...own(m), ...validateSourceCommon(m as Manifest<SourceSpec>)];

/** A ScaledObject's KubernetesCluster, when its annotation names one. */
const namedCluster = (m: ResourceRef): Reference[] => {
  const name = m.metadata.annotations?.[CLUSTER_ANNOTATION];
  return name === undefined ? [] : [{ kind: "KubernetesCluster", name }];
};

/** Ready=False while a KubernetesCluster it names is missing; nothing to add otherwise (its runner reports). */
function scaledObjectStatus(m: ResourceRef, ctx: StatusContext): Status {
  const missing = namedCluster(m).find((r) => !ctx.exists(r.kind, r.name));
  return missing
    ? {
        conditions: [
          readyCondition(false, "KubernetesClusterNotFound", `KubernetesCluster "${missing.name}" does not exist in namespace "${m.metadata.namespace}"`),
        ],
      }
    : {};
}

const SOURCES = "sources.knative.dev";
const RBAC = "rbac.authorization.k8s.io";
const PROJECT_SOURCES = "sources.edge-eventing.dev";

/** What every source kind does: a status naming its sink, its channels pushed (and its runner, for those that run). */
const source = {
  source: true,
  status: (m: Manifest<SourceSpec>, { ctx }: StoredResources): Status => ({
    conditions: [readyCondition(true, "SourceReady")],
    sinkUri: targetUrl(resolveDestination(m.spec.sink ?? {}, m.metadata.namespace!, ctx, m.metadata.annotations), ctx.baseUrl),
  }),
  objects: (m: Manifest<SourceSpec>): Push[] => [{ to: "channels", source: m }],
} as const;

/** A source run by an object of its own: the channels and the runner, whose status is merged. */
const runSource = {
  ...source,
  objects: (m: Manifest<SourceSpec>): Push[] => [
    { to: "channels", source: m },
    { to: "runner", resource: m },
  ],
  live: (m: Manifest<SourceSpec>, objects: LiveObjects) => objects.runner(m),
} as const;

/** An addressable's `status.policies` (Knative's applied policies): when any is listed, its address takes only senders they allow. */
function appliedPolicies(m: ResourceRef, stored: StoredResources): { policies?: { apiVersion: string; name: string }[] } {
  const applying = stored.list("EventPolicy", m.metadata.namespace).filter((p) => appliesTo(p, m));
  return applying.length > 0 ? { policies: applying.map((p) => ({ apiVersion: p.apiVersion, name: p.metadata.name })) } : {};
}

/** EventTransform, Sequence and Parallel: an address, channels of their own, and a sink when they have one. */
const composition = <Spec>(kind: CompositionKind, sinkOf: (spec: Spec) => Destination | undefined = () => undefined) =>
  ({
    addressable: true,
    status: (m: Manifest<Spec>, stored: StoredResources): Status => {
      const { ctx } = stored;
      const ns = m.metadata.namespace!;
      const sink = sinkOf(m.spec);
      return {
        conditions: [readyCondition(true, `${kind}Ready`)],
        address: { url: `${ctx.baseUrl}/${addressPath(kind, ns, m.metadata.name)}`, audience: audienceOf(kind, ns, m.metadata.name) },
        ...appliedPolicies(m, stored),
        ...(sink ? { sinkUri: targetUrl(resolveDestination(sink, ns, ctx, m.metadata.annotations), ctx.baseUrl) } : {}),
      };
    },
    objects: (m: ResourceRef): Push[] => [{ to: "composition", resource: m }],
  }) as const;

/**
 * The dependents of a kind whose resolved form travels inside delivery targets (an EventTransform's
 * expression, a JobSink's Job, a KubernetesCluster's connection): everything of its namespace that
 * delivers, every broker, source channel and other composition.
 */
const inTargets = (m: ResourceRef, stored: StoredResources): Push[] => [
  ...brokersAndChannels(m, stored),
  ...stored
    .compositions(m.metadata.namespace!)
    .filter((c) => c.metadata.name !== m.metadata.name || c.kind !== m.kind)
    .map((c): Push => ({ to: "composition", resource: c })),
];

/** Every broker and source channel of the resource's namespace. */
const brokersAndChannels = (m: ResourceRef, stored: StoredResources): Push[] => {
  const ns = m.metadata.namespace!;
  return [
    ...stored.list("Broker", ns).map((b): Push => ({ to: "broker", namespace: ns, name: b.metadata.name })),
    ...stored.sources(ns).map((s): Push => ({ to: "channels", source: s })),
  ];
};

const deadLetterSinkUri = (delivery: DeliverySpec | undefined, ns: string, ctx: ResolveContext) =>
  delivery?.deadLetterSink ? { deadLetterSinkUri: targetUrl(resolveDestination(delivery.deadLetterSink, ns, ctx), ctx.baseUrl) } : {};

const REGISTRY = {
  Broker: {
    group: "eventing.knative.dev",
    versions: ["v1"],
    plural: "brokers",
    validate: validateBroker,
    categories: ["all", "knative", "eventing"],
    change: validateBrokerChange,
    status: (m, stored) => {
      const ns = m.metadata.namespace!;
      return {
        conditions: [readyCondition(true, "BrokerReady")],
        address: { url: `${stored.ctx.baseUrl}/${ns}/${m.metadata.name}`, audience: audienceOf("Broker", ns, m.metadata.name) },
        ...appliedPolicies(m, stored),
        partitions: stored.partitions(ns, m.metadata.name) ?? partitionCount(m),
        ...deadLetterSinkUri(m.spec.delivery, ns, stored.ctx),
      };
    },
    objects: (m) => [{ to: "broker", namespace: m.metadata.namespace!, name: m.metadata.name }],
  },
  Trigger: {
    group: "eventing.knative.dev",
    versions: ["v1"],
    plural: "triggers",
    validate: (m: Manifest) => validateTrigger(m as never),
    immutable: ["broker"],
    categories: ["all", "knative", "eventing"],
    status: (m, stored) => {
      const ns = m.metadata.namespace!;
      const brokerExists = stored.read("Broker", ns, m.spec.broker) !== null;
      return {
        conditions: [
          brokerExists ? readyCondition(true, "TriggerReady") : readyCondition(false, "BrokerDoesNotExist", `Broker "${m.spec.broker}" does not exist`),
          ...(isPaused(m)
            ? [
                condition(
                  "Paused",
                  "True",
                  "Paused",
                  `${TRIGGER_ANNOTATIONS.paused} is "true": nothing is sent, events keep queueing within the broker's backlog limit`,
                ),
              ]
            : []),
        ],
        subscriberUri: targetUrl(resolveDestination(m.spec.subscriber, ns, stored.ctx, m.metadata.annotations), stored.ctx.baseUrl),
        ...deadLetterSinkUri(m.spec.delivery, ns, stored.ctx),
      };
    },
    // A trigger is part of its broker's configuration.
    objects: () => [],
    dependents: (m) => [{ to: "broker", namespace: m.metadata.namespace!, name: m.spec.broker }],
  },
  PingSource: {
    group: SOURCES,
    versions: ["v1"],
    plural: "pingsources",
    validate: sourceChecks((m) => validatePingSource(m.spec)),
    ...runSource,
    runs: "schedule",
    categories: ["all", "knative", "sources"],
  },
  KafkaSource: {
    group: SOURCES,
    versions: ["v1", "v1beta1", "v1alpha1"],
    plural: "kafkasources",
    validate: sourceChecks((m) => validateKafkaSourceSpec(m.spec, m.metadata)),
    ...runSource,
    immutable: ["consumerGroup"],
    runs: "bridge",
    consumers: (m) => kafkaConsumers(m.spec),
    shortNames: ["kafkasource"],
    categories: ["all", "knative", "sources"],
  },
  GitHubSource: {
    group: SOURCES,
    versions: ["v1alpha1"],
    plural: "githubsources",
    validate: sourceChecks((m) => validateWebhookSpec("GitHubSource", m.spec)),
    ...source,
    categories: ["all", "knative", "sources"],
  },
  WebhookSource: {
    group: PROJECT_SOURCES,
    versions: ["v1alpha1"],
    plural: "webhooksources",
    validate: sourceChecks((m) => validateWebhookSpec("WebhookSource", m.spec)),
    ...source,
  },
  RocketMQSource: {
    group: PROJECT_SOURCES,
    versions: ["v1alpha1"],
    plural: "rocketmqsources",
    validate: sourceChecks((m) => validateRocketMQSourceSpec(m.spec)),
    ...runSource,
    runs: "bridge",
  },
  MNSSource: {
    group: PROJECT_SOURCES,
    versions: ["v1alpha1"],
    plural: "mnssources",
    validate: sourceChecks((m) => validateMnsSourceSpec(m.spec)),
    ...runSource,
    runs: "bridge",
  },
  RedisStreamSource: {
    group: PROJECT_SOURCES,
    versions: ["v1alpha1"],
    plural: "redisstreamsources",
    validate: sourceChecks((m) => validateRedisStreamSourceSpec(m.spec)),
    ...runSource,
    runs: "bridge",
  },
  EventTransform: {
    group: "eventing.knative.dev",
    versions: ["v1alpha1"],
    plural: "eventtransforms",
    validate: (m: Manifest) => validateEventTransform(m as never),
    ...composition<EventTransformSpec>("EventTransform", (spec) => spec.sink),
    categories: ["all", "knative", "eventing"],
    dependents: inTargets,
  },
  Sequence: {
    group: "flows.knative.dev",
    versions: ["v1"],
    plural: "sequences",
    validate: (m: Manifest) => validateSequence(m as never),
    ...composition<SequenceSpec>("Sequence"),
    categories: ["all", "knative", "flows"],
  },
  Parallel: {
    group: "flows.knative.dev",
    versions: ["v1"],
    plural: "parallels",
    validate: (m: Manifest) => validateParallel(m as never),
    ...composition<ParallelSpec>("Parallel"),
    categories: ["all", "knative", "flows"],
  },
  EventPolicy: {
    group: "eventing.knative.dev",
    versions: ["v1alpha1"],
    plural: "eventpolicies",
    validate: (m: Manifest) =>
      validateEventPolicy(
        m as never,
        KINDS.filter((k) => k.source),
      ),
    categories: ["all", "knative", "eventing"],
    status: (m, stored) => {
      const ns = m.metadata.namespace!;
      return policyStatus(m.spec, (kind, name, namespace = ns) => stored.exists(kind, namespace, name), stored.issuers);
    },
    // The routing table reads policies when it is built: nothing is pushed.
    objects: () => [],
  },
  RequestReply: {
    group: "eventing.knative.dev",
    versions: ["v1alpha1"],
    plural: "requestreplies",
    validate: (m: Manifest) => validateRequestReply(m as never),
    immutable: ["brokerRef"],
    categories: ["all", "knative", "eventing"],
    status: (m, stored) => ({ ...requestReplyStatus(m, statusContext(m, stored)), ...appliedPolicies(m, stored) }),
    // Its broker's pushed configuration carries it.
    objects: () => [],
    dependents: (m) => [{ to: "broker", namespace: m.metadata.namespace!, name: m.spec.brokerRef.name }],
  },
  Replay: {
    group: "edge-eventing.dev",
    versions: ["v1alpha1"],
    plural: "replays",
    validate: validateReplay,
    immutable: ["broker", "from", "to", "triggers", "state", "filters"],
    storedChecks: (m, stored) => {
      const ns = m.metadata.namespace!;
      const triggers = stored
        .list("Trigger", ns)
        .filter((t) => t.spec.broker === m.spec.broker)
        .map((t) => t.metadata.name);
      return replayReferences(m.spec, stored.read("Broker", ns, m.spec.broker) ? triggers : null);
    },
    live: (m, objects) => objects.replay(m),
    objects: (m) => [{ to: "replay", replay: m }],
  },
  ScaledObject: {
    group: "keda.sh",
    versions: ["v1alpha1"],
    plural: "scaledobjects",
    validate: (m: Manifest) => validateScaledObject(m.spec, m.metadata.annotations),
    runs: "scaling",
    shortNames: ["so"],
    references: namedCluster,
    status: (m, stored) => scaledObjectStatus(m, statusContext(m, stored)),
    live: (m, objects) => objects.runner(m),
    objects: (m) => [{ to: "runner", resource: m }],
    // What it gates (the activator) is in the configuration of the brokers and source channels it scales
    // from; which ones it named before a change is not known, so all of its namespace's.
    dependents: brokersAndChannels,
  },
  KubernetesCluster: {
    group: "edge-eventing.dev",
    versions: ["v1alpha1"],
    plural: "kubernetesclusters",
    validate: validateKubernetesCluster,
    // JobSinks' Jobs carry its connection; the runners naming it (a ScaledObject's) run with it.
    objects: () => [],
    dependents: (m, stored) => [...inTargets(m, stored), ...stored.runnersNaming(m).map((r): Push => ({ to: "runner", resource: r }))],
  },
  JobSink: {
    group: "sinks.knative.dev",
    versions: ["v1alpha1"],
    plural: "jobsinks",
    validate: (m: Manifest) => validateJobSink(m as never),
    categories: ["all", "knative", "eventing", "sink"],
    references: (m) => [{ kind: "KubernetesCluster", name: jobSinkCluster(m) }],
    status: (m, stored) => ({
      ...jobSinkStatus(m, stored.ctx.baseUrl, stored.exists("KubernetesCluster", m.metadata.namespace!, jobSinkCluster(m))),
      ...appliedPolicies(m, stored),
    }),
    // Whatever delivers to it carries its Job: nothing of its own is configured.
    objects: () => [],
    dependents: inTargets,
  },
  // Kubernetes RBAC (shared/rbac/): stored and served like every kind, evaluated by the management API's
  // authorization; nothing in the data plane is configured from them, and they have no status.
  Role: { group: RBAC, versions: ["v1"], plural: "roles", validate: (m: Manifest) => validateRole(m, true), body: ["rules"], objects: () => [] },
  RoleBinding: {
    group: RBAC,
    versions: ["v1"],
    plural: "rolebindings",
    validate: (m: Manifest) => validateBinding(m, true),
    body: ["subjects", "roleRef"],
    immutable: ["roleRef"],
    objects: () => [],
  },
  ClusterRole: {
    group: RBAC,
    versions: ["v1"],
    plural: "clusterroles",
    validate: (m: Manifest) => validateRole(m, false),
    body: ["rules", "aggregationRule"],
    clusterScoped: true,
    objects: () => [],
  },
  ClusterRoleBinding: {
    group: RBAC,
    versions: ["v1"],
    plural: "clusterrolebindings",
    validate: (m: Manifest) => validateBinding(m, false),
    body: ["subjects", "roleRef"],
    immutable: ["roleRef"],
    clusterScoped: true,
    objects: () => [],
  },
} satisfies { [K in KindName]: KindEntry<KindSpecs[K]> };

export const KINDS: readonly KindInfo[] = Object.entries(REGISTRY).map(([kind, entry]) => ({ kind, ...entry }));

/** The source kinds read through a bridge client. */
export type BridgeKind = { [K in KindName]: (typeof REGISTRY)[K] extends { runs: "bridge" } ? K : never }[KindName];

export function findKind(group: string, version: string, plural: string): KindInfo | undefined {
  return KINDS.find((k) => k.group === group && k.plural === plural && k.versions.includes(version));
}

export function kindByName(kind: string): KindInfo | undefined {
  return KINDS.find((k) => k.kind === kind);
}

export function apiVersions(info: KindInfo): string[] {
  return info.versions.map((v) => `${info.group}/${v}`);
}
