/**
 * Sending one event to one target for a broker partition: encoding, the broker's own connections and the
 * dispatcher slots beyond them, in-router targets (brokers, the event display), and EventTransforms run
 * inside the attempt. What came back is an outcome, or success with the event the target replied.
 */
import { decodeHttp, encodeBinary, encodeStructured } from "../../shared/cloudevents/index.ts";
import type { AttributeValue, CloudEvent } from "../../shared/cloudevents/event.ts";
import type { Outcome } from "../../shared/delivery/outcome.ts";
import { type DeliveryPolicy, parseRetryAfter } from "../../shared/delivery/policy.ts";
import type { Target } from "../../shared/resources/destination.ts";
import type { BrokerConfig, TriggerConfig } from "../../shared/resources/eventing.ts";
import { type CompiledJsonata, compileJsonata, transformEvent } from "../../shared/transforms/jsonata.ts";
import type { DispatcherRpc, OutboundRequest, OutboundResult } from "../../shared/contracts/sending.ts";
import { Connections, CONNECTIONS_PER_OBJECT } from "./outbound.ts";
import { ingestInto } from "../../clients/ingest.ts";
import { type Stub, stub } from "../../clients/stubs.ts";
import { runJobSink } from "../../clients/job-sink-runs.ts";

/** What sending an event to a target gave: an outcome, or success with the event the target replied. */
export type Sent = Outcome | { ok: true; reply: CloudEvent };

/** What sending needs of a trigger. */
export interface SendingTrigger {
  config: Pick<TriggerConfig, "name" | "uid" | "parallelism">;
  policy: DeliveryPolicy;
}

/** Delivery's sender: not the policy's `Sender` (shared/policy/admit.ts), the producer an EventPolicy admits. */
export class DeliverySender {
  private broker: { namespace: string; name: string } | null = null;
  private transformers: Transformers = new Map();
  /** The broker's own outbound connections: the first 6 deliveries in flight skip the dispatcher hop. */
  private readonly connections = new Connections();
  private readonly slotLoad = new Map<string, number>();
  /** The slots' stubs, by object name, kept per configuration: naming an object hashes the name, every delivery otherwise. */
  private slots = new Map<string, Stub<DispatcherRpc>>();
  /**
   * Encodings by outgoing event and format: the triggers an event matched get the same event object
   * (BrokerDispatch.outgoing), so it is encoded once, not once per trigger. Weak: it goes with the event.
   */
  private readonly encodings = new WeakMap<CloudEvent, Partial<Record<"binary" | "json", Encoded>>>();

  private readonly env: Env;

  constructor(env: Env) {
    this.env = env;
  }

  /** Take a configuration: its EventTransforms are compiled once, here. */
  configure(config: BrokerConfig | null): void {
    this.broker = config && { namespace: config.namespace, name: config.name };
    this.transformers = compileTransformers(config);
    this.slots = new Map();
  }

  /** The broker's own connection budget, so tests can check the limit by design. */
  connectionStats(): { open: number; peak: number } {
    return this.connections.stats();
  }

