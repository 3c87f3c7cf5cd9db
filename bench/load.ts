/**
 * Bounded load generation over loopback: a closed loop (N workers, each sending the next request when the
 * last one answered) and an open loop at a fixed rate. Both stop at a request count or a duration,
 * whichever comes first.
 */

export interface LoadResult {
  /** Requests answered with the expected status. */
  ok: number;
  /** Every other answer or network error, by status ("error" for no answer). */
  failures: Record<string, number>;
  elapsedMs: number;
  /** Latency of each answered request, ms. */
  latencies: number[];
}

export interface LoadOptions {
  concurrency: number;
  durationMs: number;
  maxRequests: number;
  /** The i-th request (0-based). */
  request: (i: number) => { url: string; init: RequestInit };
  expect?: number;
}

async function sendOne(url: string, init: RequestInit, expect: number, r: LoadResult): Promise<void> {
  const start = performance.now();
  try {
    const res = await fetch(url, init);
    await res.arrayBuffer();
    if (res.status === expect) {
      r.ok++;
      r.latencies.push(performance.now() - start);
    } else r.failures[res.status] = (r.failures[res.status] ?? 0) + 1;
  } catch {
    r.failures.error = (r.failures.error ?? 0) + 1;
  }
}

export async function closedLoop(o: LoadOptions): Promise<LoadResult> {
  const r: LoadResult = { ok: 0, failures: {}, elapsedMs: 0, latencies: [] };
  const start = performance.now();
  const deadline = start + o.durationMs;
  let next = 0;
  const worker = async () => {
    while (next < o.maxRequests && performance.now() < deadline) {
      const { url, init } = o.request(next++);
      await sendOne(url, init, o.expect ?? 202, r);
    }
  };
  await Promise.all(Array.from({ length: o.concurrency }, worker));
  r.elapsedMs = performance.now() - start;
  return r;
}

/** Send `count` requests at `perSecond`, each on schedule whether or not earlier ones answered. */
export async function openLoop(o: {
  perSecond: number;
  count: number;
  request: (i: number) => { url: string; init: RequestInit };
  expect?: number;
}): Promise<LoadResult & { sentAt: number[] }> {
  const r: LoadResult & { sentAt: number[] } = { ok: 0, failures: {}, elapsedMs: 0, latencies: [], sentAt: [] };
  const start = performance.now();
  const pending: Promise<void>[] = [];
  for (let i = 0; i < o.count; i++) {
    const due = start + (i * 1000) / o.perSecond;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((ok) => setTimeout(ok, wait));
    const { url, init } = o.request(i);
    r.sentAt[i] = performance.now();
    pending.push(sendOne(url, init, o.expect ?? 202, r));
  }
  await Promise.all(pending);
  r.elapsedMs = performance.now() - start;
  return r;
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** Poll `check` every 20 ms until it is true or `timeoutMs` passed; returns whether it became true. */
export async function waitFor(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) return false;
    await new Promise((ok) => setTimeout(ok, 20));
  }
  return true;
}
