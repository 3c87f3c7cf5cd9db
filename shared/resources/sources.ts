/**
 * How a source's events reach its sink. A sink that is a Broker takes them at its own ingest; any other
 * sink (a URL, a Knative Service) gets the source's own delivery channel: a broker object with a single
 * catch-all trigger to the sink, so retries, backoff, dead letters and dedup work for sources exactly as
 * for triggers, with one mechanism.
 */
import { parseGoDuration } from "../autoscaling/go-duration.ts";
import { parseDuration } from "../delivery/duration.ts";
import { type DeliverySpec, type Destination, type FieldError, validateDelivery } from "../delivery/policy.ts";
import { type ResolveContext, resolveDestination, type Target, targetUrl, validateDestination } from "./destination.ts";
import { type BrokerConfig, DEFAULT_BACKLOG_LIMIT, DEFAULT_DEDUP_WINDOW_MS, DEFAULT_PARALLELISM, type TriggerConfig } from "./eventing.ts";
import type { Manifest } from "./manifest.ts";

export interface SourceSpec {
  sink?: Destination;
  delivery?: DeliverySpec;
  /** KafkaSource: `ordered` (Knative's default for it) or `unordered`. */
  ordering?: string;
}

/** Where a source's events are ingested: a broker object's namespace and name. */
export interface SinkEntry {
  namespace: string;
  name: string;
}

/** A channel's name holds ':', which no Broker name can, so channels never collide with brokers or ingress. */
export function isChannelName(name: string): boolean {
  return name.includes(":");
}

function channelName(source: Manifest<SourceSpec>, purpose: "sink" | "dead-letter"): string {
  const base = sinkChannelName(source.kind, source.metadata.name);
  return purpose === "sink" ? base : `${base}:${purpose}`;
}

/** The channel (a broker object of one partition, its one trigger named `sink`) a source delivers to its sink through. */
export const sinkChannelName = (kind: string, name: string) => `source:${kind.toLowerCase()}:${name}`;

/**
 * A source's two destinations: its sink, and its dead-letter sink for messages that cannot become
 * events (poison). Each is a Broker (ingested directly) or gets a channel of its own.
 */
interface Route {
  purpose: "sink" | "dead-letter";
  target: Target;
  /** The channel's delivery; a channel to the dead-letter sink has no dead-letter sink itself. */
  delivery: DeliverySpec | undefined;
}

function routes(source: Manifest<SourceSpec>, ctx: ResolveContext): Route[] {
  const ns = source.metadata.namespace!;
  const delivery = sourceDelivery(source);
  const list: Route[] = [{ purpose: "sink", target: resolveDestination(source.spec.sink ?? {}, ns, ctx, source.metadata.annotations), delivery }];
  const dls = delivery?.deadLetterSink;
  if (dls) {
    const { deadLetterSink: _, ...rest } = delivery!;
    list.push({ purpose: "dead-letter", target: resolveDestination(dls, ns, ctx), delivery: rest });
  }
  return list;
}

function entryOf(source: Manifest<SourceSpec>, route: Route): SinkEntry {
  return route.target.kind === "broker"
    ? { namespace: route.target.namespace, name: route.target.name }
    : { namespace: source.metadata.namespace!, name: channelName(source, route.purpose) };
}

/** Where a source's events are ingested. */
export function sinkEntry(source: Manifest<SourceSpec>, ctx: ResolveContext): SinkEntry {
  return entryOf(source, routes(source, ctx)[0]);
}

/** Where a source's poison messages (as CloudEvents) are ingested, or null without a dead-letter sink. */
export function deadLetterEntry(source: Manifest<SourceSpec>, ctx: ResolveContext): SinkEntry | null {
  const route = routes(source, ctx)[1];
  return route ? entryOf(source, route) : null;
}

/**
 * Every channel object a source may own, each with its configuration, or null when it is not needed
 * (its destination is a Broker, or there is no dead-letter sink), so a stale one is cleared.
 */
export function sourceChannels(
  source: Manifest<SourceSpec>,
  ctx: ResolveContext | null,
  activator?: TriggerConfig["activator"],
): { entry: SinkEntry; config: BrokerConfig | null }[] {
  const live = ctx ? routes(source, ctx) : [];
  return (["sink", "dead-letter"] as const).map((purpose) => {
    const entry = { namespace: source.metadata.namespace!, name: channelName(source, purpose) };
    const route = live.find((r) => r.purpose === purpose);
    return {
      entry,
      config: route && route.target.kind !== "broker" ? channelConfig(source, route, entry, ctx!, route.purpose === "sink" ? activator : undefined) : null,
    };
  });
}

