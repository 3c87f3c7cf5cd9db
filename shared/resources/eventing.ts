/** Broker and Trigger (eventing.knative.dev/v1): validation, router settings, and the data-plane config. */
import { parseDuration } from "../delivery/duration.ts";
import { type DeliverySpec, type FieldError, validateDelivery } from "../delivery/policy.ts";
import { parseRateLimit, RATE_LIMIT_RULE, type RateLimit } from "../delivery/rate-limit.ts";
import { compileTriggerFilter, type TriggerFilterSpec } from "../filters/knative.ts";
import { type Target, validateDestination } from "./destination.ts";
import type { Manifest } from "./manifest.ts";
import { MAX_PARTITIONS, PARTITIONS_ANNOTATION } from "../partitions.ts";
import { isSecretName, SECRET_NAME_RULE } from "../secrets.ts";
import type { RequestReplyEntry } from "../requestreply/spec.ts";

export interface BrokerSpec {
  delivery?: DeliverySpec;
  config?: unknown;
}

export interface TriggerSpec extends TriggerFilterSpec {
  broker: string;
  subscriber: { uri?: string; ref?: { apiVersion?: string; kind: string; name: string; namespace?: string } };
  delivery?: DeliverySpec;
}

/** Router settings a Broker takes as annotations (Knative manifests stay valid without them). */
export const BROKER_ANNOTATIONS = {
  backlogLimit: "edge-eventing.dev/backlog-limit",
  dedupWindow: "edge-eventing.dev/dedup-window",
  /** Names a Worker secret; producers then send `Authorization: Bearer <its value>` (401 without, 403 wrong). */
  ingressTokenSecret: "edge-eventing.dev/ingress-token-secret",
  /** How long delivered events are kept with their delivery history (ISO 8601 duration; PT0S keeps none). */
  retention: "edge-eventing.dev/retention",
  /** The most events each partition keeps for the history; the oldest go first beyond it. */
  retentionLimit: "edge-eventing.dev/retention-limit",
  /** How many partition objects share the broker's events (API.md §5); may only grow. */
  partitions: PARTITIONS_ANNOTATION,
} as const;

/** Trigger settings: Knative Kafka broker's ordering annotation, and the router's flow control. */
export const TRIGGER_ANNOTATIONS = {
  deliveryOrder: "kafka.eventing.knative.dev/delivery.order",
  parallelism: "edge-eventing.dev/parallelism",
  /** `"<n>/s"` or `"<n>/m"`: delivery attempts started per period, across all partitions (shared/delivery/rate-limit.ts). */
  rateLimit: "edge-eventing.dev/rate-limit",
  /** `"true"`: nothing is sent; events keep queueing within the backlog limit. */
  paused: "edge-eventing.dev/paused",
} as const;

export const DEFAULT_BACKLOG_LIMIT = 100_000;
export const MAX_BACKLOG_LIMIT = 10_000_000;
export const DEFAULT_DEDUP_WINDOW_MS = 10 * 60_000;
export const MAX_DEDUP_WINDOW_MS = 7 * 86_400_000;
export const DEFAULT_RETENTION_MS = 24 * 3_600_000;
export const MAX_RETENTION_MS = 30 * 86_400_000;
export const DEFAULT_RETENTION_LIMIT = 100_000;
export const MAX_RETENTION_LIMIT = 1_000_000;
/** Knative Kafka's in-flight cap per partition (max.poll.records). */
export const DEFAULT_PARALLELISM = 50;
export const MAX_PARALLELISM = 1000;

/** The ingress-token annotation, which a Broker and the address of an EventTransform, Sequence or Parallel take. */
export function ingressTokenCauses(m: Pick<Manifest, "metadata">): FieldError[] {
  const secret = m.metadata.annotations?.[BROKER_ANNOTATIONS.ingressTokenSecret];
  return secret !== undefined && !isSecretName(secret)
    ? [{ field: `metadata.annotations.${BROKER_ANNOTATIONS.ingressTokenSecret}`, message: SECRET_NAME_RULE }]
    : [];
}

