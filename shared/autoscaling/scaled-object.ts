/**
 * `keda.sh/v1alpha1` ScaledObject as edge-eventing reads it: KEDA's fields, edge-eventing's trigger
 * types, the remote cluster's connection, and Knative's autoscaling annotations tuning the KPA decider.
 */
import { activatorSettings, type ActivatorSettings } from "./activator.ts";
import { knativeTuning } from "./annotations.ts";
import type { ScaleBounds } from "./bounds.ts";
import type { DeciderSpec } from "./decider.ts";
import { SOURCE_KINDS } from "./source-metrics.ts";
import { KAFKA_DEFAULTS, type KafkaLagOptions } from "./kafka-lag.ts";
import type { KedaPolicy } from "./keda.ts";
import { CLUSTER_ANNOTATION, type ClusterConnection, parseCluster } from "../kubernetes/cluster.ts";
import { isValidName } from "../resources/manifest.ts";

export interface FieldError {
  field: string;
  message: string;
}

export interface ScaleTargetRef {
  apiVersion: string;
  kind: string;
  name: string;
  namespace: string;
}

export type TriggerMetric = "concurrency" | "rps" | "backlog" | "lag";

export interface TriggerSpec {
  type: "edge-eventing" | "kafka" | "rocketmq" | "redis-streams";
  /** The Trigger or source resource whose metric drives scaling (same namespace). */
  source: string;
  /** edge-eventing: the Broker the Trigger belongs to (its object holds the metrics). */
  broker?: string;
  metric: TriggerMetric;
  /** AverageValue target per replica (backlog and lag metrics). */
  target: number;
  activationTarget: number;
  kafka?: KafkaLagOptions;
}

export interface AutoscalerPlan {
  target: ScaleTargetRef;
  cluster: ClusterConnection;
  /** The KPA decider, when a concurrency or rps trigger exists. */
  decider: DeciderSpec | null;
  panicWindowPercentage: number;
  bounds: ScaleBounds;
  keda: KedaPolicy;
  pollingIntervalSec: number;
  triggers: TriggerSpec[];
  /** Decide and report, never write the target (annotation DRY_RUN_ANNOTATION). */
  dryRun: boolean;
  /** How deliveries to the target wait for a ready replica and for capacity (shared/autoscaling/activator.ts). */
  activator: ActivatorSettings;
}

export const DRY_RUN_ANNOTATION = "edge-eventing.dev/dry-run";

const TARGETS: Record<string, string[]> = { "apps/v1": ["Deployment", "StatefulSet"], "serving.knative.dev/v1": ["Service"] };
/** Limits: replicas and triggers a single ScaledObject may ask for. */
export const MAX_REPLICAS = 10_000;
export const MAX_TRIGGERS = 16;
const DNS_NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

/** KEDA metadata values are strings ("10", "true"); native JSON values are accepted too. */
function metaNumber(meta: Obj, key: string, fallback: number | undefined, field: string, errors: FieldError[], min = 0): number {
  const raw = meta[key];
  if (raw === undefined) {
    if (fallback === undefined) errors.push({ field, message: "is required" });
    return fallback ?? 0;
  }
  const v = typeof raw === "number" ? raw : typeof raw === "string" && raw.trim() !== "" ? Number(raw) : NaN;
  if (!Number.isFinite(v) || v < min) errors.push({ field, message: `must be a number >= ${min}, got ${JSON.stringify(raw)}` });
  return v;
}

function metaBool(meta: Obj, key: string, field: string, errors: FieldError[]): boolean {
  const raw = meta[key];
  if (raw === undefined) return false;
  if (raw === true || raw === "true") return true;
  if (raw === false || raw === "false") return false;
  errors.push({ field, message: `must be "true" or "false", got ${JSON.stringify(raw)}` });
  return false;
}

function metaName(meta: Obj, key: string, field: string, errors: FieldError[]): string {
  const raw = meta[key];
  if (typeof raw !== "string" || !DNS_NAME.test(raw)) errors.push({ field, message: "must be a resource name" });
  return typeof raw === "string" ? raw : "";
}