function channelConfig(source: Manifest<SourceSpec>, route: Route, entry: SinkEntry, ctx: ResolveContext, activator: TriggerConfig["activator"]): BrokerConfig {
  const dls = route.delivery?.deadLetterSink;
  return {
    ...entry,
    backlogLimit: DEFAULT_BACKLOG_LIMIT,
    dedupWindowMs: DEFAULT_DEDUP_WINDOW_MS,
    delivery: route.delivery,
    deadLetter: dls ? resolveDestination(dls, entry.namespace, ctx) : undefined,
    triggers: [
      {
        name: route.purpose,
        uid: `${source.metadata.uid}:${route.purpose}`,
        filter: {},
        subscriber: route.target,
        subscriberUri: targetUrl(route.target, ctx.baseUrl),
        ordered: route.purpose === "sink" && isOrdered(source),
        parallelism: DEFAULT_PARALLELISM,
        // A source does nothing with what its sink answers (Knative's adapters drop replies).
        reply: null,
        ...(activator ? { activator } : {}),
      },
    ],
  };
}

/**
 * Knative's KafkaSource delivers in order unless `ordering: unordered`; the router keeps that order per
 * record key (the `partitionkey` extension), which is at least as strict for every key.
 */
function isOrdered(source: Manifest<SourceSpec>): boolean {
  return source.spec.ordering === "ordered" || (source.kind === "KafkaSource" && source.spec.ordering === undefined);
}

/**
 * Alibaba ACK's delivery annotations on sources (seed manifests carry them; Alibaba documents none, so
 * this reading is an assumption, see README): a fixed interval between retries, a retry count and a
 * per-request timeout. `spec.delivery` fields win where both are given.
 */
export const ACK_ANNOTATIONS = {
  retryCount: "k8s.aliyun.com/retry-count",
  retryInterval: "k8s.aliyun.com/retry-interval",
  requestTimeout: "k8s.aliyun.com/req-timeout",
} as const;

/** `PT1S`, Go's `1s` / `500ms`, or a bare number of seconds. */
function annotationDurationMs(text: string): number | null {
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text) * 1000;
  const iso = parseDuration(text);
  if (iso !== null) return iso;
  const seconds = parseGoDuration(text);
  return seconds === null ? null : seconds * 1000;
}

const iso = (ms: number) => `PT${ms / 1000}S`;

/** The delivery a source's channel applies: `spec.delivery`, completed from the ACK annotations. */
export function sourceDelivery(source: Manifest<SourceSpec>): DeliverySpec | undefined {
  const a = source.metadata.annotations ?? {};
  const fromAnnotations: DeliverySpec = {};
  if (a[ACK_ANNOTATIONS.retryCount] !== undefined) fromAnnotations.retry = Number(a[ACK_ANNOTATIONS.retryCount]);
  const interval = a[ACK_ANNOTATIONS.retryInterval] === undefined ? null : annotationDurationMs(a[ACK_ANNOTATIONS.retryInterval]);
  if (interval !== null) {
    // A fixed interval: linear backoff capped at its own first step.
    Object.assign(fromAnnotations, { backoffPolicy: "linear", backoffDelay: iso(interval), backoffMax: iso(interval) });
  }
  const timeout = a[ACK_ANNOTATIONS.requestTimeout] === undefined ? null : annotationDurationMs(a[ACK_ANNOTATIONS.requestTimeout]);
  if (timeout !== null) fromAnnotations.timeout = iso(timeout);
  if (Object.keys(fromAnnotations).length === 0) return source.spec.delivery;
  return { ...fromAnnotations, ...source.spec.delivery };
}

/**
 * What every source shares beyond its sink (which each kind's validator checks with its own fields): an
 * optional delivery with its dead-letter sink, and well-formed ACK delivery annotations.
 */
export function validateSourceCommon(m: Manifest<SourceSpec>): FieldError[] {
  const causes = validateDelivery(m.spec?.delivery, "spec.delivery");
  causes.push(...validateDestination(m.spec?.delivery?.deadLetterSink, "spec.delivery.deadLetterSink", false));
  const a = m.metadata.annotations ?? {};
  const count = a[ACK_ANNOTATIONS.retryCount];
  if (count !== undefined && !/^\d{1,3}$/.test(count))
    causes.push({ field: `metadata.annotations.${ACK_ANNOTATIONS.retryCount}`, message: "must be a whole number of retries" });
  for (const key of [ACK_ANNOTATIONS.retryInterval, ACK_ANNOTATIONS.requestTimeout]) {
    const v = a[key];
    if (v !== undefined && annotationDurationMs(v) === null)
      causes.push({ field: `metadata.annotations.${key}`, message: "must be a duration such as 1s, 500ms, PT1S, or a number of seconds" });
  }
  if (causes.length > 0) return causes;
  // Values that parse but fall outside the delivery spec's bounds, named by the annotation that gave them.
  const byField: Record<string, string> = {
    retry: ACK_ANNOTATIONS.retryCount,
    backoffDelay: ACK_ANNOTATIONS.retryInterval,
    backoffMax: ACK_ANNOTATIONS.retryInterval,
    timeout: ACK_ANNOTATIONS.requestTimeout,
  };
  for (const c of validateDelivery(sourceDelivery({ ...m, spec: {} }), "")) {
    causes.push({ field: `metadata.annotations.${byField[c.field.slice(1)] ?? c.field.slice(1)}`, message: c.message });
  }
  return causes;
}
