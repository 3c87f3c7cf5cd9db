/**
 * Knative's linear window average (`aggregation.TimedFloat64Buckets`) with 1-second buckets:
 * during the first window the average covers only the elapsed part, gaps count as zero, and
 * nothing recorded for a whole window gives 0. Plain data so a Durable Object can store it.
 */
export interface WindowBuckets {
  windowSec: number;
  buckets: number[];
  total: number;
  /** Whole seconds; null before the first record. */
  firstWrite: number | null;
  lastWrite: number | null;
}

/** Knative rounds window averages down to 6 decimals. */
const PRECISION = 1e6;

export function newWindowBuckets(windowSec: number): WindowBuckets {
  const n = Math.ceil(windowSec);
  if (!Number.isFinite(n) || n < 1) throw new RangeError(`windowSec must be >= 1, got ${windowSec}`);
  return { windowSec: n, buckets: new Array<number>(n).fill(0), total: 0, firstWrite: null, lastWrite: null };
}

const slot = (w: WindowBuckets, sec: number) => ((sec % w.buckets.length) + w.buckets.length) % w.buckets.length;

/** Adds `value` to the bucket of second `floor(tSec)`; a value older than the window is dropped. */
export function recordValue(w: WindowBuckets, tSec: number, value: number): void {
  const sec = Math.floor(tSec);
  if (w.lastWrite !== sec) {
    if (w.lastWrite !== null && sec + w.windowSec <= w.lastWrite) return;
    if (w.firstWrite === null || w.firstWrite > sec) w.firstWrite = sec;
    if (w.lastWrite === null || sec > w.lastWrite) {
      if (w.lastWrite === null || sec - w.lastWrite >= w.windowSec) {
        w.buckets.fill(0);
        w.total = 0;
        w.firstWrite = sec;
      } else {
        for (let i = w.lastWrite + 1; i <= sec; i++) {
          w.total -= w.buckets[slot(w, i)];
          w.buckets[slot(w, i)] = 0;
        }
      }
      w.lastWrite = sec;
    }
  }
  w.buckets[slot(w, sec)] += value;
  w.total += value;
}

/** The average over the window ending at second `floor(tSec)`. */
export function windowAverage(w: WindowBuckets, tSec: number): number {
  if (w.lastWrite === null || w.firstWrite === null) return 0;
  const now = Math.floor(tSec);
  const written = w.lastWrite - w.firstWrite + 1;
  const d = now - w.lastWrite;
  let sum = w.total;
  let valid = Math.min(written, w.buckets.length);
  if (d >= w.windowSec) return 0;
  if (d > 0) {
    // Seconds after the last write have scrolled older buckets out of the window.
    for (let i = w.lastWrite + 1; i <= now; i++) sum -= w.buckets[slot(w, i)];
    valid = Math.min(written, w.buckets.length - d);
  }
  return Math.floor((sum / valid) * PRECISION) / PRECISION;
}

/** Knative's panic window: `round(stable × percentage / 100)`, at least one second. */
export function panicWindowSec(stableWindowSec: number, panicWindowPercentage: number): number {
  return Math.max(1, Math.round((stableWindowSec * panicWindowPercentage) / 100));
}

/** The stable and panic windows of one scaled target, fed once per second with the observed total. */
export interface MetricWindows {
  stable: WindowBuckets;
  panic: WindowBuckets;
}

export function newMetricWindows(stableWindowSec: number, panicWindowPercentage: number): MetricWindows {
  return {
    stable: newWindowBuckets(stableWindowSec),
    panic: newWindowBuckets(panicWindowSec(stableWindowSec, panicWindowPercentage)),
  };
}

export function observe(windows: MetricWindows, tSec: number, value: number): void {
  recordValue(windows.stable, tSec, value);
  recordValue(windows.panic, tSec, value);
}

/** The decider's inputs at `tSec`; `metricsAvailable` is false when nothing was recorded for a window. */
export function observed(windows: MetricWindows, tSec: number) {
  const last = windows.stable.lastWrite;
  return {
    observedStable: windowAverage(windows.stable, tSec),
    observedPanic: windowAverage(windows.panic, tSec),
    metricsAvailable: last !== null && Math.floor(tSec) - last <= windows.stable.windowSec,
  };
}
