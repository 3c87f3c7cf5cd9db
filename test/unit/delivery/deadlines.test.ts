/**
 * Attempts' deadlines (durable-objects/broker/outbound.ts): one timer per timeout value serves every
 * attempt in flight with that timeout. What an attempt sees is its abort signal: it must fire at its own
 * deadline (not a neighbour's), never after the attempt ended, and leave no timer once nothing is open.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Deadlines } from "../../../durable-objects/broker/outbound.ts";

const T0 = 1_000_000;

beforeEach(() => {
  vi.useFakeTimers({ now: T0 });
});
afterEach(() => {
  vi.useRealTimers();
});

/** Deadlines, and attempts started on them that record, per name, when (ms since T0) the signal aborted and why. */
function attempts() {
  const deadlines = new Deadlines();
  const aborted = new Map<string, { at: number; reason: unknown }>();
  const order: string[] = [];
  const start = (name: string, timeoutMs: number) => {
    const abort = new AbortController();
    abort.signal.addEventListener("abort", () => {
      aborted.set(name, { at: Date.now() - T0, reason: abort.signal.reason });
      order.push(name);
    });
    return deadlines.start(timeoutMs, abort);
  };
  return { deadlines, start, aborted, order };
}

describe("Deadlines", () => {
  it("aborts each attempt at its own deadline, in the order they pass, with a TimeoutError naming the timeout", () => {
    const { start, aborted, order } = attempts();
    start("a", 1_000);
    vi.advanceTimersByTime(100);
    start("b", 1_000);
    vi.advanceTimersByTime(100);
    start("c", 1_000);

    vi.advanceTimersByTime(799); // t = 999
    expect(order).toEqual([]);
    vi.advanceTimersByTime(1); // t = 1000
    expect(order).toEqual(["a"]);
    vi.advanceTimersByTime(99); // t = 1099
    expect(order).toEqual(["a"]);
    vi.advanceTimersByTime(200); // t = 1299
    expect(order).toEqual(["a", "b", "c"]);
    expect([...aborted].map(([name, { at }]) => [name, at])).toEqual([
      ["a", 1_000],
      ["b", 1_100],
      ["c", 1_200],
    ]);
    const reason = aborted.get("a")?.reason as DOMException;
    expect(reason.name).toBe("TimeoutError");
    expect(reason.message).toBe("timeout after 1000 ms");
  });

  it("a shorter timeout started later aborts first: each timeout value keeps its own order", () => {
    const { start, aborted, order } = attempts();
    start("long", 1_000);
    vi.advanceTimersByTime(200);
    start("short", 300);
    vi.advanceTimersByTime(2_000);
    expect(order).toEqual(["short", "long"]);
    expect(aborted.get("short")?.at).toBe(500);
    expect(aborted.get("long")?.at).toBe(1_000);
  });

  it("an attempt that ended is never aborted, and the attempts behind it still are, at their own deadlines", () => {
    const { deadlines, start, aborted, order } = attempts();
    const first = start("first", 1_000);
    vi.advanceTimersByTime(100);
    start("second", 1_000);
    vi.advanceTimersByTime(50);
    deadlines.end(first); // t = 150: answered in time
    vi.advanceTimersByTime(5_000);
    expect(order).toEqual(["second"]);
    expect(aborted.get("second")?.at).toBe(1_100);
  });

  it("ending an attempt after its deadline fired (as every attempt does when it settles) leaves the others' deadlines in place", () => {
    const { deadlines, start, aborted, order } = attempts();
    const late = start("late", 1_000);
    vi.advanceTimersByTime(500);
    start("next", 1_000);
    vi.advanceTimersByTime(500); // t = 1000: "late" aborts
    expect(order).toEqual(["late"]);
    deadlines.end(late);
    deadlines.end(late);
    vi.advanceTimersByTime(500); // t = 1500
    expect(order).toEqual(["late", "next"]);
    expect(aborted.get("next")?.at).toBe(1_500);
  });

  it("many attempts with one timeout share one timer; one more timer per other timeout; none once nothing is open", () => {
    const { deadlines, start, order } = attempts();
    expect(vi.getTimerCount()).toBe(0);
    const open = [];
    for (let i = 0; i < 500; i++) {
      open.push(start(`a${i}`, 1_000));
      vi.advanceTimersByTime(1);
    }
    expect(vi.getTimerCount()).toBe(1);
    open.push(start("other", 250));
    expect(vi.getTimerCount()).toBe(2);
    for (const d of open) deadlines.end(d);
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(5_000);
    expect(order).toEqual([]);
  });

  it("a timer left after its attempts fired is re-armed for the next attempt with that timeout", () => {
    const { start, aborted } = attempts();
    start("one", 1_000);
    vi.advanceTimersByTime(1_000);
    expect(aborted.has("one")).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
    start("two", 1_000); // t = 1000
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(1_000);
    expect(aborted.get("two")?.at).toBe(2_000);
  });
});
