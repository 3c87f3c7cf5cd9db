/**
 * Where a waiting request meets its reply, in one waiter object's memory: requests wait by correlation
 * id until their deadline, replies are handed to them. Each id is answered at most once and only with a
 * reply that carries it; whatever comes after the answer or the deadline is refused with a verdict the
 * broker counts. Nothing is stored: a restart of the object ends the requests waiting on it.
 */

/** What became of a reply handed over: given to its request, held for it, or dropped. */
export type HandOff = "delivered" | "held" | "late" | "duplicate";

export interface RendezvousLimits {
  /** Requests waiting at once; beyond it a request is told at once that it cannot wait. */
  maxWaiting: number;
  /** Replies held for a request whose wait has not arrived yet, and ids remembered after their answer. */
  maxRemembered: number;
}

interface Waiting<E> {
  expiresAt: number;
  resolve: (reply: E | null) => void;
}

export class Rendezvous<E> {
  private readonly waiting = new Map<string, Waiting<E>>();
  /** Replies that arrived before their request's wait did (the wait and the request travel separately). */
  private readonly held = new Map<string, { reply: E; expiresAt: number }>();
  /** Ids already answered (true) or ended without an answer (false), until their deadline: what later replies were. */
  private readonly settled = new Map<string, { answered: boolean; expiresAt: number }>();

  private readonly limits: RendezvousLimits;

  constructor(limits: RendezvousLimits) {
    this.limits = limits;
  }

  get size(): number {
    return this.waiting.size;
  }

  /** Wait for the reply to `id` until `expiresAt`: the reply, or null at the deadline; "full" when too many wait. */
  wait(id: string, expiresAt: number, now: number): Promise<E | null> | "full" {
    const early = this.held.get(id);
    if (early) {
      this.held.delete(id);
      this.settle(id, true, expiresAt);
      return Promise.resolve(early.reply);
    }
    if (this.settled.has(id) || expiresAt <= now) return Promise.resolve(null);
    if (this.waiting.size >= this.limits.maxWaiting) {
      this.settle(id, false, expiresAt); // its reply, should one come, is late
      return "full";
    }
    return new Promise((resolve) => this.waiting.set(id, { expiresAt, resolve }));
  }

  /** A reply for `id`, whose value says the request ends at `expiresAt`. */
  deliver(id: string, expiresAt: number, reply: E, now: number): HandOff {
    if (expiresAt <= now) return "late";
    const w = this.waiting.get(id);
    if (w) {
      this.waiting.delete(id);
      this.settle(id, true, w.expiresAt);
      w.resolve(reply);
      return "delivered";
    }
    const settled = this.settled.get(id);
    if (settled) return settled.answered ? "duplicate" : "late";
    if (this.held.has(id)) return "duplicate";
    if (this.held.size >= this.limits.maxRemembered) return "late";
    this.held.set(id, { reply, expiresAt });
    return "held";
  }

  /** The request gave up before its deadline (its event was refused, its caller went away). */
  cancel(id: string, now: number): void {
    const w = this.waiting.get(id);
    if (!w) return;
    this.waiting.delete(id);
    this.settle(id, false, Math.max(w.expiresAt, now));
    w.resolve(null);
  }

  /** End what is due at `now`: waiting requests get null, held replies and remembered ids are forgotten. */
  expire(now: number): void {
    for (const [id, w] of this.waiting) {
      if (w.expiresAt > now) continue;
      this.waiting.delete(id);
      this.settle(id, false, w.expiresAt);
      w.resolve(null);
    }
    for (const [id, h] of this.held) if (h.expiresAt <= now) this.held.delete(id);
    for (const [id, s] of this.settled) if (s.expiresAt <= now) this.settled.delete(id);
  }

  /** The earliest deadline of a waiting request (Infinity: none waits). Held replies and remembered ids go at the next expire. */
  nextExpiry(): number {
    let next = Infinity;
    for (const w of this.waiting.values()) next = Math.min(next, w.expiresAt);
    return next;
  }

  private settle(id: string, answered: boolean, expiresAt: number): void {
    // Oldest first out: an id forgotten early only turns a later duplicate into "held" (never delivered).
    if (this.settled.size >= this.limits.maxRemembered) this.settled.delete(this.settled.keys().next().value!);
    this.settled.set(id, { answered, expiresAt });
  }
}