export function validateBroker(m: Manifest<BrokerSpec>): FieldError[] {
  const a = m.metadata.annotations ?? {};
  const causes = validateDelivery(m.spec?.delivery, "spec.delivery");
  causes.push(...validateDestination(m.spec?.delivery?.deadLetterSink, "spec.delivery.deadLetterSink", false));
  const backlog = a[BROKER_ANNOTATIONS.backlogLimit];
  if (backlog !== undefined && !isIntIn(backlog, 1, MAX_BACKLOG_LIMIT)) {
    causes.push({ field: `metadata.annotations.${BROKER_ANNOTATIONS.backlogLimit}`, message: `must be an integer from 1 to ${MAX_BACKLOG_LIMIT}` });
  }
  causes.push(...ingressTokenCauses(m));
  const partitions = a[BROKER_ANNOTATIONS.partitions];
  if (partitions !== undefined && !isIntIn(partitions, 1, MAX_PARTITIONS)) {
    causes.push({ field: `metadata.annotations.${BROKER_ANNOTATIONS.partitions}`, message: `must be an integer from 1 to ${MAX_PARTITIONS}` });
  }
  const dedup = a[BROKER_ANNOTATIONS.dedupWindow];
  if (dedup !== undefined) {
    const ms = parseDuration(dedup);
    if (ms === null || ms > MAX_DEDUP_WINDOW_MS) {
      causes.push({
        field: `metadata.annotations.${BROKER_ANNOTATIONS.dedupWindow}`,
        message: "must be an ISO 8601 duration of at most P7D (PT0S turns dedup off)",
      });
    }
  }
  const retention = a[BROKER_ANNOTATIONS.retention];
  if (retention !== undefined) {
    const ms = parseDuration(retention);
    if (ms === null || ms > MAX_RETENTION_MS)
      causes.push({
        field: `metadata.annotations.${BROKER_ANNOTATIONS.retention}`,
        message: "must be an ISO 8601 duration of at most P30D (PT0S keeps nothing after delivery)",
      });
  }
  const limit = a[BROKER_ANNOTATIONS.retentionLimit];
  if (limit !== undefined && !isIntIn(limit, 1, MAX_RETENTION_LIMIT)) {
    causes.push({
      field: `metadata.annotations.${BROKER_ANNOTATIONS.retentionLimit}`,
      message: `must be an integer from 1 to ${MAX_RETENTION_LIMIT} (events per partition)`,
    });
  }
  return causes;
}

/** A broker's partition count (its annotation, default 1). */
export function partitionCount(m: Manifest<BrokerSpec>): number {
  const text = m.metadata.annotations?.[BROKER_ANNOTATIONS.partitions];
  return text === undefined ? 1 : Number(text);
}

/** A re-applied broker may add partitions, never remove them: their queues would be orphaned. */
export function validateBrokerChange(before: Manifest<BrokerSpec>, after: Manifest<BrokerSpec>): FieldError[] {
  const was = partitionCount(before);
  const now = partitionCount(after);
  return now < was
    ? [{ field: `metadata.annotations.${BROKER_ANNOTATIONS.partitions}`, message: `cannot shrink from ${was} to ${now} partitions (it may only grow)` }]
    : [];
}

export function validateTrigger(m: Manifest<TriggerSpec>): FieldError[] {
  const spec = (m.spec ?? {}) as Partial<TriggerSpec>;
  const a = m.metadata.annotations ?? {};
  const causes: FieldError[] = [];
  if (typeof spec.broker !== "string" || spec.broker === "") causes.push({ field: "spec.broker", message: "is required" });
  causes.push(...validateDestination(spec.subscriber, "spec.subscriber", true));
  causes.push(...validateDelivery(spec.delivery, "spec.delivery"));
  causes.push(...validateDestination(spec.delivery?.deadLetterSink, "spec.delivery.deadLetterSink", false));
  const compiled = compileTriggerFilter(spec);
  if ("causes" in compiled) causes.push(...compiled.causes);
  const order = a[TRIGGER_ANNOTATIONS.deliveryOrder];
  if (order !== undefined && order !== "ordered" && order !== "unordered") {
    causes.push({ field: `metadata.annotations.${TRIGGER_ANNOTATIONS.deliveryOrder}`, message: 'must be "ordered" or "unordered"' });
  }
  const par = a[TRIGGER_ANNOTATIONS.parallelism];
  if (par !== undefined && !isIntIn(par, 1, MAX_PARALLELISM)) {
    causes.push({ field: `metadata.annotations.${TRIGGER_ANNOTATIONS.parallelism}`, message: `must be an integer from 1 to ${MAX_PARALLELISM}` });
  }
  const rate = a[TRIGGER_ANNOTATIONS.rateLimit];
  if (rate !== undefined && parseRateLimit(rate) === null)
    causes.push({ field: `metadata.annotations.${TRIGGER_ANNOTATIONS.rateLimit}`, message: RATE_LIMIT_RULE });
  const paused = a[TRIGGER_ANNOTATIONS.paused];
  if (paused !== undefined && paused !== "true" && paused !== "false")
    causes.push({ field: `metadata.annotations.${TRIGGER_ANNOTATIONS.paused}`, message: 'must be "true" or "false"' });
  return causes;
}