function parseTrigger(t: unknown, at: string, errors: FieldError[]): TriggerSpec | null {
  if (!isObj(t)) {
    errors.push({ field: at, message: "must be an object" });
    return null;
  }
  const meta = isObj(t.metadata) ? t.metadata : {};
  if (!isObj(t.metadata)) errors.push({ field: `${at}.metadata`, message: "must be an object" });
  const m = `${at}.metadata`;
  switch (t.type) {
    case "edge-eventing": {
      const source = metaName(meta, "trigger", `${m}.trigger`, errors);
      const broker = metaName(meta, "broker", `${m}.broker`, errors);
      const metric = meta.metric;
      if (metric === "concurrency" || metric === "rps") {
        // 0: the per-pod target comes from the autoscaling.knative.dev/target annotation or its default.
        const target = meta.target === undefined ? 0 : metaNumber(meta, "target", undefined, `${m}.target`, errors, 0.01);
        return { type: t.type, source, broker, metric, target, activationTarget: 0 };
      }
      if (metric === "backlog") {
        const target = metaNumber(meta, "target", undefined, `${m}.target`, errors, 1);
        const activationTarget = metaNumber(meta, "activationTarget", 0, `${m}.activationTarget`, errors);
        return { type: t.type, source, broker, metric, target, activationTarget };
      }
      errors.push({ field: `${m}.metric`, message: 'must be "concurrency", "rps" or "backlog"' });
      return null;
    }
    case "kafka": {
      const source = metaName(meta, "kafkaSource", `${m}.kafkaSource`, errors);
      const policy = meta.offsetResetPolicy ?? "latest";
      if (policy !== "latest" && policy !== "earliest") errors.push({ field: `${m}.offsetResetPolicy`, message: 'must be "latest" or "earliest"' });
      const kafka: KafkaLagOptions = {
        lagThreshold: metaNumber(meta, "lagThreshold", KAFKA_DEFAULTS.lagThreshold, `${m}.lagThreshold`, errors, 1),
        activationLagThreshold: metaNumber(meta, "activationLagThreshold", 0, `${m}.activationLagThreshold`, errors),
        offsetResetPolicy: policy === "earliest" ? "earliest" : "latest",
        allowIdleConsumers: metaBool(meta, "allowIdleConsumers", `${m}.allowIdleConsumers`, errors),
        excludePersistentLag: metaBool(meta, "excludePersistentLag", `${m}.excludePersistentLag`, errors),
        scaleToZeroOnInvalidOffset: metaBool(meta, "scaleToZeroOnInvalidOffset", `${m}.scaleToZeroOnInvalidOffset`, errors),
        limitToPartitionsWithLag: metaBool(meta, "limitToPartitionsWithLag", `${m}.limitToPartitionsWithLag`, errors),
        ensureEvenDistributionOfPartitions: metaBool(meta, "ensureEvenDistributionOfPartitions", `${m}.ensureEvenDistributionOfPartitions`, errors),
      };
      if (kafka.allowIdleConsumers && kafka.limitToPartitionsWithLag)
        errors.push({ field: `${m}.limitToPartitionsWithLag`, message: "cannot be combined with allowIdleConsumers" });
      if (kafka.limitToPartitionsWithLag && kafka.ensureEvenDistributionOfPartitions)
        errors.push({ field: `${m}.ensureEvenDistributionOfPartitions`, message: "cannot be combined with limitToPartitionsWithLag" });
      return { type: t.type, source, metric: "lag", target: kafka.lagThreshold, activationTarget: kafka.activationLagThreshold, kafka };
    }
    case "rocketmq":
      return {
        type: t.type,
        source: metaName(meta, "rocketmqSource", `${m}.rocketmqSource`, errors),
        metric: "backlog",
        target: metaNumber(meta, "lagThreshold", 10, `${m}.lagThreshold`, errors, 1),
        activationTarget: metaNumber(meta, "activationLagThreshold", 0, `${m}.activationLagThreshold`, errors),
      };
    case "redis-streams":
      return {
        type: t.type,
        source: metaName(meta, "redisStreamSource", `${m}.redisStreamSource`, errors),
        metric: "backlog",
        target: metaNumber(meta, "pendingEntriesCount", 5, `${m}.pendingEntriesCount`, errors, 1),
        activationTarget: metaNumber(meta, "activationLagCount", 0, `${m}.activationLagCount`, errors),
      };
    default:
      errors.push({ field: `${at}.type`, message: 'must be "edge-eventing", "kafka", "rocketmq" or "redis-streams"' });
      return null;
  }
}

