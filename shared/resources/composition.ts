/**
 * Knative's composition kinds: EventTransform (eventing.knative.dev/v1alpha1), Sequence and Parallel
 * (flows.knative.dev/v1). Validation, and the router's channels that carry them: broker objects with one
 * trigger per hop, so every hop has Knative's retries, backoff and dead-letter sink, exactly as a Trigger's
 * delivery and a source's sink do. `channelTemplate` is accepted and ignored.
 *
 *   EventTransform  address channel --transform (inline, compiled)--> reply dropped
 *   Sequence        address = step 0's channel --step i--> reply --> channel i+1 ... last --> spec.reply
 *   Parallel        address channel --branch i: filter--> reply --> branch channel i --subscriber--> reply
 *                   --> branch.reply or spec.reply (without a filter the address feeds branch channel i)
 *
 * A reply destination that is not a broker object (a URL, a Service, an EventTransform) gets a channel of
 * its own, so a reply is always stored before the hop that produced it counts as delivered.
 */
import { type DeliverySpec, type Destination, type FieldError, validateDelivery } from "../delivery/policy.ts";
import { compileJsonata } from "../transforms/jsonata.ts";
import { addressChannel, type CompositionKind, type TransformSpec } from "./composition-address.ts";
import { type ResolveContext, resolveDestination, type Target, targetUrl, validateDestination } from "./destination.ts";
import {
  BROKER_ANNOTATIONS,
  type BrokerConfig,
  DEFAULT_BACKLOG_LIMIT,
  DEFAULT_DEDUP_WINDOW_MS,
  DEFAULT_PARALLELISM,
  ingressTokenCauses,
  type TriggerConfig,
} from "./eventing.ts";
import type { Manifest } from "./manifest.ts";
import type { SinkEntry } from "./sources.ts";

/** Most steps of a Sequence and branches of a Parallel (each is a channel of its own). */
export const MAX_FLOW_HOPS = 50;

export interface EventTransformSpec {
  jsonata?: { expression?: string };
  sink?: Destination;
  reply?: { jsonata?: { expression?: string }; discard?: boolean };
}

type Step = Destination & { delivery?: DeliverySpec };

export interface SequenceSpec {
  steps?: Step[];
  reply?: Destination;
  channelTemplate?: unknown;
}

export interface ParallelSpec {
  branches?: { filter?: Destination; subscriber?: Destination; reply?: Destination; delivery?: DeliverySpec }[];
  reply?: Destination;
  channelTemplate?: unknown;
}

function expressionCauses(value: unknown, path: string): FieldError[] {
  if (typeof value !== "string" || value.trim() === "") return [{ field: path, message: "is required: a JSONata expression" }];
  const compiled = compileJsonata(value);
  return "error" in compiled ? [{ field: path, message: `JSONata syntax error: ${compiled.error.message}` }] : [];
}

export function validateEventTransform(m: Manifest<EventTransformSpec>): FieldError[] {
  const spec = m.spec ?? {};
  const causes = [...ingressTokenCauses(m), ...expressionCauses(spec.jsonata?.expression, "spec.jsonata.expression")];
  causes.push(...validateDestination(spec.sink, "spec.sink", false));
  const reply = spec.reply;
  if (reply !== undefined) {
    if (spec.sink === undefined)
      causes.push({ field: "spec.reply", message: "is only allowed with spec.sink (without a sink the transformed event is the reply)" });
    const discard = reply.discard === true;
    if (discard === (reply.jsonata !== undefined)) causes.push({ field: "spec.reply", message: "needs exactly one of jsonata and discard: true" });
    else if (!discard) causes.push(...expressionCauses(reply.jsonata?.expression, "spec.reply.jsonata.expression"));
  }
  return causes;
}

function hopCauses(list: unknown, path: string, what: string): FieldError[] {
  if (!Array.isArray(list) || list.length === 0) return [{ field: path, message: `needs at least one ${what}` }];
  return list.length > MAX_FLOW_HOPS ? [{ field: path, message: `may have at most ${MAX_FLOW_HOPS} ${what}s` }] : [];
}

function deliveryCauses(delivery: unknown, path: string): FieldError[] {
  return [...validateDelivery(delivery, path), ...validateDestination((delivery as DeliverySpec | undefined)?.deadLetterSink, `${path}.deadLetterSink`, false)];
}

export function validateSequence(m: Manifest<SequenceSpec>): FieldError[] {
  const spec = m.spec ?? {};
  const causes = [...ingressTokenCauses(m), ...hopCauses(spec.steps, "spec.steps", "step")];
  (spec.steps ?? []).forEach((step, i) => {
    const { delivery, ...destination } = step ?? {};
    causes.push(...validateDestination(destination, `spec.steps[${i}]`, true), ...deliveryCauses(delivery, `spec.steps[${i}].delivery`));
  });
  causes.push(...validateDestination(spec.reply, "spec.reply", false));
  return causes;
}

