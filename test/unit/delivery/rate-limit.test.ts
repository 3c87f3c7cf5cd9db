import { describe, expect, it } from "vitest";
import { formatRateLimit, parseRateLimit, type RateLimit, WindowQuota } from "../../../shared/delivery/rate-limit.ts";

const PER_S: RateLimit = { count: 10, periodMs: 1000 };
/** A time inside window `w` of a 1 s limit, `ms` into it. */
const at = (w: number, ms = 0) => 1_000_000_000_000 + w * 1000 + ms;

describe("rate limit annotation", () => {
  it("reads <n>/s and <n>/m and writes them back", () => {
    expect(parseRateLimit("10/s")).toEqual({ count: 10, periodMs: 1000 });
    expect(parseRateLimit("600/m")).toEqual({ count: 600, periodMs: 60_000 });
    expect(parseRateLimit("100000/s")).toEqual({ count: 100_000, periodMs: 1000 });
    expect(formatRateLimit({ count: 5, periodMs: 60_000 })).toBe("5/m");
    expect(formatRateLimit({ count: 10, periodMs: 1000 })).toBe("10/s");
  });

  it("refuses anything else", () => {
    for (const bad of ["0/s", "10/h", "10", "1.5/s", "100001/s", " 10/s", "10/S", "-1/s", "10/ s", "ten/s", ""]) expect(parseRateLimit(bad)).toBeNull();
  });
});

describe("window quota", () => {
  it("starts at most n per window and says when the next window begins", () => {
    const q = new WindowQuota();
    expect(q.take(0, 25, PER_S, at(0, 100))).toEqual({ window: Math.floor(at(0) / 1000), granted: 10, retryAt: at(1) });
    expect(q.take(0, 5, PER_S, at(0, 900)).granted).toBe(0);
    expect(q.take(0, 5, PER_S, at(1, 0))).toMatchObject({ granted: 5, retryAt: null });
    expect(q.take(0, 9, PER_S, at(1, 10))).toMatchObject({ granted: 5, retryAt: at(2) });
  });

  it("gives a steady demand exactly the limit over a minute", () => {
    const q = new WindowQuota();
    let started = 0;
    // A pump every 50 ms with 50 deliveries due, as a broker with parallelism 50 and a deep queue does.
    for (let t = 0; t < 60_000; t += 50) started += q.take(0, 50, PER_S, at(0, t)).granted;
    expect(started).toBe(600);
  });

  it("a per-minute limit counts calendar minutes", () => {
    const q = new WindowQuota();
    const perMinute = { count: 3, periodMs: 60_000 };
    const base = 60_000 * 30_000_000;
    expect(q.take(0, 10, perMinute, base + 1000)).toEqual({ window: 30_000_000, granted: 3, retryAt: base + 60_000 });
    expect(q.take(0, 10, perMinute, base + 59_999).granted).toBe(0);
    expect(q.take(0, 10, perMinute, base + 60_000).granted).toBe(3);
  });

  it("never grants more than n per window to all partitions together, whatever the order of asks", () => {
    const q = new WindowQuota();
    let seed = 7;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const perWindow = new Map<number, number>();
    for (let t = 0; t < 20_000; t += Math.floor(random() * 40)) {
      const g = q.take(Math.floor(random() * 4), 1 + Math.floor(random() * 8), PER_S, at(0, t));
      perWindow.set(g.window, (perWindow.get(g.window) ?? 0) + g.granted);
    }
    expect(Math.max(...perWindow.values())).toBe(10);
    expect([...perWindow.values()].reduce((a, b) => a + b, 0)).toBe(10 * perWindow.size);
  });

  it("shares a window among partitions that keep asking: the first to ask cannot take it all", () => {
    const q = new WindowQuota();
    const got = [0, 0, 0, 0];
    for (let w = 0; w < 10; w++) {
      // Partition 0 always asks first, and for everything.
      for (const p of [0, 1, 2, 3]) got[p] += q.take(p, 50, PER_S, at(w, 10 + p)).granted;
    }
    expect(got.reduce((a, b) => a + b, 0)).toBe(100);
    // After the first window, each window gives 0 its share plus the rounding (4) and the others 2 each.
    expect(got.slice(1).every((n) => n >= 18)).toBe(true);
  });

  it("holds a share for a partition of the last window only during the first half; then it goes to whoever asks", () => {
    const q = new WindowQuota();
    q.take(0, 5, PER_S, at(0, 10));
    q.take(1, 5, PER_S, at(0, 20));
    // Window 1: partition 1 does not come back. Partition 0 gets all but 1's share (5), and is told to
    // come back at mid-window.
    expect(q.take(0, 10, PER_S, at(1, 10))).toMatchObject({ granted: 5, retryAt: at(1, 500) });
    expect(q.take(0, 10, PER_S, at(1, 500))).toMatchObject({ granted: 5, retryAt: at(2) });
  });
});
