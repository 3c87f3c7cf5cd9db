/**
 * The benchmark scenarios. Each returns rows: a figure for the router and the figure of its baseline,
 * measured in the same run on the same runtime, so the ratio is what the router costs.
 */
import { closedLoop, openLoop, percentile, waitFor } from "./load.ts";
import { cpuSeconds } from "./proc.ts";
import type { Runtime } from "./runtime.ts";
import { batchEvents, binaryEvent, brokerWithTriggers } from "./setup.ts";
import type { Sink } from "./sink.ts";

export interface Row {
  scenario: string;
  unit: string;
  router: number;
  baselineName: string;
  baseline: number;
  /** router / baseline, except for latency where lower is better: router / baseline too, read as "times slower". */
  ratio: number;
  goal?: { text: string; met: boolean };
  note?: string;
}

export interface Bench {
  rt: Runtime;
  sink: Sink;
  /** Run-unique prefix for event ids. */
  run: string;
}

/** 16 closed-loop senders, the load the goals are stated at. */
const INGRESS = { concurrency: 16, durationMs: 5_000, maxRequests: 20_000 };
/** How long a scenario may wait for its deliveries to drain before it counts what arrived. */
const DRAIN_MS = 120_000;

const sum = (sink: Sink, path: string, n: number) => Array.from({ length: n }, (_, i) => sink.count(`${path}/${i}`)).reduce((a, b) => a + b, 0);

/** Wait until every accepted delivery of a scenario arrived, so the next scenario starts on a quiet runtime. */
async function drain(b: Bench, path: string, triggers: number, expected: number): Promise<number> {
  await waitFor(() => sum(b.sink, path, triggers) >= expected, DRAIN_MS);
  return sum(b.sink, path, triggers);
}

function rate(ok: number, ms: number): number {
  return (ok / ms) * 1000;
}

function failed(r: { failures: Record<string, number> }): string | undefined {
  return Object.keys(r.failures).length ? `non-202 answers: ${JSON.stringify(r.failures)}` : undefined;
}

/**
 * Single events from 16 closed-loop senders into a broker with one trigger, against the bare Worker and
 * the forwarding Worker under the same load; workerd CPU per event of the router (storing and delivering,
 * until the last delivery) and of the forwarding Worker (which delivers before it answers).
 */
export async function ingress(b: Bench): Promise<Row[]> {
  const url = await brokerWithTriggers(b.rt.router, { broker: "ingress", triggers: 1, subscriber: b.sink.url, path: "/ingress" });
  const bare = await closedLoop({ ...INGRESS, request: (i) => ({ url: `${b.rt.bare}/bench/ingress`, init: binaryEvent(`${b.run}-bare-${i}`) }) });
  let cpu0 = cpuSeconds(b.rt.pid);
  const forward = await closedLoop({ ...INGRESS, request: (i) => ({ url: `${b.rt.forward}/forward/0`, init: binaryEvent(`${b.run}-fwd-${i}`) }) });
  const forwardCpuMs = ((cpuSeconds(b.rt.pid) - cpu0) * 1000) / forward.ok;
  cpu0 = cpuSeconds(b.rt.pid);
  const single = await closedLoop({ ...INGRESS, request: (i) => ({ url, init: binaryEvent(`${b.run}-single-${i}`) }) });
  await drain(b, "/ingress", 1, single.ok);
  const routerCpuMs = ((cpuSeconds(b.rt.pid) - cpu0) * 1000) / single.ok;
  const batch = await closedLoop({ ...INGRESS, concurrency: 4, maxRequests: 400, request: (i) => ({ url, init: batchEvents(`${b.run}-batch-${i}`, 100) }) });
  const delivered = await drain(b, "/ingress", 1, single.ok + batch.ok * 100);
  const singleRate = rate(single.ok, single.elapsedMs);
  const bareRate = rate(bare.ok, bare.elapsedMs);
  const forwardRate = rate(forward.ok, forward.elapsedMs);
  const batchRate = rate(batch.ok * 100, batch.elapsedMs);
  return [
    { scenario: "single-event ingress", unit: "events/s", router: singleRate, baselineName: "forwarding Worker", baseline: forwardRate, ratio: singleRate / forwardRate, goal: { text: ">= 0.65x forwarding", met: singleRate / forwardRate >= 0.65 }, note: failed(single) ?? failed(forward) },
    { scenario: "single-event ingress, against a bare Worker", unit: "events/s", router: singleRate, baselineName: "bare Worker (read body, 202)", baseline: bareRate, ratio: singleRate / bareRate },
    { scenario: "workerd CPU per event, delivery included", unit: "ms/event", router: routerCpuMs, baselineName: "forwarding Worker", baseline: forwardCpuMs, ratio: routerCpuMs / forwardCpuMs, goal: { text: "<= 1.5x forwarding", met: routerCpuMs / forwardCpuMs <= 1.5 } },
    {
      scenario: "batch ingress (100/request)",
      unit: "events/s",
      router: batchRate,
      baselineName: "router single-event ingress",
      baseline: singleRate,
      ratio: batchRate / singleRate,
      goal: { text: ">= 10x single", met: batchRate / singleRate >= 10 },
      note: failed(batch) ?? (delivered < single.ok + batch.ok * 100 ? `only ${delivered} of ${single.ok + batch.ok * 100} delivered within ${DRAIN_MS} ms` : undefined),
    },
  ];
}

/** The latency goals (router / direct, at most), by rate. */
const LATENCY_GOALS: Record<number, { p50?: number; p99?: number }> = { 40: { p50: 2, p99: 1.5 }, 200: { p99: 3 } };

