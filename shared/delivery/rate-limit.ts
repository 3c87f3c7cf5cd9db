/**
 * A trigger's rate limit (`edge-eventing.dev/rate-limit: "<n>/s"` or `"<n>/m"`): at most n delivery
 * attempts start in ANY period-long interval (a sliding second or minute), not per calendar window: fixed
 * windows let up to 2n through across a boundary (n at 0.95 s, n more at 1.0 s), and a token bucket lets a
 * cold burst through on top of the rate (argo-events#2851: "3/min lets 11 through").
 *
 * The limit is held as n tokens. A token is ready at a time, or in use by an attempt in flight: starting
 * an attempt uses a ready token, and the attempt's end makes it ready one period later. The subscriber
 * receives an attempt between its start and its end, so one token's attempts reach it at least a period
 * apart however late each left or arrived (an output gate held by a slow commit, a busy subscriber), and
 * any period-long interval holds at most n. A token is never ready while its attempt is in flight: ready
 * a period after the start instead, a subscriber that takes requests late (a 2.5 s stall) would receive
 * the attempts of 2.5 periods at once. `Tokens` keeps the ready ones as runs of (ready time, count), so a
 * thousand attempts ending in one turn of the pump cost one run.
 *
 * Across partitions the tokens themselves are leased (`LeasePool`, kept by the trigger's FlowLimiter):
 * a partition takes some tokens with their ready times for two periods (so every token it gets can be
 * used at least once), uses them locally, and gives back the ready ones, with the ready times its
 * attempts gave them, when it renews or goes idle; those in use stay with it in the renewed lease. Each
 * token is held by one party at a time, so the sum over partitions is exact too, with about one request
 * per partition and period while it has a queue, never one per delivery. A lease not renewed in time is
 * taken back as if every token had been used at its very end (ready one period after it).
 */

export interface RateLimit {
  /** Attempts per period. */
  count: number;
  periodMs: number;
}

export const MAX_RATE_COUNT = 100_000;
const PERIODS: Record<string, number> = { s: 1000, m: 60_000 };
export const RATE_LIMIT_RULE = `must be "<n>/s" or "<n>/m" with n an integer from 1 to ${MAX_RATE_COUNT}`;

export function parseRateLimit(text: string): RateLimit | null {
  const m = /^(\d{1,6})\/(s|m)$/.exec(text);
  if (!m) return null;
  const count = Number(m[1]);
  return count >= 1 && count <= MAX_RATE_COUNT ? { count, periodMs: PERIODS[m[2]] } : null;
}

export function formatRateLimit(limit: RateLimit): string {
  return `${limit.count}/${limit.periodMs === 1000 ? "s" : "m"}`;
}

export const sameLimit = (a: RateLimit, b: RateLimit): boolean => a.count === b.count && a.periodMs === b.periodMs;

/** `count` tokens ready at `at` (epoch ms). */
export type Run = [at: number, count: number];

/** A multiset of tokens: those ready at a time, as runs sorted by time, and those in use (no time yet). */
export class Tokens {
  private runs: Run[] = [];
  private total = 0;
  private busy = 0;
  /** Attempts in flight on tokens dropped (taken back by the limiter): their ends release nothing. */
  private gone = 0;

  constructor(runs: Run[] = []) {
    this.add(runs);
  }

  /** Tokens with a ready time (not in use). */
  get size(): number {
    return this.total;
  }

  /** Tokens in use by attempts in flight. */
  get inUse(): number {
    return this.busy;
  }

  /** Tokens ready at `now`. */
  ready(now: number): number {
    let n = 0;
    for (const [at, count] of this.runs) {
      if (at > now) break;
      n += count;
    }
    return n;
  }

  /** The earliest ready time, or null when none has one. */
  nextAt(): number | null {
    return this.runs.length > 0 ? this.runs[0][0] : null;
  }

  /** Start up to `want` attempts at `now`, each on a ready token, in use until it ends. Returns how many. */
  use(want: number, now: number): number {
    const used = Math.min(want, this.ready(now));
    this.take(used);
    this.busy += used;
    return used;
  }

  /**
   * An attempt ended at `now`: a token in use is ready one period later. Returns that time, or null when
   * none was (its token was dropped).
   */
  ended(now: number, periodMs: number): number | null {
    // An end counted against a dropped token first: if it was another attempt's, that token is released
    // by a later end, never before its own attempt ended.
    if (this.gone > 0) {
      this.gone--;
      return null;
    }
    if (this.busy === 0) return null;
    this.busy--;
    this.add([[now + periodMs, 1]]);
    return now + periodMs;
  }

  /** `count` of the attempts `use` allowed did not start: their tokens are ready again at once. */
  unuse(count: number, now: number): void {
    const k = Math.min(count, this.busy);
    this.busy -= k;
    this.add([[now, k]]);
  }

  /** Take out the `n` earliest-ready tokens (fewer if there are fewer), as runs. */
  take(n: number): Run[] {
    const out: Run[] = [];
    let left = Math.min(n, this.total);
    while (left > 0) {
      const run = this.runs[0];
      const k = Math.min(left, run[1]);
      out.push([run[0], k]);
      left -= k;
      if (k === run[1]) this.runs.shift();
      else run[1] -= k;
    }
    this.total -= out.reduce((s, [, k]) => s + k, 0);
    return out;
  }

