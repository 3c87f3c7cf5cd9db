/**
 * A broker partition's side of RequestReply: an event it stored that carries the reply attribute of one
 * of the broker's RequestReplies is handed to the request waiting for it, in the waiter object its
 * correlation value names. Only the signature and the deadline are checked here; the waiter decides
 * whether the request is still waiting. Events without a reply attribute cost one attribute lookup per
 * RequestReply of the broker, and nothing at all on a broker without any: no row, no request.
 */
import type { CloudEvent } from "../../shared/cloudevents/event.ts";
import { encodeStructured } from "../../shared/cloudevents/index.ts";
import { resolvePolicy, retryDelayMs } from "../../shared/delivery/policy.ts";
import type { ReplyCounter } from "../../shared/resources/broker-api.ts";
import type { BrokerConfig } from "../../shared/resources/eventing.ts";
import { type Correlation, verifyCorrelation, WAITER_REPLICAS } from "../../shared/requestreply/correlation.ts";
import { type RequestReplyEntry, signingKeys } from "../../shared/requestreply/spec.ts";
import { replyWaiter } from "../../clients/stubs.ts";

/** Hand-off retries, when the RequestReply's delivery says nothing: a few quick ones, all within the request's deadline. */
const DEFAULT_HANDOFF = { retry: 3, backoffPolicy: "exponential", backoffDelay: "PT0.05S" } as const;

/** A stored event carrying a reply attribute, and the RequestReplies that use that attribute. */
interface Reply {
  event: CloudEvent;
  value: unknown;
  candidates: RequestReplyEntry[];
}

export class ReplyHandoff {
  private namespace = "";
  private broker = "";
  private entries: RequestReplyEntry[] = [];
  private byAttribute = new Map<string, RequestReplyEntry[]>();
  private readonly env: Env;
  private readonly ctx: DurableObjectState;
  private readonly count: (name: ReplyCounter) => void;

  constructor(env: Env, ctx: DurableObjectState, count: (name: ReplyCounter) => void) {
    this.env = env;
    this.ctx = ctx;
    this.count = count;
  }

  configure(config: BrokerConfig | null): void {
    this.namespace = config?.namespace ?? "";
    this.broker = config ? `${config.namespace}/${config.name}` : "";
    this.entries = config?.requestReplies ?? [];
    this.byAttribute = new Map();
    for (const rr of this.entries) this.byAttribute.set(rr.replyAttribute, [...(this.byAttribute.get(rr.replyAttribute) ?? []), rr]);
  }

  /** Events just stored (`stored[i]`: new to the broker): the replies among them go to their requests, after the answer. */
  stored(events: CloudEvent[], stored: boolean[]): void {
    const replies = this.replies(events, stored);
    if (replies.length > 0) this.ctx.waitUntil(Promise.all(replies.map((r) => this.one(r))));
  }

  /**
   * The events stored that carry a reply attribute of this broker's RequestReplies, each with the
   * RequestReplies using that attribute (several may share one: the signature tells them apart).
   */
  private replies(events: CloudEvent[], stored: boolean[]): Reply[] {
    if (this.entries.length === 0) return [];
    const found: Reply[] = [];
    events.forEach((event, i) => {
      if (!stored[i]) return;
      for (const [attribute, candidates] of this.byAttribute)
        if (event.attributes[attribute] !== undefined) found.push({ event, value: event.attributes[attribute], candidates });
    });
    return found;
  }

  /** Hand a reply to its waiting request; every outcome is counted once per reply. */
  private async one({ event, value, candidates }: Reply): Promise<void> {
    let signed: { rr: RequestReplyEntry; c: Correlation } | null = null;
    for (const rr of candidates) {
      let keys: string[];
      try {
        keys = signingKeys(this.env, rr);
      } catch (e) {
        this.log("RequestReply without a signing key: its replies cannot be verified", rr.name, event, (e as Error).message);
        continue;
      }
      const c = await verifyCorrelation(keys, { namespace: this.namespace, name: rr.name }, value, WAITER_REPLICAS);
      if (c) {
        signed = { rr, c };
        break;
      }
    }
    if (!signed) {
      this.log("reply refused: its reply attribute is not a value a RequestReply of this broker signed", candidates.map((rr) => rr.name).join(","), event);
      return this.count("requestreply_refused");
    }
    const { rr, c } = signed;
    const policy = resolvePolicy(rr.delivery, DEFAULT_HANDOFF);
    // The hop count is the router's own, as for subscribers.
    const { knativebrokerttl: _, ...attributes } = event.attributes;
    const body = encodeStructured({ attributes, data: event.data });
    for (let attempt = 0; ; attempt++) {
      if (c.expiresAt <= Date.now()) {
        this.log("reply dropped: it came after its request's deadline", rr.name, event);
        return this.count("requestreply_late");
      }
      try {
        const verdict = await replyWaiter(this.env, this.namespace, rr.name, c.replica).deliver(c.id, c.expiresAt, body);
        if (verdict === "held" || verdict === "delivered") return this.count("requestreply_delivered");
        this.log(`reply dropped: ${verdict === "late" ? "its request is no longer waiting" : "its request has its reply already"}`, rr.name, event);
        return this.count(`requestreply_${verdict}`);
      } catch (e) {
        if (attempt >= policy.retry) {
          this.log("reply not handed over: waiter unreachable", rr.name, event, (e as Error).message);
          return this.count("requestreply_undelivered");
        }
        await new Promise((r) => setTimeout(r, Math.min(retryDelayMs(policy, attempt + 1, null, null), Math.max(c.expiresAt - Date.now(), 0))));
      }
    }
  }

  private log(msg: string, names: string, event: CloudEvent, error?: string): void {
    console.log(JSON.stringify({ level: "warn", msg, broker: this.broker, requestreply: names, id: event.attributes.id, ...(error ? { error } : {}) }));
  }
}
