/**
 * Outbound HTTP delivery under Cloudflare's connection limit: one invocation (and, we assume, one Durable
 * Object) keeps at most 6 connections open; further fetches queue silently in production and not at all
 * in local workerd. A `Connections` budget counts what an object has open, so callers can keep under the
 * limit by design and tests can check it.
 */
import type { OutboundRequest, OutboundResult } from "../../shared/contracts/sending.ts";
import { readBodyCapped } from "../../shared/streams.ts";

/** Connections one object keeps open at once. */
export const CONNECTIONS_PER_OBJECT = 6;
/** Largest response body read back (a reply event); longer ones are cut and so fail as replies. */
export const MAX_RESPONSE_BYTES = 1024 * 1024;

export class Connections {
  private open = 0;
  private peak = 0;
  private readonly deadlines = new Deadlines();

  get free(): boolean {
    return this.open < CONNECTIONS_PER_OBJECT;
  }

  /** POST the request; a network error or timeout is a result, never a throw. */
  async send(req: OutboundRequest): Promise<OutboundResult> {
    this.open++;
    this.peak = Math.max(this.peak, this.open);
    const abort = new AbortController();
    const deadline = this.deadlines.start(req.timeoutMs, abort);
    try {
      const res = await fetch(req.url, { method: "POST", headers: req.headers, body: req.body, signal: abort.signal, redirect: "manual" });
      const { bytes: body, truncated } = await readBodyCapped(res, MAX_RESPONSE_BYTES);
      const headers: [string, string][] = [];
      res.headers.forEach((v, k) => {
        if (k === "content-type" || k === "retry-after" || k.startsWith("ce-")) headers.push([k, v]);
      });
      return { status: res.status, headers, body, truncated };
    } catch (e) {
      const err = e as Error;
      return { error: err.name === "TimeoutError" ? `timeout after ${req.timeoutMs} ms` : err.message };
    } finally {
      this.deadlines.end(deadline);
      this.open--;
    }
  }

  stats(): { open: number; peak: number } {
    return { open: this.open, peak: this.peak };
  }
}

/** The attempts in flight with one timeout, in the order they started (so their deadlines are in order too). */
interface DeadlineQueue {
  timeoutMs: number;
  entries: Deadline[];
  head: number;
  open: number;
  timer: ReturnType<typeof setTimeout> | null;
}

interface Deadline {
  at: number;
  abort: AbortController;
  ended: boolean;
  queue: DeadlineQueue;
}

/**
 * Attempts' timeouts: one timer per distinct timeout, armed for the oldest attempt still open, instead of
 * a timer set and cleared for every attempt (their CPU showed in every delivery's profile). Not
 * AbortSignal.timeout: its timer stays active for the whole timeout, and an object may have at most 10,000
 * active timers (a few hundred deliveries a second reach that). With nothing open, no timer is left.
 */
export class Deadlines {
  private readonly queues = new Map<number, DeadlineQueue>();

  /** An attempt started: `abort` fires with a TimeoutError once `timeoutMs` passed, unless it ended before. */
  start(timeoutMs: number, abort: AbortController): Deadline {
    let queue = this.queues.get(timeoutMs);
    if (!queue) {
      queue = { timeoutMs, entries: [], head: 0, open: 0, timer: null };
      this.queues.set(timeoutMs, queue);
    }
    const deadline = { at: Date.now() + timeoutMs, abort, ended: false, queue };
    queue.entries.push(deadline);
    queue.open++;
    if (queue.timer === null) this.arm(queue);
    return deadline;
  }

  /** The attempt ended (its deadline may have passed already). */
  end(deadline: Deadline): void {
    if (deadline.ended) return;
    deadline.ended = true;
    const q = deadline.queue;
    if (--q.open > 0) return;
    if (q.timer !== null) clearTimeout(q.timer);
    q.timer = null;
    q.entries = [];
    q.head = 0;
  }

  private arm(q: DeadlineQueue): void {
    while (q.head < q.entries.length && q.entries[q.head].ended) q.head++;
    if (q.head > 1024 && q.head * 2 > q.entries.length) {
      q.entries = q.entries.slice(q.head);
      q.head = 0;
    }
    q.timer = q.head < q.entries.length ? setTimeout(() => this.fire(q), Math.max(q.entries[q.head].at - Date.now(), 0)) : null;
  }

  private fire(q: DeadlineQueue): void {
    const now = Date.now();
    for (; q.head < q.entries.length && (q.entries[q.head].ended || q.entries[q.head].at <= now); q.head++) {
      const d = q.entries[q.head];
      if (d.ended) continue;
      d.ended = true;
      q.open--;
      d.abort.abort(new DOMException(`timeout after ${q.timeoutMs} ms`, "TimeoutError"));
    }
    this.arm(q);
  }
}
