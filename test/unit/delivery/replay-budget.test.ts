import { describe, expect, it } from "vitest";
import { QUIET_MS, ReplayBudget } from "../../../shared/delivery/replay-budget.ts";

const T0 = 1_000_000_000_000;
const MAX = 50;

/** A budget that ran a replay alone until it reached MAX, at `T0`. */
function atFullSpeed(): ReplayBudget {
  const b = new ReplayBudget();
  for (let i = 0; i < MAX; i++) b.replayed(MAX, T0);
  return b;
}

/** `n` live deliveries to trigger `t`, one every 20 ms from `from`, each taking `ms`, a replay completion between each. */
function liveLoad(b: ReplayBudget, from: number, n: number, ms: (i: number) => number, t = "t"): number {
  let now = from;
  for (let i = 0; i < n; i++) {
    now += 20;
    b.replayed(MAX, now - 1);
    b.live(t, now - ms(i), now);
  }
  return now;
}

describe("replay budget", () => {
  it("runs a replay at full speed while no live traffic flows, within the trigger's maximum", () => {
    const b = new ReplayBudget();
    expect(b.limit(MAX)).toBe(1);
    for (let i = 0; i < 10; i++) b.replayed(MAX, T0 + i);
    expect(b.limit(MAX)).toBe(11);
    for (let i = 0; i < 100; i++) b.replayed(MAX, T0 + i);
    expect(b.limit(MAX)).toBe(MAX);
    expect(b.limit(8)).toBe(8);
  });

  it("drops to one in flight when live traffic starts, and grows back one per live delivery that stays fast", () => {
    const b = atFullSpeed();
    b.live("t", T0 + 1, T0 + 5);
    expect(b.limit(MAX)).toBe(1);
    liveLoad(b, T0 + 5, 10, () => 4);
    expect(b.limit(MAX)).toBe(11);
  });

  it("halves when a live delivery is slower than its floor allows, once per generation of live events", () => {
    const b = atFullSpeed();
    let now = liveLoad(b, T0, 21, () => 4); // 1 after the start, then +20
    expect(b.limit(MAX)).toBe(21);
    // Three slow deliveries that all arrived before the first cut: one halving.
    now += 20;
    b.replayed(MAX, now);
    b.live("t", now - 30, now);
    b.live("t", now - 25, now + 1);
    b.live("t", now - 22, now + 2);
    expect(b.limit(MAX)).toBe(10);
    // One that arrived after the cut and is still slow: another.
    b.live("t", now + 3, now + 40);
    expect(b.limit(MAX)).toBe(5);
    // Never below one.
    for (let i = 0; i < 10; i++) b.live("t", now + 50 + i * 30, now + 80 + i * 30);
    expect(b.limit(MAX)).toBe(1);
  });

  it("judges each trigger's live deliveries against that trigger's own floor", () => {
    const b = atFullSpeed();
    let now = T0;
    for (let i = 0; i < 10; i++) {
      now += 20;
      b.replayed(MAX, now - 1);
      b.live("fast", now - 3, now);
      b.replayed(MAX, now);
      b.live("slow", now - 100, now);
    }
    expect(b.limit(MAX)).toBe(20);
  });

  it("does not grow on live deliveries while no replay uses the limit", () => {
    const b = new ReplayBudget();
    for (let i = 1; i <= 20; i++) b.live("t", T0 + i * 20 - 4, T0 + i * 20);
    expect(b.limit(MAX)).toBe(1);
  });

  it("speeds up again once live traffic has been quiet for a while", () => {
    const b = atFullSpeed();
    const now = liveLoad(b, T0, 10, () => 4);
    expect(b.limit(MAX)).toBe(10);
    b.replayed(MAX, now + QUIET_MS - 1);
    expect(b.limit(MAX)).toBe(10);
    for (let i = 0; i < 60; i++) b.replayed(MAX, now + QUIET_MS + i);
    expect(b.limit(MAX)).toBe(MAX);
  });

  it("lets a floor that became slower for good rise, so the replay is not held at one forever", () => {
    const b = atFullSpeed();
    let now = liveLoad(b, T0, 10, () => 2);
    expect(b.limit(MAX)).toBe(10);
    now = liveLoad(b, now, 6, () => 40);
    expect(b.limit(MAX)).toBe(1);
    liveLoad(b, now, 400, () => 40);
    expect(b.limit(MAX)).toBe(MAX);
  });
});