function parseTarget(v: unknown, namespace: string, errors: FieldError[]): ScaleTargetRef {
  const at = "spec.scaleTargetRef";
  const ref = isObj(v) ? v : {};
  if (!isObj(v)) errors.push({ field: at, message: "is required" });
  const apiVersion = typeof ref.apiVersion === "string" ? ref.apiVersion : "apps/v1";
  const kind = typeof ref.kind === "string" ? ref.kind : "Deployment";
  if (!TARGETS[apiVersion]?.includes(kind))
    errors.push({ field: `${at}.kind`, message: "must be apps/v1 Deployment or StatefulSet, or serving.knative.dev/v1 Service" });
  const name = typeof ref.name === "string" ? ref.name : "";
  if (!DNS_NAME.test(name)) errors.push({ field: `${at}.name`, message: "must be a resource name" });
  return { apiVersion, kind, name, namespace };
}

function int(spec: Obj, key: string, fallback: number, min: number, max: number, errors: FieldError[]): number {
  const v = spec[key];
  if (v === undefined) return fallback;
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    errors.push({ field: `spec.${key}`, message: `must be an integer in [${min}, ${max}]` });
    return fallback;
  }
  return v;
}

/**
 * The connection: inline `spec.cluster`, or the KubernetesCluster the annotation names (`named`, resolved
 * by the control plane; absent when validating, which checks only the name).
 */
function clusterFrom(s: Obj, annotations: Record<string, string> | undefined, named: ClusterConnection | undefined, errors: FieldError[]): ClusterConnection {
  const name = annotations?.[CLUSTER_ANNOTATION];
  if (name === undefined) return parseCluster(s.cluster, errors);
  if (!isValidName(name)) errors.push({ field: `metadata.annotations.${CLUSTER_ANNOTATION}`, message: "must name a KubernetesCluster of the namespace" });
  if (s.cluster !== undefined) errors.push({ field: "spec.cluster", message: `use either spec.cluster or the ${CLUSTER_ANNOTATION} annotation, not both` });
  return named ?? { url: "", secretKeyRef: { name: "" } };
}

function parse(
  spec: unknown,
  annotations: Record<string, string> | undefined,
  namespace: string,
  named?: ClusterConnection,
): { plan: AutoscalerPlan; errors: FieldError[] } {
  const errors: FieldError[] = [];
  const s = isObj(spec) ? spec : {};
  if (!isObj(spec)) errors.push({ field: "spec", message: "must be an object" });
  const { tuning, errors: annotationErrors } = knativeTuning(annotations);
  errors.push(...annotationErrors);
  const dryRun = metaBool(annotations ?? {}, DRY_RUN_ANNOTATION, `metadata.annotations.${DRY_RUN_ANNOTATION}`, errors);
  const activator = activatorSettings(annotations);
  errors.push(...activator.errors);

  let minReplicaCount = int(s, "minReplicaCount", 0, 0, MAX_REPLICAS, errors);
  let maxReplicaCount = int(s, "maxReplicaCount", 100, 1, MAX_REPLICAS, errors);
  // Knative's min-scale / max-scale are accepted as aliases; given twice, they must agree.
  for (const [key, value, alias] of [
    ["minReplicaCount", tuning.minScale, "min-scale"],
    ["maxReplicaCount", tuning.maxScale, "max-scale"],
  ] as const) {
    if (value === undefined) continue;
    if (s[key] !== undefined && s[key] !== value) errors.push({ field: `spec.${key}`, message: `disagrees with autoscaling.knative.dev/${alias} (${value})` });
    if (key === "minReplicaCount") minReplicaCount = value;
    else if (value > 0) maxReplicaCount = Math.min(value, MAX_REPLICAS);
  }
  if (minReplicaCount > maxReplicaCount) errors.push({ field: "spec.minReplicaCount", message: `must be <= maxReplicaCount (${maxReplicaCount})` });
  const pollingIntervalSec = int(s, "pollingInterval", 30, 1, 3600, errors);
  const cooldownPeriodSec = int(s, "cooldownPeriod", 300, 0, 86_400, errors);

  const triggers: TriggerSpec[] = [];
  const specIndex = new Map<TriggerSpec, number>();
  if (!Array.isArray(s.triggers) || s.triggers.length === 0 || s.triggers.length > MAX_TRIGGERS) {
    errors.push({ field: "spec.triggers", message: `must list 1 to ${MAX_TRIGGERS} triggers` });
  } else {
    s.triggers.forEach((t, i) => {
      const parsed = parseTrigger(t, `spec.triggers[${i}]`, errors);
      if (!parsed) return;
      triggers.push(parsed);
      specIndex.set(parsed, i);
    });
  }
  const kpa = triggers.filter((t) => t.metric === "concurrency" || t.metric === "rps");
  if (kpa.length > 1) errors.push({ field: "spec.triggers", message: "at most one concurrency or rps trigger (the KPA decider uses one metric)" });

  const metric = kpa[0]?.metric === "rps" ? "rps" : "concurrency";
  const metaTarget = kpa[0]?.target || undefined;
  if (metaTarget !== undefined && tuning.target !== undefined && metaTarget !== tuning.target) {
    errors.push({
      field: `spec.triggers[${specIndex.get(kpa[0])}].metadata.target`,
      message: `disagrees with autoscaling.knative.dev/target (${tuning.target})`,
    });
  }
  const total = metaTarget ?? tuning.target ?? (metric === "rps" ? 200 : 100);
  const decider: DeciderSpec | null =
    kpa.length === 0
      ? null
      : {
          scalingMetric: metric,
          targetValue: Math.max(0.01, total * tuning.utilization),
          totalValue: total,
          targetBurstCapacity: tuning.targetBurstCapacity,
          panicThreshold: tuning.panicThreshold,
          maxScaleUpRate: 1000,
          maxScaleDownRate: 2,
          stableWindowSec: tuning.stableWindowSec,
          scaleDownDelaySec: tuning.scaleDownDelaySec,
          reachable: true,
          activationScale: tuning.activationScale,
        };
  const target = parseTarget(s.scaleTargetRef, namespace, errors);
  const plan: AutoscalerPlan = {
    target,
    cluster: clusterFrom(s, annotations, named, errors),
    decider,
    panicWindowPercentage: tuning.panicWindowPercentage,
    bounds: {
      minScale: minReplicaCount,
      maxScale: maxReplicaCount,
      initialScale: tuning.initialScale,
      podBufferSize: tuning.podBufferSize,
      knativeScaleToZero: target.apiVersion.startsWith("serving.knative.dev/") && target.kind === "Service",
      scaleToZeroGraceSec: 30,
      scaleToZeroRetentionSec: tuning.scaleToZeroRetentionSec,
      stableWindowSec: tuning.stableWindowSec,
    },
    keda: { minReplicaCount, maxReplicaCount, cooldownPeriodSec },
    pollingIntervalSec,
    triggers,
    dryRun,
    activator: activator.settings,
  };
  return { plan, errors };
}

