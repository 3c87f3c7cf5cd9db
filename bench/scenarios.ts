/**
 * The benchmark scenarios. Each returns rows: a figure for the router and the figure of its baseline,
 * measured in the same run on the same runtime, so the ratio is what the router costs.
 */
import { closedLoop, openLoop, percentile, waitFor } from "./load.ts";
import { cpuSeconds } from "./proc.ts";
import type { Runtime } from "./runtime.ts";
import { batchEvents, binaryEvent, brokerWithTriggers, storageRows } from "./setup.ts";
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

/** The floor's rows written so far (baselines/floor.ts counts them from `cursor.rowsWritten`). */
async function floorRows(b: Bench): Promise<number> {
  return (await (await fetch(`${b.rt.floor}/_rows`)).json()) as number;
}

/** Counters and attempt records of the router are written within 5 s: wait that long before reading rows. */
const COUNTERS_MS = 6_000;

/**
 * Single events from 16 closed-loop senders into a broker with one trigger, against the bare Worker, the
 * forwarding Worker and the floor (one Durable Object storing a row per event) under the same load; workerd
 * CPU per event of the router and of the floor (storing and delivering, until the last delivery) and of
 * the forwarding Worker (which delivers before it answers); rows written per event, router and floor.
 */
export async function ingress(b: Bench): Promise<Row[]> {
  const url = await brokerWithTriggers(b.rt.router, { broker: "ingress", triggers: 1, subscriber: b.sink.url, path: "/ingress" });
  const bare = await closedLoop({ ...INGRESS, request: (i) => ({ url: `${b.rt.bare}/bench/ingress`, init: binaryEvent(`${b.run}-bare-${i}`) }) });
  let cpu0 = cpuSeconds(b.rt.pid);
  const forward = await closedLoop({ ...INGRESS, request: (i) => ({ url: `${b.rt.forward}/forward/0`, init: binaryEvent(`${b.run}-fwd-${i}`) }) });
  const forwardCpuMs = ((cpuSeconds(b.rt.pid) - cpu0) * 1000) / forward.ok;
  const floorRows0 = await floorRows(b);
  cpu0 = cpuSeconds(b.rt.pid);
  const floor = await closedLoop({ ...INGRESS, request: (i) => ({ url: `${b.rt.floor}/floor/0`, init: binaryEvent(`${b.run}-floor-${i}`) }) });
  await drain(b, "/floor", 1, floor.ok);
  const floorCpuMs = ((cpuSeconds(b.rt.pid) - cpu0) * 1000) / floor.ok;
  const floorRowsPerEvent = ((await floorRows(b)) - floorRows0) / floor.ok;
  const rows0 = (await storageRows(b.rt.router, "ingress")).written;
  cpu0 = cpuSeconds(b.rt.pid);
  const single = await closedLoop({ ...INGRESS, request: (i) => ({ url, init: binaryEvent(`${b.run}-single-${i}`) }) });
  await drain(b, "/ingress", 1, single.ok);
  const routerCpuMs = ((cpuSeconds(b.rt.pid) - cpu0) * 1000) / single.ok;
  await new Promise((r) => setTimeout(r, COUNTERS_MS));
  const routerRowsPerEvent = ((await storageRows(b.rt.router, "ingress")).written - (Number.isNaN(rows0) ? 0 : rows0)) / single.ok;
  const batch = await closedLoop({ ...INGRESS, concurrency: 4, maxRequests: 400, request: (i) => ({ url, init: batchEvents(`${b.run}-batch-${i}`, 100) }) });
  const delivered = await drain(b, "/ingress", 1, single.ok + batch.ok * 100);
  const singleRate = rate(single.ok, single.elapsedMs);
  const bareRate = rate(bare.ok, bare.elapsedMs);
  const forwardRate = rate(forward.ok, forward.elapsedMs);
  const floorRate = rate(floor.ok, floor.elapsedMs);
  const batchRate = rate(batch.ok * 100, batch.elapsedMs);
  return [
    {
      scenario: "single-event ingress, against the floor",
      unit: "events/s",
      router: singleRate,
      baselineName: "floor (a row per event)",
      baseline: floorRate,
      ratio: singleRate / floorRate,
      goal: { text: ">= 1.0x floor", met: singleRate / floorRate >= 1 },
      note: failed(single) ?? failed(floor),
    },
    {
      scenario: "single-event ingress",
      unit: "events/s",
      router: singleRate,
      baselineName: "forwarding Worker",
      baseline: forwardRate,
      ratio: singleRate / forwardRate,
      goal: { text: ">= 0.65x forwarding", met: singleRate / forwardRate >= 0.65 },
      note: failed(forward),
    },
    {
      scenario: "single-event ingress, against a bare Worker",
      unit: "events/s",
      router: singleRate,
      baselineName: "bare Worker (read body, 202)",
      baseline: bareRate,
      ratio: singleRate / bareRate,
    },
    {
      scenario: "workerd CPU per delivered event, against the floor",
      unit: "ms/event",
      router: routerCpuMs,
      baselineName: "floor",
      baseline: floorCpuMs,
      ratio: routerCpuMs / floorCpuMs,
      goal: { text: "<= 1.0x floor", met: routerCpuMs / floorCpuMs <= 1 },
    },
    {
      scenario: "workerd CPU per event, delivery included",
      unit: "ms/event",
      router: routerCpuMs,
      baselineName: "forwarding Worker",
      baseline: forwardCpuMs,
      ratio: routerCpuMs / forwardCpuMs,
      goal: { text: "<= 1.5x forwarding", met: routerCpuMs / forwardCpuMs <= 1.5 },
    },
    {
      scenario: "rows written per event, against the floor",
      unit: "rows/event",
      router: routerRowsPerEvent,
      baselineName: "floor",
      baseline: floorRowsPerEvent,
      ratio: routerRowsPerEvent / floorRowsPerEvent,
      goal: { text: "<= 0.25x floor", met: routerRowsPerEvent / floorRowsPerEvent <= 0.25 },
    },
    {
      scenario: "batch ingress (100/request)",
      unit: "events/s",
      router: batchRate,
      baselineName: "router single-event ingress",
      baseline: singleRate,
      ratio: batchRate / singleRate,
      goal: { text: ">= 10x single", met: batchRate / singleRate >= 10 },
      note:
        failed(batch) ??
        (delivered < single.ok + batch.ok * 100 ? `only ${delivered} of ${single.ok + batch.ok * 100} delivered within ${DRAIN_MS} ms` : undefined),
    },
  ];
}

