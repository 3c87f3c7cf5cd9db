/**
 * A broker partition's side of RequestReply: an event it stored that carries the reply attribute of one
 * of the broker's RequestReplies is handed to the request waiting for it, in the waiter object its
 * correlation value names. Only the signature and the deadline are checked here; the waiter decides
 * whether the request is still waiting. Events without a reply attribute cost one attribute lookup per
 * RequestReply of the broker, and nothing at all on a broker without any: no row, no request.
 */
import type { CloudEvent } from "../shared/cloudevents/event.ts";
import { encodeStructured } from "../shared/cloudevents/index.ts";
import { resolvePolicy, retryDelayMs } from "../shared/delivery/policy.ts";
import type { ReplyCounter } from "../shared/resources/broker-api.ts";
import type { BrokerConfig } from "../shared/resources/eventing.ts";
import { verifyCorrelation } from "../shared/requestreply/correlation.ts";
import { type RequestReplyEntry, signingKeys } from "../shared/requestreply/spec.ts";
import { REPLICAS, waiterStub } from "./reply-waiter.ts";

/** Hand-off retries, when the RequestReply's delivery says nothing: a few quick ones, all within the request's deadline. */
const DEFAULT_HANDOFF = { retry: 3, backoffPolicy: "exponential", backoffDelay: "PT0.05S" } as const;

export class ReplyHandoff {
  private namespace = "";
  private entries: RequestReplyEntry[] = [];
  private readonly env: Env;
  private readonly count: (name: ReplyCounter) => void;

  constructor(env: Env, count: (name: ReplyCounter) => void) {
    this.env = env;
    this.count = count;
  }

  configure(config: BrokerConfig | null): void {
    this.namespace = config?.namespace ?? "";
    this.entries = config?.requestReplies ?? [];
  }

  /** The events stored (`stored[i]`) that are replies to a RequestReply of this broker, with the RequestReply. */
  replies(events: CloudEvent[], stored: boolean[]): [CloudEvent, RequestReplyEntry][] {
    if (this.entries.length === 0) return [];
    const found: [CloudEvent, RequestReplyEntry][] = [];
    events.forEach((e, i) => {
      if (stored[i]) for (const rr of this.entries) if (e.attributes[rr.replyAttribute] !== undefined) found.push([e, rr]);
    });
    return found;
  }

  /** Hand each reply to its waiting request; every outcome is counted. */
  async handOff(replies: [CloudEvent, RequestReplyEntry][]): Promise<void> {
    await Promise.all(replies.map(([event, rr]) => this.one(event, rr)));
  }

  private async one(event: CloudEvent, rr: RequestReplyEntry): Promise<void> {
    const value = event.attributes[rr.replyAttribute];
    let keys: string[];
    try {
      keys = signingKeys(this.env, rr);
    } catch (e) {
      this.log("reply not handed over: no signing key", rr, event, (e as Error).message);
      return this.count("requestreply_refused");
    }
    const c = await verifyCorrelation(keys, { namespace: this.namespace, name: rr.name }, value, REPLICAS);
    if (!c) {
      this.log("reply refused: its reply attribute is not a value this RequestReply signed", rr, event);
      return this.count("requestreply_refused");
    }
    const policy = resolvePolicy(rr.delivery, DEFAULT_HANDOFF);
    // The hop count is the router's own, as for subscribers.
    const { knativebrokerttl: _, ...attributes } = event.attributes;
    const body = encodeStructured({ attributes, data: event.data });
    for (let attempt = 0; ; attempt++) {
      if (c.expiresAt <= Date.now()) return this.count("requestreply_late");
      try {
        const verdict = await waiterStub(this.env, this.namespace, rr.name, c.replica).deliver(c.id, c.expiresAt, body);
        return this.count(verdict === "held" || verdict === "delivered" ? "requestreply_delivered" : `requestreply_${verdict}`);
      } catch (e) {
        if (attempt >= policy.retry) {
          this.log("reply not handed over: waiter unreachable", rr, event, (e as Error).message);
          return this.count("requestreply_undelivered");
        }
        await new Promise((r) => setTimeout(r, Math.min(retryDelayMs(policy, attempt + 1, null, null), Math.max(c.expiresAt - Date.now(), 0))));
      }
    }
  }

  private log(msg: string, rr: RequestReplyEntry, event: CloudEvent, error?: string): void {
    console.log(JSON.stringify({ level: "warn", msg, requestreply: `${this.namespace}/${rr.name}`, id: event.attributes.id, ...(error ? { error } : {}) }));
  }
}
