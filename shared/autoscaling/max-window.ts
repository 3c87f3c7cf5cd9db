/**
 * The maximum of the values recorded during the last `size` buckets: Knative's scale-down-delay
 * window (`aggregation/max`), a descending-minima queue. Plain data so a Durable Object can store it.
 * A bucket is `floor(tSec / granularitySec)`; two records in one bucket keep the larger.
 */
export interface MaxWindow {
  size: number;
  /** Candidates, oldest first, values strictly descending. */
  entries: { index: number; value: number }[];
}

export function newMaxWindow(durationSec: number, granularitySec: number): MaxWindow {
  return { size: Math.max(1, Math.ceil(durationSec / granularitySec)), entries: [] };
}

/** Records `value` in bucket `index` (indexes never go backwards) and returns the new window. */
export function recordMax(window: MaxWindow, index: number, value: number): MaxWindow {
  const entries = window.entries.filter((e) => index - e.index < window.size);
  // A smaller, older value can never be the maximum again once a larger or equal newer one exists.
  while (entries.length > 0 && entries[entries.length - 1].value <= value) {
    const last = entries.pop()!;
    if (last.index === index) value = Math.max(value, last.value);
  }
  const last = entries[entries.length - 1];
  if (last && last.index === index) {
    // Same bucket with a larger value already there: keep it.
    return { size: window.size, entries };
  }
  entries.push({ index, value });
  return { size: window.size, entries };
}

/** The maximum over the window (0 when nothing was recorded). */
export function currentMax(window: MaxWindow): number {
  return window.entries[0]?.value ?? 0;
}
