/**
 * How a source's events reach its sink. A sink that is a Broker takes them at its own ingest; any other
 * sink (a URL, a Knative Service) gets the source's own delivery channel: a broker object with a single
 * catch-all trigger to the sink, so retries, backoff, dead letters and dedup work for sources exactly as
 * for triggers, with one mechanism.
 */
import type { DeliverySpec, Destination } from "../delivery/policy.ts";
import { type ResolveContext, resolveDestination, targetUrl } from "./destination.ts";
import { type BrokerConfig, DEFAULT_BACKLOG_LIMIT, DEFAULT_DEDUP_WINDOW_MS, DEFAULT_PARALLELISM } from "./eventing.ts";
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
export function channelName(kind: string, name: string): string {
  return `source:${kind.toLowerCase()}:${name}`;
}

export function sinkEntry(source: Manifest<SourceSpec>, ctx: ResolveContext): SinkEntry {
  const ns = source.metadata.namespace!;
  const target = resolveDestination(source.spec.sink ?? {}, ns, ctx, source.metadata.annotations);
  return target.kind === "broker" ? { namespace: target.namespace, name: target.name } : { namespace: ns, name: channelName(source.kind, source.metadata.name) };
}

/** The channel's configuration, or null when the sink is a Broker (no channel needed). */
export function channelConfig(source: Manifest<SourceSpec>, ctx: ResolveContext): BrokerConfig | null {
  const ns = source.metadata.namespace!;
  const subscriber = resolveDestination(source.spec.sink ?? {}, ns, ctx, source.metadata.annotations);
  if (subscriber.kind === "broker") return null;
  const dls = source.spec.delivery?.deadLetterSink;
  return {
    namespace: ns,
    name: channelName(source.kind, source.metadata.name),
    backlogLimit: DEFAULT_BACKLOG_LIMIT,
    dedupWindowMs: DEFAULT_DEDUP_WINDOW_MS,
    delivery: source.spec.delivery,
    deadLetter: dls ? resolveDestination(dls, ns, ctx, source.metadata.annotations) : undefined,
    triggers: [
      {
        name: "sink",
        uid: source.metadata.uid!,
        filter: {},
        subscriber,
        subscriberUri: targetUrl(subscriber, ctx.baseUrl),
        ordered: isOrdered(source),
        parallelism: DEFAULT_PARALLELISM,
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