  /**
   * One event to one target; what came back. A broker target keeps the TTL so that loops through brokers
   * end; other sinks never see it (Knative).
   */
  async sendTo(
    target: Target,
    event: CloudEvent,
    ttl: AttributeValue | undefined,
    t: SendingTrigger,
    toSubscriber: boolean,
    forwarded: Record<string, string>,
  ): Promise<Sent> {
    switch (target.kind) {
      // In-router targets get the same per-attempt timeout as URLs; one answering late only repeats an
      // event the target broker deduplicates on (source, id).
      case "broker": {
        const outgoing = ttl === undefined ? event : { attributes: { ...event.attributes, knativebrokerttl: ttl }, data: event.data };
        const r = await withTimeout(ingestInto(this.env, target, [outgoing], forwarded), t.policy.timeoutMs);
        if (r === null)
          return {
            ok: false,
            status: null,
            body: `dispatch error: broker ${target.namespace}/${target.name} did not answer within ${t.policy.timeoutMs} ms`,
            retryAfterMs: null,
          };
        return r.status === 202
          ? { ok: true, status: 202 }
          : { ok: false, status: r.status, body: r.error, retryAfterMs: "retryAfterSeconds" in r ? r.retryAfterSeconds * 1000 : null };
      }
      case "display": {
        const done = await withTimeout(
          stub(this.env, "DISPLAY", `${target.namespace}/${target.name}`)
            .record(encodeStructured(event))
            .then(() => true),
          t.policy.timeoutMs,
        );
        return done ? { ok: true } : { ok: false, status: null, body: "dispatch error: the event display did not answer in time", retryAfterMs: null };
      }
      case "transform":
        return this.transform(target, event, ttl, t, toSubscriber, forwarded);
      // A Job per event in the JobSink's cluster; a refusal is a failed attempt, retried and dead-lettered as any.
      case "jobsink": {
        const r = await withTimeout(runJobSink(this.env, target, event), t.policy.timeoutMs);
        if (r === null)
          return {
            ok: false,
            status: null,
            body: `dispatch error: JobSink ${target.namespace}/${target.name}: the cluster did not answer within ${t.policy.timeoutMs} ms`,
            retryAfterMs: null,
          };
        return r.ok ? { ok: true, status: 202 } : { ok: false, status: r.status, body: r.error, retryAfterMs: null };
      }
      case "url": {
        const result = await this.send(target.url, event, t, toSubscriber, forwarded);
        if ("error" in result) return { ok: false, status: null, body: `dispatch error: ${result.error}`, retryAfterMs: null };
        if (result.status < 200 || result.status >= 300) {
          const retryAfter = result.headers.find(([k]) => k === "retry-after")?.[1] ?? null;
          return { ok: false, status: result.status, body: result.body, retryAfterMs: parseRetryAfter(retryAfter, Date.now()) };
        }
        // A 200 carrying an event (a body, or binary-mode ce- headers for an event without data) is a reply.
        const carriesEvent = result.body.length > 0 || result.headers.some(([k]) => k === "ce-specversion");
        return toSubscriber && result.status === 200 && carriesEvent ? replyOf(result) : { ok: true, status: result.status };
      }
    }
  }

  /**
   * An EventTransform (compiled when this configuration was applied): its result is the reply, or goes to
   * its sink, whose reply `spec.reply` reshapes or discards. An expression that fails or gives no
   * CloudEvent fails the delivery for good (422: not retried), so it goes to the dead-letter sink.
   */
  private async transform(
    target: Extract<Target, { kind: "transform" }>,
    event: CloudEvent,
    ttl: AttributeValue | undefined,
    t: SendingTrigger,
    toSubscriber: boolean,
    forwarded: Record<string, string>,
  ): Promise<Sent> {
    const what = `EventTransform ${target.namespace}/${target.name}`;
    const compiled = this.transformers.get(transformKey(target));
    if (!target.spec || !compiled) return { ok: false, status: 404, body: `${what} does not exist`, retryAfterMs: null };
    if ("error" in compiled) return { ok: false, status: 422, body: `${what}: ${compiled.error}`, retryAfterMs: null };
    const out = await transformEvent(compiled.request, event);
    if ("error" in out) return { ok: false, status: 422, body: `${what}: ${out.error}`, retryAfterMs: null };
    const sink = target.spec.sink;
    if (!sink) return { ok: true, reply: out };
    const sent = await this.sendTo(sink, out, ttl, t, toSubscriber, forwarded);
    if (!("reply" in sent) || !target.spec.reply) return sent;
    if (!compiled.reply) return { ok: true }; // discard: true
    const shaped = await transformEvent(compiled.reply, sent.reply);
    return "error" in shaped ? { ok: false, status: 422, body: `${what} (reply): ${shaped.error}`, retryAfterMs: null } : { ok: true, reply: shaped };
  }

  /** Encode and send: from this object while it has a connection free, else through a dispatcher slot. */
  private async send(url: string, event: CloudEvent, t: SendingTrigger, toSubscriber: boolean, forwarded: Record<string, string>): Promise<OutboundResult> {
    const ns = this.broker!.namespace;
    const { headers: encoded, body } = this.encoding(event, t.policy.format === "json" ? "json" : "binary");
    // No Headers object to merge them: their names are apart by construction (the event's content-type and
    // ce-*, the pass-through allow-list of shared/delivery/headers.ts, ours), all lower-case.
    const headers: [string, string][] = [...encoded];
    for (const name in forwarded) headers.push([name, forwarded[name]]);
    headers.push(["kn-namespace", ns]);
    if (toSubscriber) headers.push(["prefer", "reply"]);
    const req: OutboundRequest = { url, headers, body, timeoutMs: t.policy.timeoutMs };
    return this.connections.free ? this.connections.send(req) : this.sendThroughSlot(req, t);
  }