/** The latency goals (router / direct and router / floor, at most), by rate. */
const LATENCY_GOALS: Record<number, { p50?: number; p99?: number }> = { 40: { p50: 2, p99: 1.5 }, 200: { p99: 3 } };
const FLOOR_GOAL = 1.1;

/**
 * Send-to-receipt latency at fixed rates, through the router, the forwarding Worker and the floor; at the
 * first rate, where the p50 goes stage by stage (each stage's p50 at that rate, as a difference of the one
 * before: the Worker, the RPC to an object, the group commit's turn, then filter, lane and dispatch).
 * The three take turns in one-second blocks, in a rotating order, and each pools its blocks: on a shared
 * machine a slow spell then falls on all three alike instead of on whichever ran through it.
 */
export async function latency(b: Bench, rates: number[], seconds: number): Promise<Row[]> {
  const url = await brokerWithTriggers(b.rt.router, { broker: "latency", triggers: 1, subscriber: b.sink.url, path: "/latency" });
  const rows: Row[] = [];
  for (const perSecond of rates) {
    const block = async (target: string, tag: string, round: number) => {
      const ids = Array.from({ length: perSecond }, (_, i) => `${b.run}-lat-${tag}-${perSecond}-${round}-${i}`);
      const r = await openLoop({ perSecond, count: perSecond, request: (i) => ({ url: target, init: binaryEvent(ids[i]) }) });
      await waitFor(() => ids.every((id) => b.sink.receivedAt(id) !== undefined), DRAIN_MS);
      const lat = ids.flatMap((id, i) => {
        const at = b.sink.receivedAt(id);
        return at === undefined ? [] : [at - r.sentAt[i]];
      });
      return { lat, answers: r.latencies, lost: perSecond - lat.length, r };
    };
    const targets = [
      { tag: "direct", url: `${b.rt.forward}/direct/0` },
      { tag: "floor", url: `${b.rt.floor}/floorlat/0` },
      { tag: "router", url },
    ];
    const pooled = new Map(targets.map((t) => [t.tag, { lat: [] as number[], answers: [] as number[], lost: 0, failed: undefined as string | undefined }]));
    for (let round = 0; round < seconds; round++)
      for (let k = 0; k < targets.length; k++) {
        const t = targets[(round + k) % targets.length];
        const got = await block(t.url, t.tag, round);
        const into = pooled.get(t.tag)!;
        into.lat.push(...got.lat);
        into.answers.push(...got.answers);
        into.lost += got.lost;
        into.failed ??= failed(got.r);
      }
    const summary = (tag: string) => {
      const m = pooled.get(tag)!;
      return { p50: percentile(m.lat, 50), p99: percentile(m.lat, 99), answerP50: percentile(m.answers, 50), lost: m.lost, failed: m.failed };
    };
    const direct = summary("direct");
    const floor = summary("floor");
    const routed = summary("router");
    const note = routed.lost || direct.lost || floor.lost ? `not received: router ${routed.lost}, direct ${direct.lost}, floor ${floor.lost}` : routed.failed;
    const goals = LATENCY_GOALS[perSecond] ?? {};
    for (const p of ["p50", "p99"] as const) {
      const ratio = routed[p] / direct[p];
      const most = goals[p];
      rows.push({
        scenario: `e2e latency ${p} @ ${perSecond}/s`,
        unit: "ms",
        router: routed[p],
        baselineName: "forwarding Worker",
        baseline: direct[p],
        ratio,
        goal: most === undefined ? undefined : { text: `<= ${most}x direct`, met: ratio <= most },
        note,
      });
      const toFloor = routed[p] / floor[p];
      rows.push({
        scenario: `e2e latency ${p} @ ${perSecond}/s, against the floor`,
        unit: "ms",
        router: routed[p],
        baselineName: "floor",
        baseline: floor[p],
        ratio: toFloor,
        goal: { text: `<= ${FLOOR_GOAL}x floor`, met: toFloor <= FLOOR_GOAL },
      });
    }
    if (perSecond === rates[0]) rows.push(...(await stages(b, perSecond, seconds, routed, floor)));
  }
  return rows;
}