  /** Every token leaves (its lease was taken back); the attempts in flight on them still end. */
  drop(): void {
    this.runs = [];
    this.total = 0;
    this.gone += this.busy;
    this.busy = 0;
  }

  /** Every token with a ready time, as runs (those in use stay). */
  takeAll(): Run[] {
    return this.take(this.total);
  }

  add(runs: Run[]): void {
    for (const [at, count] of runs) {
      if (count <= 0) continue;
      this.total += count;
      let i = this.runs.length;
      while (i > 0 && this.runs[i - 1][0] > at) i--;
      if (i > 0 && this.runs[i - 1][0] === at) this.runs[i - 1][1] += count;
      else this.runs.splice(i, 0, [at, count]);
    }
  }
}

export interface Lease {
  /** Identifies the lease when its tokens are given back. */
  id: number;
  tokens: Run[];
  /** Of the tokens the partition had in use when it asked, how many stay with it in this lease (all or none). */
  kept: number;
  /** No token of the lease may be used from this time on; give them back before it. */
  until: number;
  /** When asking again can give more, when fewer than wanted were leased; null otherwise. */
  retryAt: number | null;
}

/** A lease lasts two periods: every token it gives is ready within one, so it can be used at least once. */
export const LEASE_PERIODS = 2;

interface Held {
  id: number;
  count: number;
  until: number;
}

/** What a partition gives back when it asks: its lease's ready tokens, and how many it has in use. */
export interface GiveBack {
  id: number;
  tokens: Run[];
  inUse: number;
}

/**
 * The tokens of one limit shared by partitions. A partition asks with what it holds (which it gives back,
 * but for the tokens in use, which stay with it) and gets a new lease of up to `want` more for two periods. Partitions that asked within the last two
 * periods are active; each has a fair share (n divided among them, the remainder to the lowest indexes)
 * that is kept for it while it holds less, so the first to ask cannot keep every token.
 */
export class LeasePool {
  private limit: RateLimit | null = null;
  private free = new Tokens();
  private readonly held = new Map<number, Held>();
  private readonly lastAsk = new Map<number, number>();
  private nextId = 1;

  lease(partition: number, want: number, giveBack: GiveBack | null, limit: RateLimit, now: number): Lease {
    if (!this.limit || !sameLimit(this.limit, limit)) this.reset(limit, now);
    const P = limit.periodMs;
    const mine = this.held.get(partition);
    let kept = 0;
    if (mine) {
      // Asking gives up the lease the partition held: exactly as its attempts left the tokens when it gives
      // them back (those in use stay with it, their attempts' ends decide), else (it restarted and lost
      // them) as if each was used just now. Not yet taken back, the lease is honoured even past its end.
      const own = giveBack?.id === mine.id;
      const back = own ? new Tokens(giveBack.tokens).take(mine.count) : [];
      const returned = back.reduce((s, [, k]) => s + k, 0);
      kept = own ? Math.min(giveBack.inUse, mine.count - returned) : 0;
      this.free.add(back);
      this.free.add([[now + P, mine.count - returned - kept]]);
      this.held.delete(partition);
    }
    // Leases that ran out without being given back: each token as if used at the lease's very end.
    for (const [p, h] of this.held) {
      if (h.until > now) continue;
      this.free.add([[h.until + P, h.count]]);
      this.held.delete(p);
    }
    // Asking for nothing is going idle: no share is kept for the partition any more.
    if (want > 0) this.lastAsk.set(partition, now);
    else this.lastAsk.delete(partition);
    for (const [p, at] of this.lastAsk) if (at <= now - 2 * P) this.lastAsk.delete(p);
    const active = [...this.lastAsk.keys()].sort((a, b) => a - b);
    const shareOf = (p: number) => Math.floor(limit.count / active.length) + (active.indexOf(p) < limit.count % active.length ? 1 : 0);
    let reserved = 0;
    // More can come when a lease comes back or a reservation lapses, and a period later at the latest.
    let retryAt = now + P;
    for (const p of active) {
      const short = p === partition ? 0 : Math.max(0, shareOf(p) - (this.held.get(p)?.count ?? 0));
      reserved += short;
      if (short > 0) retryAt = Math.min(retryAt, this.lastAsk.get(p)! + 2 * P);
    }
    for (const h of this.held.values()) retryAt = Math.min(retryAt, h.until);
    const grant = Math.max(0, Math.min(want, this.free.size - reserved));
    const until = now + LEASE_PERIODS * P;
    const tokens = this.free.take(grant);
    const id = this.nextId++;
    if (grant + kept > 0) this.held.set(partition, { id, count: grant + kept, until });
    return { id, tokens, kept, until, retryAt: grant >= want ? null : Math.max(now + 1, retryAt) };
  }

  /** A new or changed limit starts afresh: n tokens ready now (leases of the old limit are forgotten). */
  private reset(limit: RateLimit, now: number): void {
    this.limit = limit;
    this.free = new Tokens([[now, limit.count]]);
    this.held.clear();
    this.lastAsk.clear();
  }
}
