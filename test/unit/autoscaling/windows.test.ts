import { describe, expect, it } from "vitest";
import { applyBounds, newBoundsState, type BoundsState, type ScaleBounds } from "../../../shared/autoscaling/bounds.ts";
import { parseGoDuration } from "../../../shared/autoscaling/go-duration.ts";
import { newMetricWindows, newWindowBuckets, observed, panicWindowSec, recordValue, windowAverage } from "../../../shared/autoscaling/window-average.ts";

describe("window average (Knative's bucketing)", () => {
  it("averages only the elapsed part of the first window", () => {
    const w = newWindowBuckets(10);
    recordValue(w, 100, 4);
    recordValue(w, 101, 8);
    expect(windowAverage(w, 101)).toBe(6);
  });

  it("counts gaps as zero, scrolls old seconds out, and is 0 after a silent window", () => {
    const w = newWindowBuckets(4);
    for (let t = 0; t < 4; t++) recordValue(w, t, 10);
    recordValue(w, 6, 2); // seconds 4 and 5 were empty
    expect(windowAverage(w, 6)).toBe(3); // (10 + 0 + 0 + 2) / 4
    expect(windowAverage(w, 8)).toBe(1); // seconds 7, 8 have no data yet: only 5..6 remain valid
    expect(windowAverage(w, 10)).toBe(0);
  });

  it("sums several values within one second and restarts the partial window after silence", () => {
    const w = newWindowBuckets(5);
    recordValue(w, 0.2, 1);
    recordValue(w, 0.9, 2);
    expect(windowAverage(w, 0)).toBe(3);
    recordValue(w, 20, 7);
    expect(windowAverage(w, 20)).toBe(7);
  });

  it("derives the panic window and feeds both windows from one observation", () => {
    expect(panicWindowSec(60, 10)).toBe(6);
    expect(panicWindowSec(6, 1)).toBe(1);
    const m = newMetricWindows(60, 10);
    for (let t = 0; t < 60; t++) {
      recordValue(m.stable, t, 0);
      recordValue(m.panic, t, 0);
    }
    for (let t = 60; t < 66; t++) {
      recordValue(m.stable, t, 60);
      recordValue(m.panic, t, 60);
    }
    expect(observed(m, 65)).toEqual({ observedStable: 6, observedPanic: 60, metricsAvailable: true });
    expect(observed(m, 200).metricsAvailable).toBe(false);
  });
});

describe("Go durations", () => {
  it("parses what Knative annotations use", () => {
    expect([parseGoDuration("60s"), parseGoDuration("1m30s"), parseGoDuration("1.5h"), parseGoDuration("0"), parseGoDuration("500ms")]).toEqual([
      60, 90, 5400, 0, 0.5,
    ]);
    expect([parseGoDuration("60"), parseGoDuration("1d"), parseGoDuration("")]).toEqual([null, null, null]);
  });
});

describe("scale bounds after the decision", () => {
  const b: ScaleBounds = {
    minScale: 0,
    maxScale: 5,
    initialScale: 3,
    podBufferSize: 1,
    knativeScaleToZero: true,
    scaleToZeroGraceSec: 30,
    scaleToZeroRetentionSec: 0,
    stableWindowSec: 60,
  };

  it("holds the initial scale until reached, adds the buffer, caps at max", () => {
    let r = applyBounds(b, newBoundsState(), { tSec: 0, desired: 1, current: 0 });
    expect(r.replicas).toBe(3);
    r = applyBounds(b, r.state, { tSec: 2, desired: 1, current: 3 });
    expect(r.replicas).toBe(2);
    expect(applyBounds(b, r.state, { tSec: 4, desired: 9, current: 2 }).replicas).toBe(5);
  });

  it("lets a target that is not a Knative Service go to zero at once: KEDA's cooldownPeriod has already passed", () => {
    const keda = { ...b, knativeScaleToZero: false };
    const r = applyBounds(keda, { initialized: true, activeSinceSec: 0, zeroSinceSec: null }, { tSec: 5, desired: 0, current: 1 });
    expect(r.replicas).toBe(0);
  });

  it("goes to zero only after a stable window active and a grace period idle (Knative Services)", () => {
    const s: BoundsState = { initialized: true, activeSinceSec: null, zeroSinceSec: null };
    let r = applyBounds(b, s, { tSec: 0, desired: 2, current: 2 });
    r = applyBounds(b, r.state, { tSec: 40, desired: 0, current: 3 });
    expect(r.replicas).toBe(1);
    r = applyBounds(b, r.state, { tSec: 69, desired: 0, current: 1 });
    expect(r.replicas).toBe(1);
    r = applyBounds(b, r.state, { tSec: 70, desired: 0, current: 1 });
    expect(r.replicas).toBe(0);
  });
});