/** The p50 at `perSecond` of the answer to a request (no delivery). */
async function answerP50(perSecond: number, seconds: number, request: (i: number) => { url: string; init: RequestInit }, expect = 202): Promise<number> {
  return percentile((await openLoop({ perSecond, count: perSecond * seconds, request, expect })).latencies, 50);
}

/**
 * Where the send-to-subscriber p50 goes: a bare Worker's answer; an RPC to a Durable Object (the floor's
 * `/_rpc`, no storage); the group commit's turn (the 202 of a broker without triggers: RPC, the turn's end,
 * one transaction); what a matching trigger adds before the 202 (filter, lane, and the dispatch started in
 * the same turn: the 202 of the measured broker, less the one without triggers); and the rest up to the
 * subscriber's receipt (the output gate lets the 202 and the delivery's fetch go together). The floor's
 * own split beside it: its 202 (the insert made durable) and the rest to the receipt.
 */
async function stages(b: Bench, perSecond: number, seconds: number, routed: Answered, floor: Answered): Promise<Row[]> {
  const empty = await brokerWithTriggers(b.rt.router, { broker: "stages", triggers: 0, subscriber: b.sink.url, path: "/stages" });
  const worker = await answerP50(perSecond, seconds, (i) => ({ url: `${b.rt.bare}/stage`, init: binaryEvent(`${b.run}-stage-bare-${i}`) }));
  const rpc = await answerP50(perSecond, seconds, () => ({ url: `${b.rt.floor}/_rpc`, init: { method: "POST" } }));
  const commit = await answerP50(perSecond, seconds, (i) => ({ url: empty, init: binaryEvent(`${b.run}-stage-commit-${i}`) }));
  const stage = (name: string, ms: number, of: Answered, base: string): Row => ({
    scenario: `p50 stage @ ${perSecond}/s: ${name}`,
    unit: "ms",
    router: ms,
    baselineName: base,
    baseline: of.p50,
    ratio: ms / of.p50,
  });
  return [
    stage("Worker (bare Worker's answer)", worker, routed, "router p50, share"),
    stage("RPC to the partition object", rpc - worker, routed, "router p50, share"),
    stage("group commit's turn (202 of a broker without triggers, less the RPC)", commit - rpc, routed, "router p50, share"),
    stage("a matching trigger before the 202 (filter, lane, dispatch started)", routed.answerP50 - commit, routed, "router p50, share"),
    stage("after the 202 to the subscriber's receipt", routed.p50 - routed.answerP50, routed, "router p50, share"),
    stage("floor: its insert made durable (its 202, less the RPC)", floor.answerP50 - rpc, floor, "floor p50, share"),
    stage("floor: after its 202 to the subscriber's receipt", floor.p50 - floor.answerP50, floor, "floor p50, share"),
  ];
}

