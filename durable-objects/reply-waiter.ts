/**
 * One of a RequestReply's waiter objects (`{namespace}/{name}#{replica}`, WAITER_REPLICAS of them): requests to
 * the RequestReply's address park here by correlation id through a long-lived RPC, and the broker
 * partition that stores a reply (any partition, any isolate) hands it here, found from the replica in the
 * correlation value. Memory only (shared/requestreply/rendezvous.ts): it writes no row.
 */
import { DurableObject } from "cloudflare:workers";
import type { ReplyWaiterRpc } from "../shared/contracts/request-reply.ts";
import { type HandOff, Rendezvous } from "../shared/requestreply/rendezvous.ts";
/** Requests one waiter object holds at once; more are answered 503 at once (their event is sent, their reply dropped as late). */
export const MAX_WAITING = 10_000;
/** A timeout is answered within this much of its deadline (one timer for all waiting requests). */
const TICK_MS = 50;

export class ReplyWaiter extends DurableObject<Env> implements ReplyWaiterRpc {
  private readonly rendezvous = new Rendezvous<string>({ maxWaiting: MAX_WAITING, maxRemembered: 4 * MAX_WAITING });
  private timer: ReturnType<typeof setTimeout> | null = null;
  private armedAt = Infinity;

  /** The reply to `id` as structured JSON, null at the deadline, or "full". */
  async wait(id: string, expiresAt: number): Promise<string | null | "full"> {
    const waiting = this.rendezvous.wait(id, expiresAt, Date.now());
    if (waiting !== "full") this.arm(expiresAt);
    return waiting;
  }

  cancel(id: string): void {
    this.rendezvous.cancel(id, Date.now());
  }

  deliver(id: string, expiresAt: number, reply: string): HandOff {
    return this.rendezvous.deliver(id, expiresAt, reply, Date.now());
  }

  private arm(at: number): void {
    const when = Math.max(at, Date.now() + TICK_MS);
    if (this.timer !== null && this.armedAt <= when) return;
    if (this.timer !== null) clearTimeout(this.timer);
    this.armedAt = when;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.armedAt = Infinity;
      this.rendezvous.expire(Date.now());
      const next = this.rendezvous.nextExpiry();
      if (next !== Infinity) this.arm(next);
    }, when - Date.now());
  }
}
