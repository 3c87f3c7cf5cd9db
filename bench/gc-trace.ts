/**
 * Garbage collection of the router's isolate against live events' stalls, for the history scenario
 * (`BENCH_GC_TRACE=1 npm run bench -- history`). V8's CPU profiler, through workerd's inspector, marks the
 * samples taken while the isolate collects garbage; its sample times are CLOCK_MONOTONIC microseconds, the
 * clock of Node's process.hrtime, so a pause and a live event's send and receipt are compared exactly.
 * Each live phase prints the match and keeps its events, pauses and samples in /tmp/gc-trace-RUN-PHASE.json.
 * With BENCH_HEAP_SNAPSHOT=MS as well, nothing is profiled: a heap snapshot of the router is written MS into
 * the replay to /tmp/heap-RUN.heapsnapshot (open it in DevTools' Memory tab). V8's own log of collections:
 * MINIFLARE_WORKERD_V8_FLAGS=--trace-gc.
 */
import { writeFileSync } from "node:fs";

/** The inspector port workerd listens on when tracing (bench/runtime.ts), else undefined. */
export const GC_TRACE_PORT = process.env.BENCH_GC_TRACE ? 9239 : undefined;

/** When tracing: a heap snapshot this many ms into the replay instead of profiles. */
export const HEAP_SNAPSHOT_AT_MS = GC_TRACE_PORT && process.env.BENCH_HEAP_SNAPSHOT ? Number(process.env.BENCH_HEAP_SNAPSHOT) : undefined;

/** A live event over this long (send to receipt) waited for a stall. */
const STALL_MS = 40;

interface Profile {
  nodes: { id: number; callFrame: { functionName: string } }[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface Pause {
  /** Monotonic ms (process.hrtime's clock). */
  start: number;
  ms: number;
}

/** A DevTools protocol session with the router's isolate: `call` answers a method's result, `on` hears its events. */
async function routerSession(port: number) {
  const targets = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as { id: string; webSocketDebuggerUrl: string }[];
  const router = targets.find((t) => t.id.endsWith("router"));
  if (!router) throw new Error(`gc trace: no router among ${targets.map((t) => t.id).join(", ")}`);
  const ws = new WebSocket(router.webSocketDebuggerUrl.replace("localhost", "127.0.0.1"));
  await new Promise((ok, fail) => {
    ws.addEventListener("open", ok);
    ws.addEventListener("error", fail);
  });
  let next = 1;
  const waiting = new Map<number, (r: unknown) => void>();
  const listeners = new Map<string, (params: unknown) => void>();
  ws.addEventListener("message", (m: MessageEvent) => {
    const msg = JSON.parse(String(m.data)) as { id?: number; result?: unknown; method?: string; params?: unknown };
    if (msg.id !== undefined) waiting.get(msg.id)?.(msg.result);
    else if (msg.method) listeners.get(msg.method)?.(msg.params);
  });
  return {
    call: (method: string, params = {}) =>
      new Promise<unknown>((ok) => {
        const id = next++;
        waiting.set(id, ok);
        ws.send(JSON.stringify({ id, method, params }));
      }),
    on: (method: string, listener: (params: unknown) => void) => listeners.set(method, listener),
    close: () => ws.close(),
  };
}

/** Start sampling the router isolate every 250 us; `stop` returns its garbage-collection pauses. */
export async function profileRouter(port: number): Promise<{ stop(): Promise<{ pauses: Pause[]; profile: Profile }> }> {
  const { call, close } = await routerSession(port);
  await call("Profiler.enable");
  await call("Profiler.setSamplingInterval", { interval: 250 });
  await call("Profiler.start");
  return {
    async stop() {
      const { profile } = (await call("Profiler.stop")) as { profile: Profile };
      close();
      return { pauses: pausesOf(profile), profile };
    },
  };
}

/** Runs of consecutive samples in the garbage collector, each as one pause. */
function pausesOf(p: Profile): Pause[] {
  const gc = new Set(p.nodes.filter((n) => n.callFrame.functionName === "(garbage collector)").map((n) => n.id));
  const pauses: Pause[] = [];
  let t = p.startTime;
  let open: { start: number; end: number } | undefined;
  for (let i = 0; i < p.samples.length; i++) {
    const prev = t;
    t += p.timeDeltas[i];
    if (gc.has(p.samples[i])) {
      if (open) open.end = t;
      else open = { start: prev, end: t };
    } else if (open) {
      pauses.push({ start: open.start / 1000, ms: (open.end - open.start) / 1000 });
      open = undefined;
    }
  }
  if (open) pauses.push({ start: open.start / 1000, ms: (open.end - open.start) / 1000 });
  return pauses;
}

/** Monotonic ms of a performance.now() reading. */
export function monotonic(perfNow: number): number {
  return perfNow - performance.now() + Number(process.hrtime.bigint()) / 1e6;
}

/**
 * How many live events over STALL_MS had a garbage-collection pause of at least `minPauseMs` between their
 * send and their receipt, and how much of their wait such pauses cover.
 */
export function correlate(events: { sent: number; received: number }[], pauses: Pause[], minPauseMs = 10): string {
  const long = pauses.filter((p) => p.ms >= minPauseMs);
  const slow = events.filter((e) => e.received - e.sent > STALL_MS);
  const covered = slow.filter((e) => long.some((p) => p.start < e.received && p.start + p.ms > e.sent));
  const sorted = [...pauses].sort((a, b) => b.ms - a.ms);
  const gcMs = pauses.reduce((a, p) => a + p.ms, 0);
  return (
    `${slow.length} live events over ${STALL_MS} ms, ${covered.length} with a GC pause >= ${minPauseMs} ms between send and receipt; ` +
    `${long.length} pauses >= ${minPauseMs} ms (longest ${sorted
      .slice(0, 8)
      .map((p) => p.ms.toFixed(0))
      .join(", ")} ms), ${gcMs.toFixed(0)} ms in GC over ${pauses.length} pauses`
  );
}

/** Write a heap snapshot of the router isolate to `path` (DevTools' .heapsnapshot format). */
export async function heapSnapshot(port: number, path: string): Promise<void> {
  const { call, on, close } = await routerSession(port);
  const chunks: string[] = [];
  on("HeapProfiler.addHeapSnapshotChunk", (p) => chunks.push((p as { chunk: string }).chunk));
  await call("HeapProfiler.enable");
  await call("HeapProfiler.takeHeapSnapshot", { reportProgress: false });
  close();
  writeFileSync(path, chunks.join(""));
}