/** A latency measurement's p50s: to the subscriber's receipt, and of the 202. */
interface Answered {
  p50: number;
  answerP50: number;
}

/**
 * Delivered events/s to 1, 10 and 100 matching triggers, each against the 1-trigger rate, and workerd CPU
 * per event. The forwarding Worker does the same fan-out without storage (`?copies=N`: N fetches per
 * request), so each run also measures what one outgoing fetch costs and the ratio a router whose
 * deliveries cost nothing but their fetch could reach. All phases run in turn, FANOUT_ROUNDS times, and
 * each keeps its best round (highest rate, lowest CPU): a phase lasts seconds, and on a shared machine one
 * phase alone may catch a slow moment the others do not.
 */
const FANOUT_ROUNDS = 3;

interface FanoutPhase {
  kind: "router" | "forward";
  targets: number;
  events: number;
}

export async function fanout(b: Bench): Promise<Row[]> {
  const plan: FanoutPhase[] = [
    { kind: "router", targets: 0, events: 1000 },
    { kind: "router", targets: 1, events: 1000 },
    { kind: "router", targets: 10, events: 200 },
    { kind: "router", targets: 100, events: 30 },
    { kind: "forward", targets: 1, events: 1000 },
    { kind: "forward", targets: 10, events: 200 },
  ];
  const key = (p: FanoutPhase) => `${p.kind}${p.targets}`;
  const best = new Map<string, { rate: number; cpuMs: number; note?: string }>();
  const urls = new Map<string, string>();
  for (const p of plan)
    urls.set(
      key(p),
      p.kind === "forward"
        ? `${b.rt.forward}/fanfwd${p.targets}?copies=${p.targets}`
        : await brokerWithTriggers(b.rt.router, { broker: `fanout${p.targets}`, triggers: p.targets, subscriber: b.sink.url, path: `/fanout${p.targets}` }),
    );
  for (let round = 0; round < FANOUT_ROUNDS; round++) {
    for (const p of plan) {
      const path = p.kind === "forward" ? `/fanfwd${p.targets}` : `/fanout${p.targets}`;
      const before = sum(b.sink, path, p.targets);
      const cpu0 = cpuSeconds(b.rt.pid);
      const start = performance.now();
      const sent = await closedLoop({
        concurrency: 16,
        durationMs: 60_000,
        maxRequests: p.events,
        request: (i) => ({ url: urls.get(key(p))!, init: binaryEvent(`${b.run}-fan${key(p)}-${round}-${i}`) }),
      });
      const expected = sent.ok * p.targets;
      const got = (await drain(b, path, p.targets, before + expected)) - before;
      const cpuMs = ((cpuSeconds(b.rt.pid) - cpu0) * 1000) / sent.ok;
      const was = best.get(key(p));
      best.set(key(p), {
        rate: Math.max(rate(got, performance.now() - start), was?.rate ?? 0),
        cpuMs: Math.min(cpuMs, was?.cpuMs ?? Infinity),
        note: was?.note ?? failed(sent) ?? (got < expected ? `only ${got} of ${expected} delivered` : undefined),
      });
    }
  }
  const of = (kind: FanoutPhase["kind"], targets: number) => best.get(`${kind}${targets}`)!;
  const one = of("router", 1).rate;
  const rows: Row[] = plan
    .filter((p) => p.kind === "router" && p.targets > 0)
    .map(({ targets }) => {
      const m = of("router", targets);
      return {
        scenario: `fan-out to ${targets} trigger${targets > 1 ? "s" : ""}`,
        unit: "deliveries/s",
        router: m.rate,
        baselineName: "fan-out to 1 trigger",
        baseline: one,
        ratio: m.rate / one,
        goal: targets === 10 ? { text: ">= 3x 1-trigger", met: m.rate / one >= 3 } : undefined,
        note: m.note,
      };
    });
  // The model, CPU-bound on workerd's one thread: CPU per event is I + n*D for n deliveries (I: the ingest,
  // measured on a broker without triggers; D: a delivery), F an outgoing fetch (the forwarding Worker's
  // difference between 10 fetches per request and 1). Deliveries/s at n triggers are then n / (I + n*D).
  const ingestMs = of("router", 0).cpuMs;
  const perEvent1 = of("router", 1).cpuMs;
  const deliveryMs = (of("router", 10).cpuMs - ingestMs) / 10;
  const forwardOne = of("forward", 1);
  const forwardTen = of("forward", 10);
  const fetchMs = (forwardTen.cpuMs - forwardOne.cpuMs) / 9;
  // 10 triggers at 3x the 1-trigger rate: 10 / (I + 10*D) >= 3 / perEvent1.
  const deliveryFor3x = ((10 * perEvent1) / 3 - ingestMs) / 10;
  // The 1-trigger rate as it is, each of the 10 deliveries costing only its fetch.
  const ceiling = (10 * perEvent1) / (ingestMs + 10 * fetchMs);
  return [
    ...rows,
    {
      scenario: "fan-out to 10 targets without storage: the forwarding Worker, 10 fetches per request",
      unit: "deliveries/s",
      router: forwardTen.rate,
      baselineName: "forwarding Worker, 1 fetch per request",
      baseline: forwardOne.rate,
      ratio: forwardTen.rate / forwardOne.rate,
      note: forwardTen.note ?? forwardOne.note,
    },
    {
      scenario: "workerd CPU per delivery, 10 triggers (per event, less a broker without triggers, / 10)",
      unit: "ms/delivery",
      router: deliveryMs,
      baselineName: "an outgoing fetch (forwarding Worker: per request at 10 fetches less at 1, / 9)",
      baseline: fetchMs,
      ratio: deliveryMs / fetchMs,
    },
    {
      scenario: "workerd CPU per delivery, 1 trigger (per event, less a broker without triggers)",
      unit: "ms/delivery",
      router: perEvent1 - ingestMs,
      baselineName: "an outgoing fetch",
      baseline: fetchMs,
      ratio: (perEvent1 - ingestMs) / fetchMs,
    },
    {
      scenario: "workerd CPU per ingested event (a broker without triggers)",
      unit: "ms/event",
      router: ingestMs,
      baselineName: "an outgoing fetch",
      baseline: fetchMs,
      ratio: ingestMs / fetchMs,
      note: `3x the 1-trigger rate needs a delivery of at most ${deliveryFor3x.toFixed(2)} ms of CPU; deliveries costing only their fetch would give ${ceiling.toFixed(2)}x`,
    },
  ];
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
    const direct = await closedLoop({
      concurrency: parallelism,
      durationMs: 60_000,
      maxRequests: events,
      request: () => ({ url: `${b.rt.forward}${path}/direct`, init: binaryEvent(`${b.run}-slowdirect`) }),
    });
    const start = performance.now();
    const sent = await closedLoop({
      concurrency: 16,
      durationMs: 60_000,
      maxRequests: events,
      request: (i) => ({ url, init: binaryEvent(`${b.run}-slow${parallelism}-${i}`) }),
    });
    const got = await drain(b, path, 1, sent.ok);
    const routed = rate(got, performance.now() - start);
    const directRate = rate(direct.ok, direct.elapsedMs);
    rows.push({
      scenario: `slow subscriber (200 ms), parallelism ${parallelism}`,
      unit: "deliveries/s",
      router: routed,
      baselineName: `forwarding Worker, ${parallelism} concurrent`,
      baseline: directRate,
      ratio: routed / directRate,
      note: failed(sent),
    });
  }
  return rows;
}