/** Send-to-receipt latency at fixed rates, through the router and through the forwarding Worker. */
export async function latency(b: Bench, rates: number[], seconds: number): Promise<Row[]> {
  const url = await brokerWithTriggers(b.rt.router, { broker: "latency", triggers: 1, subscriber: b.sink.url, path: "/latency" });
  const rows: Row[] = [];
  for (const perSecond of rates) {
    const count = perSecond * seconds;
    const measure = async (target: (i: number) => string, tag: string) => {
      const ids = Array.from({ length: count }, (_, i) => `${b.run}-lat-${tag}-${perSecond}-${i}`);
      const r = await openLoop({ perSecond, count, request: (i) => ({ url: target(i), init: binaryEvent(ids[i]) }) });
      await waitFor(() => ids.every((id) => b.sink.receivedAt(id) !== undefined), DRAIN_MS);
      const lat = ids.flatMap((id, i) => {
        const at = b.sink.receivedAt(id);
        return at === undefined ? [] : [at - r.sentAt[i]];
      });
      return { p50: percentile(lat, 50), p99: percentile(lat, 99), lost: count - lat.length, r };
    };
    const direct = await measure(() => `${b.rt.forward}/direct/0`, "direct");
    const routed = await measure(() => url, "router");
    const note = routed.lost || direct.lost ? `not received: router ${routed.lost}, direct ${direct.lost}` : failed(routed.r);
    const goals = LATENCY_GOALS[perSecond] ?? {};
    const row = (p: "p50" | "p99"): Row => {
      const ratio = routed[p] / direct[p];
      const most = goals[p];
      return { scenario: `e2e latency ${p} @ ${perSecond}/s`, unit: "ms", router: routed[p], baselineName: "forwarding Worker", baseline: direct[p], ratio, goal: most === undefined ? undefined : { text: `<= ${most}x direct`, met: ratio <= most }, note };
    };
    rows.push(row("p50"), row("p99"));
  }
  return rows;
}

/**
 * Delivered events/s to 1, 10 and 100 matching triggers, each against the 1-trigger rate. The three run
 * in turn, FANOUT_ROUNDS times, and each keeps its best round: a phase lasts seconds, and on a shared
 * machine one phase alone may catch a slow moment the others do not.
 */
const FANOUT_ROUNDS = 3;

export async function fanout(b: Bench): Promise<Row[]> {
  const plan = [
    { triggers: 1, events: 1000 },
    { triggers: 10, events: 200 },
    { triggers: 100, events: 30 },
  ];
  const best = new Map<number, { rate: number; note?: string }>();
  const urls = new Map<number, string>();
  for (const p of plan) urls.set(p.triggers, await brokerWithTriggers(b.rt.router, { broker: `fanout${p.triggers}`, triggers: p.triggers, subscriber: b.sink.url, path: `/fanout${p.triggers}` }));
  for (let round = 0; round < FANOUT_ROUNDS; round++) {
    for (const p of plan) {
      const path = `/fanout${p.triggers}`;
      const before = sum(b.sink, path, p.triggers);
      const start = performance.now();
      const sent = await closedLoop({ concurrency: 16, durationMs: 60_000, maxRequests: p.events, request: (i) => ({ url: urls.get(p.triggers)!, init: binaryEvent(`${b.run}-fan${p.triggers}-${round}-${i}`) }) });
      const expected = sent.ok * p.triggers;
      const got = (await drain(b, path, p.triggers, before + expected)) - before;
      const measured = { rate: rate(got, performance.now() - start), note: failed(sent) ?? (got < expected ? `only ${got} of ${expected} delivered` : undefined) };
      if (measured.rate > (best.get(p.triggers)?.rate ?? 0)) best.set(p.triggers, measured);
    }
  }
  const one = best.get(1)!.rate;
  return plan.map(({ triggers }) => {
    const m = best.get(triggers)!;
    return {
      scenario: `fan-out to ${triggers} trigger${triggers > 1 ? "s" : ""}`,
      unit: "deliveries/s",
      router: m.rate,
      baselineName: "fan-out to 1 trigger",
      baseline: one,
      ratio: m.rate / one,
      goal: triggers === 10 ? { text: ">= 3x 1-trigger", met: m.rate / one >= 3 } : undefined,
      note: m.note,
    };
  });
}

/**
 * A subscriber that takes 200 ms, with trigger parallelism 1, 6 and 50, against the forwarding Worker
 * driven with the same concurrency: what the parallelism setting buys, measured.
 */
export async function slowSubscriber(b: Bench): Promise<Row[]> {
  const rows: Row[] = [];
  for (const parallelism of [1, 6, 50]) {
    const events = parallelism * 15; // about 3 s of work at the ideal rate
    const path = `/slow/p${parallelism}`;
    const url = await brokerWithTriggers(b.rt.router, { broker: `slow${parallelism}`, triggers: 1, subscriber: b.sink.url, path, parallelism });
    const direct = await closedLoop({ concurrency: parallelism, durationMs: 60_000, maxRequests: events, request: () => ({ url: `${b.rt.forward}${path}/direct`, init: binaryEvent(`${b.run}-slowdirect`) }) });
    const start = performance.now();
    const sent = await closedLoop({ concurrency: 16, durationMs: 60_000, maxRequests: events, request: (i) => ({ url, init: binaryEvent(`${b.run}-slow${parallelism}-${i}`) }) });
    const got = await drain(b, path, 1, sent.ok);
    const routed = rate(got, performance.now() - start);
    const directRate = rate(direct.ok, direct.elapsedMs);
    rows.push({ scenario: `slow subscriber (200 ms), parallelism ${parallelism}`, unit: "deliveries/s", router: routed, baselineName: `forwarding Worker, ${parallelism} concurrent`, baseline: directRate, ratio: routed / directRate, note: failed(sent) });
  }
  return rows;
}