function isIntIn(text: string, min: number, max: number): boolean {
  const n = Number(text);
  return /^\d+$/.test(text) && n >= min && n <= max;
}

/** What the control plane pushes to a broker's Durable Object: everything routing and delivery need. */
export interface BrokerConfig {
  namespace: string;
  name: string;
  backlogLimit: number;
  dedupWindowMs: number;
  /** Delivered events are kept this long (0: deleted on delivery, as a source's channel does). */
  retentionMs?: number;
  /** Events each partition keeps at most for the history. */
  retentionLimit?: number;
  /** The Worker secret producers must present as a bearer token, when the broker requires one. */
  ingressTokenSecret?: string;
  delivery?: DeliverySpec;
  deadLetter?: Target;
  triggers: TriggerConfig[];
  /** A partition of a partitioned broker: which one, and the counts before recent growth (for dedup). */
  partition?: PartitionIdentity;
  /** The RequestReplies whose requests go to this broker: replies to them are handed to their waiting requests. */
  requestReplies?: RequestReplyEntry[];
}

export interface PartitionIdentity {
  index: number;
  count: number;
  /**
   * Partition counts this broker had before it grew, each until its dedup window after the growth ran
   * out (epoch ms): an event's owner under such a count may hold its (source, id) in its dedup table.
   */
  previous: { count: number; until: number }[];
}

export interface TriggerConfig {
  name: string;
  uid: string;
  filter: TriggerFilterSpec;
  subscriber: Target;
  /** The subscriber as a URL, for status and `knativeerrordest`. */
  subscriberUri: string;
  /** The trigger's own delivery, replacing the broker's whole when set. */
  delivery?: DeliverySpec;
  deadLetter?: Target;
  ordered: boolean;
  parallelism: number;
  /** Attempts started per period across the broker's partitions; absent: no limit. */
  rateLimit?: RateLimit;
  /** Nothing is sent while true. */
  paused?: boolean;
  /**
   * Where a subscriber's reply goes: absent, back into this broker (a Trigger); null, nowhere (a source's
   * channel); else the broker or channel named (a flow's next step).
   */
  reply?: { namespace: string; name: string } | null;
  /**
   * The ScaledObject (same namespace) that scales this trigger's subscriber from it: its deliveries wait
   * for a ready replica and within its capacity (shared/autoscaling/activator.ts). Absent: not gated.
   */
  activator?: { scaledObject: string };
}

export function brokerSettings(
  m: Manifest<BrokerSpec>,
): Pick<BrokerConfig, "backlogLimit" | "dedupWindowMs" | "ingressTokenSecret" | "retentionMs" | "retentionLimit"> {
  const a = m.metadata.annotations ?? {};
  const backlog = a[BROKER_ANNOTATIONS.backlogLimit];
  const dedup = a[BROKER_ANNOTATIONS.dedupWindow];
  const retention = a[BROKER_ANNOTATIONS.retention];
  const limit = a[BROKER_ANNOTATIONS.retentionLimit];
  return {
    retentionMs: retention === undefined ? DEFAULT_RETENTION_MS : (parseDuration(retention) ?? DEFAULT_RETENTION_MS),
    retentionLimit: limit === undefined ? DEFAULT_RETENTION_LIMIT : Number(limit),
    backlogLimit: backlog === undefined ? DEFAULT_BACKLOG_LIMIT : Number(backlog),
    dedupWindowMs: dedup === undefined ? DEFAULT_DEDUP_WINDOW_MS : (parseDuration(dedup) ?? DEFAULT_DEDUP_WINDOW_MS),
    ingressTokenSecret: a[BROKER_ANNOTATIONS.ingressTokenSecret],
  };
}

export function triggerSettings(m: Manifest<TriggerSpec>): Pick<TriggerConfig, "ordered" | "parallelism" | "rateLimit" | "paused"> {
  const a = m.metadata.annotations ?? {};
  const par = a[TRIGGER_ANNOTATIONS.parallelism];
  const rate = a[TRIGGER_ANNOTATIONS.rateLimit];
  const rateLimit = rate === undefined ? null : parseRateLimit(rate);
  return {
    ordered: a[TRIGGER_ANNOTATIONS.deliveryOrder] === "ordered",
    parallelism: par === undefined ? DEFAULT_PARALLELISM : Number(par),
    ...(rateLimit ? { rateLimit } : {}),
    ...(isPaused(m) ? { paused: true } : {}),
  };
}

export const isPaused = (m: { metadata: Manifest["metadata"] }): boolean => m.metadata.annotations?.[TRIGGER_ANNOTATIONS.paused] === "true";