  /** The event's headers and body in a format, encoded at its first delivery in that format. */
  private encoding(event: CloudEvent, format: "binary" | "json"): Encoded {
    let formats = this.encodings.get(event);
    if (!formats) {
      formats = {};
      this.encodings.set(event, formats);
    }
    if (format === "json") {
      formats.json ??= { headers: [["content-type", "application/cloudevents+json"]], body: utf8.encode(encodeStructured(event)) };
      return formats.json;
    }
    if (!formats.binary) {
      const { headers, body } = encodeBinary(event);
      formats.binary = { headers: [...headers], body };
    }
    return formats.binary;
  }

  /** The least-loaded of the trigger's ceil(parallelism / 6) dispatcher slots. */
  private async sendThroughSlot(req: OutboundRequest, t: SendingTrigger): Promise<OutboundResult> {
    const slots = Math.ceil(t.config.parallelism / CONNECTIONS_PER_OBJECT);
    let slot = 0;
    for (let i = 1; i < slots; i++) if ((this.slotLoad.get(`${t.config.name}#${i}`) ?? 0) < (this.slotLoad.get(`${t.config.name}#${slot}`) ?? 0)) slot = i;
    const key = `${t.config.name}#${slot}`;
    this.slotLoad.set(key, (this.slotLoad.get(key) ?? 0) + 1);
    const name = `${this.broker!.namespace}/${this.broker!.name}/${t.config.uid}/${slot}`;
    let dispatcher = this.slots.get(name);
    if (!dispatcher) {
      dispatcher = stub(this.env, "DISPATCHER", name);
      this.slots.set(name, dispatcher);
    }
    try {
      return await dispatcher.send(req);
    } catch (e) {
      this.slots.delete(name); // a stub that failed may stay broken: the next delivery makes a new one
      throw e;
    } finally {
      this.slotLoad.set(key, (this.slotLoad.get(key) ?? 1) - 1);
    }
  }
}

/** An event as sent: its own headers (before the per-delivery ones) and body. The body is shared, never written. */
interface Encoded {
  headers: [string, string][];
  body: Uint8Array | null;
}

const utf8 = new TextEncoder();

/** A 200 with a body must be a CloudEvent. */
function replyOf(result: Extract<OutboundResult, { status: number }>): Sent {
  const decoded = result.truncated ? null : decodeHttp(new Headers(result.headers), result.body, { maxBatchEvents: 0 });
  if (!decoded || "error" in decoded || decoded.mode === "batch" || decoded.events.length !== 1) {
    const why = decoded && "error" in decoded ? decoded.error : "not a single CloudEvent";
    return { ok: false, status: 502, body: `subscriber replied with a body that is not a CloudEvent: ${why}`, retryAfterMs: null };
  }
  return { ok: true, reply: decoded.events[0] };
}

/** The compiled expressions of a broker's EventTransform targets, by target. */
type Transformers = Map<string, { request: CompiledJsonata; reply?: CompiledJsonata } | { error: string }>;

function transformKey(target: { namespace: string; name: string }): string {
  return `${target.namespace}/${target.name}`;
}

/** Compile each EventTransform the broker delivers to (subscribers, dead-letter sinks), once per configuration. */
function compileTransformers(config: BrokerConfig | null): Transformers {
  const out: Transformers = new Map();
  for (const target of [config?.deadLetter, ...(config?.triggers ?? []).flatMap((t) => [t.subscriber, t.deadLetter])]) {
    if (target?.kind !== "transform" || !target.spec || out.has(transformKey(target))) continue;
    const request = compileJsonata(target.spec.expression);
    const replyExpression = target.spec.reply && "expression" in target.spec.reply ? compileJsonata(target.spec.reply.expression) : undefined;
    // Validated at apply time; one that no longer compiles (an upgrade of the library) fails its deliveries.
    const broken = "error" in request ? request.error : replyExpression && "error" in replyExpression ? replyExpression.error : null;
    out.set(
      transformKey(target),
      broken
        ? { error: `the expression does not compile: ${broken.message}` }
        : { request: request as CompiledJsonata, reply: replyExpression as CompiledJsonata | undefined },
    );
  }
  return out;
}

/** The promise's value, or null when it has not settled within `ms`. */
async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | null> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<null>((resolve) => {
    timer = setTimeout(() => resolve(null), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