/** Every problem of a ScaledObject spec and its annotations; empty when valid. */
export function validateScaledObject(spec: unknown, annotations?: Record<string, string>): FieldError[] {
  return parse(spec, annotations, "default").errors;
}

/**
 * The decider spec and scaling plan of a valid ScaledObject; throws listing every problem otherwise.
 * `cluster`: the KubernetesCluster its annotation names, when it names one.
 */
export function deciderSpecFrom(
  scaledObject: { metadata?: { namespace?: string; annotations?: Record<string, string> }; spec?: unknown },
  cluster?: ClusterConnection,
): AutoscalerPlan {
  const { plan, errors } = parse(scaledObject.spec, scaledObject.metadata?.annotations, scaledObject.metadata?.namespace ?? "default", cluster);
  if (errors.length > 0) throw new InvalidScaledObjectError(errors);
  return plan;
}

export class InvalidScaledObjectError extends Error {
  readonly causes: FieldError[];
  constructor(causes: FieldError[]) {
    super(`invalid ScaledObject: ${causes.map((c) => `${c.field}: ${c.message}`).join("; ")}`);
    this.causes = causes;
  }
}

/**
 * What the ScaledObjects of a namespace gate (the activator): keys `Trigger/{broker}/{trigger}` for an
 * `edge-eventing` trigger and `{SourceKind}/{name}` for a source's, each to the first ScaledObject (by
 * name) that scales from it. Invalid manifests (stored by an older version) gate nothing.
 */
export function gatedBy(
  scaledObjects: { metadata: { name: string; namespace?: string; annotations?: Record<string, string> }; spec?: unknown }[],
): Map<string, string> {
  const gated = new Map<string, string>();
  for (const so of [...scaledObjects].sort((a, b) => a.metadata.name.localeCompare(b.metadata.name))) {
    const { plan, errors } = parse(so.spec, so.metadata.annotations, so.metadata.namespace ?? "default");
    if (errors.length > 0) continue;
    for (const t of plan.triggers) {
      const key = t.type === "edge-eventing" ? `Trigger/${t.broker}/${t.source}` : `${SOURCE_KINDS[t.type]}/${t.source}`;
      if (!gated.has(key)) gated.set(key, so.metadata.name);
    }
  }
  return gated;
}
