/**
 * A trigger's rate limit (`edge-eventing.dev/rate-limit: "<n>/s"` or `"<n>/m"`): at most n delivery
 * attempts start in each window of the period, windows aligned to the clock (every second, every minute),
 * so every partition of a broker agrees where a window begins. Fixed windows rather than a token bucket:
 * a bucket lets a cold burst through on top of the rate (argo-events#2851: "3/min lets 11 through"), a
 * window never starts more than n per calendar second or minute, and its state is two numbers that lease
 * well in batches.
 *
 * `WindowQuota` is one window's count with a fair share for the partitions that ask: while a window is in
 * its first half, each partition that asked in the previous window keeps its share (the count divided by
 * the partitions asking, rounded down) reserved until it asks, so a partition that wakes first cannot take
 * the whole window every time; the second half gives what is left to whoever asks.
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

/** The window a time falls in. */
export const windowOf = (now: number, limit: RateLimit): number => Math.floor(now / limit.periodMs);

export interface Grant {
  /** The window the grant belongs to: it may be used until that window ends. */
  window: number;
  granted: number;
  /** When asking again can give more, when less than wanted was granted; null otherwise. */
  retryAt: number | null;
}

export class WindowQuota {
  private window = -1;
  private used = 0;
  /** Partitions that asked in this window, and in the one before. */
  private askers = new Set<number>();
  private previous = new Set<number>();

  /** Take up to `want` attempts of the current window for `partition`. */
  take(partition: number, want: number, limit: RateLimit, now: number): Grant {
    const w = windowOf(now, limit);
    if (w !== this.window) {
      this.previous = w === this.window + 1 ? this.askers : new Set();
      this.askers = new Set();
      this.used = 0;
      this.window = w;
    }
    this.askers.add(partition);
    const start = w * limit.periodMs;
    const firstHalf = now < start + limit.periodMs / 2;
    // Partitions seen last window and not yet this one keep their share during the first half.
    const waiting = firstHalf ? [...this.previous].filter((p) => !this.askers.has(p)).length : 0;
    const share = Math.floor(limit.count / new Set([...this.previous, ...this.askers]).size);
    const cap = Math.max(0, limit.count - this.used - waiting * share);
    const granted = Math.min(want, cap);
    this.used += granted;
    if (granted >= want) return { window: w, granted, retryAt: null };
    const reserved = waiting > 0 && this.used < limit.count;
    return { window: w, granted, retryAt: reserved ? start + limit.periodMs / 2 : start + limit.periodMs };
  }
}