export function validateParallel(m: Manifest<ParallelSpec>): FieldError[] {
  const spec = m.spec ?? {};
  const causes = [...ingressTokenCauses(m), ...hopCauses(spec.branches, "spec.branches", "branch")];
  (spec.branches ?? []).forEach((b, i) => {
    const at = `spec.branches[${i}]`;
    causes.push(
      ...validateDestination(b?.filter, `${at}.filter`, false),
      ...validateDestination(b?.subscriber, `${at}.subscriber`, true),
      ...validateDestination(b?.reply, `${at}.reply`, false),
      ...deliveryCauses(b?.delivery, `${at}.delivery`),
    );
  });
  causes.push(...validateDestination(spec.reply, "spec.reply", false));
  return causes;
}

/**
 * An EventTransform as the delivering object runs it. Its sink, when another EventTransform, is that one's
 * address channel: transforms do not nest inside one delivery.
 */
export function transformSpecOf(m: Manifest<EventTransformSpec>, ctx: ResolveContext): TransformSpec {
  const ns = m.metadata.namespace!;
  const { spec } = m;
  let sink: Target | undefined;
  if (spec.sink) {
    const resolved = resolveDestination(spec.sink, ns, ctx, m.metadata.annotations);
    sink = resolved.kind === "transform" ? { kind: "broker", namespace: resolved.namespace, name: addressChannel("EventTransform", resolved.name) } : resolved;
  }
  const reply = spec.reply?.discard ? { discard: true as const } : spec.reply?.jsonata?.expression ? { expression: spec.reply.jsonata.expression } : undefined;
  return { expression: spec.jsonata?.expression ?? "", ...(sink ? { sink } : {}), ...(reply ? { reply } : {}) };
}

export interface Channel {
  entry: SinkEntry;
  config: BrokerConfig;
}

/** Every channel a composition needs, configured. */
export function compositionChannels(m: Manifest, ctx: ResolveContext): Channel[] {
  const kind = m.kind as CompositionKind;
  const ns = m.metadata.namespace!;
  const base = addressChannel(kind, m.metadata.name);
  const token = m.metadata.annotations?.[BROKER_ANNOTATIONS.ingressTokenSecret];
  const channels: Channel[] = [];
  const channel = (name: string, triggers: TriggerConfig[]): SinkEntry => {
    const entry = { namespace: ns, name };
    // The address deduplicates (source, id) as a broker's ingress does, and takes its ingress token; inner
    // hops must not deduplicate: a Parallel's branches may reply with the same event.
    const address = name === base ? { dedupWindowMs: DEFAULT_DEDUP_WINDOW_MS, ...(token ? { ingressTokenSecret: token } : {}) } : { dedupWindowMs: 0 };
    channels.push({ entry, config: { ...entry, backlogLimit: DEFAULT_BACKLOG_LIMIT, ...address, triggers } });
    return entry;
  };
  const hop = (name: string, subscriber: Target, delivery: DeliverySpec | undefined, reply: SinkEntry | null): TriggerConfig => {
    const dls = delivery?.deadLetterSink;
    return {
      name,
      uid: `${m.metadata.uid}:${name}`,
      filter: {},
      subscriber,
      subscriberUri: targetUrl(subscriber, ctx.baseUrl),
      delivery,
      deadLetter: dls ? resolveDestination(dls, ns, ctx) : undefined,
      ordered: false,
      parallelism: DEFAULT_PARALLELISM,
      reply,
    };
  };
  const resolve = (d: Destination) => resolveDestination(d, ns, ctx, m.metadata.annotations);
  /** Where replies to `dest` are stored: a broker object as it is, anything else through its own channel. */
  const replyTo = (dest: Destination | undefined, name: string, delivery: DeliverySpec | undefined): SinkEntry | null => {
    if (!dest) return null;
    const target = resolve(dest);
    if (target.kind === "broker") return { namespace: target.namespace, name: target.name };
    return channel(name, [hop("reply", target, delivery, null)]);
  };

  if (kind === "EventTransform") {
    channel(base, [
      hop("transform", resolve({ ref: { apiVersion: "eventing.knative.dev/v1alpha1", kind: "EventTransform", name: m.metadata.name } }), undefined, null),
    ]);
  } else if (kind === "Sequence") {
    const steps = (m.spec as SequenceSpec).steps ?? [];
    // Built last to first, so each step knows where its reply goes.
    let next = replyTo((m.spec as SequenceSpec).reply, `${base}:reply`, steps.at(-1)?.delivery);
    for (let i = steps.length - 1; i >= 0; i--) {
      const { delivery, ...destination } = steps[i];
      next = channel(i === 0 ? base : `${base}:${i}`, [hop(`step-${i}`, resolve(destination), delivery, next)]);
    }
  } else {
    const spec = m.spec as ParallelSpec;
    const fanOut = (spec.branches ?? []).map((b, i) => {
      const reply = replyTo(b.reply ?? spec.reply, `${base}:${i}:reply`, b.delivery);
      const branch = channel(`${base}:${i}`, [hop("subscriber", resolve(b.subscriber ?? {}), b.delivery, reply)]);
      const toBranch: Target = { kind: "broker", ...branch };
      // A filter is a subscriber whose reply (the event, when it passes) feeds the branch.
      return b.filter ? hop(`branch-${i}`, resolve(b.filter), b.delivery, branch) : hop(`branch-${i}`, toBranch, b.delivery, null);
    });
    channel(base, fanOut);
  }
  return channels;
}
