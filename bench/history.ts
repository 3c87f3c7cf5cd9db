/**
 * Event history and replay (API.md §6): what retention costs at ingress and in storage, and a replay's
 * throughput while live traffic flows on the same broker, against that live traffic's latency without one.
 */
import { closedLoop, openLoop, percentile, waitFor } from "./load.ts";
import { writeFileSync } from "node:fs";
import { correlate, GC_TRACE_PORT, HEAP_SNAPSHOT_AT_MS, heapSnapshot, monotonic, profileRouter } from "./gc-trace.ts";
import { ADMIN_TOKEN } from "./runtime.ts";
import type { Bench, Row } from "./scenarios.ts";
import { batchEvents, binaryEvent, brokerWithTriggers, NAMESPACE, storageRows } from "./setup.ts";

const INGRESS = { concurrency: 32, durationMs: 5_000, maxRequests: 20_000 };
/** Events a replay sends again (each partition queues them 100 at a time, whatever the total); BENCH_REPLAY_EVENTS scales it down for a quick run. */
const REPLAY_EVENTS = Number(process.env.BENCH_REPLAY_EVENTS ?? 100_000);
const LIVE = { perSecond: 50, seconds: 10 };
const DRAIN_MS = 900_000;
/** Issue 27: live p99 during a replay within 1.5x of without; a replay at 5x the 110 deliveries/s. */
const REPLAY_GOALS = { liveP99Ratio: 1.5, replayPerSecond: 550 };
const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };

export async function history(b: Bench): Promise<Row[]> {
  return [...(await retentionCost(b)), ...(await replayBesideLive(b))];
}

/** Single-event ingress and rows written per delivered event, retention PT24H against PT0S, alternated three times. */
async function retentionCost(b: Bench): Promise<Row[]> {
  const brokers = { off: "retain-off", on: "retain-on" } as const;
  const rates = { off: [] as number[], on: [] as number[] };
  const sent = { off: 0, on: 0 };
  const urls = { off: "", on: "" };
  for (const which of ["off", "on"] as const) {
    urls[which] = await brokerWithTriggers(b.rt.router, {
      broker: brokers[which],
      triggers: 1,
      subscriber: b.sink.url,
      path: `/${brokers[which]}`,
      annotations: { "edge-eventing.dev/retention": which === "on" ? "PT24H" : "PT0S" },
    });
  }
  const rowsWritten = async (broker: string) => (await storageRows(b.rt.router, broker)).written;
  const rows0 = { off: await rowsWritten(brokers.off), on: await rowsWritten(brokers.on) };
  for (const which of ["off", "on", "on", "off", "off", "on"] as const) {
    const r = await closedLoop({ ...INGRESS, request: (i) => ({ url: urls[which], init: binaryEvent(`${b.run}-${which}-${sent[which] + i}`) }) });
    rates[which].push((r.ok / r.elapsedMs) * 1000);
    sent[which] += r.ok;
    await waitFor(() => b.sink.count(`/${brokers[which]}/0`) >= sent[which], DRAIN_MS);
  }
  await new Promise((r) => setTimeout(r, 6_000)); // counters and attempt records are written within 5 s
  const rows1 = { off: await rowsWritten(brokers.off), on: await rowsWritten(brokers.on) };
  const perEvent = (which: "off" | "on") => (rows1[which] - (Number.isNaN(rows0[which]) ? 0 : rows0[which])) / sent[which];
  const mean = (xs: number[]) => xs.reduce((a, c) => a + c, 0) / xs.length;
  const on = mean(rates.on);
  const off = mean(rates.off);
  const bytes = await retainedBytes(b.rt.router, brokers.on);
  return [
    {
      scenario: "single-event ingress, retention PT24H",
      unit: "events/s",
      router: on,
      baselineName: "retention PT0S",
      baseline: off,
      ratio: on / off,
      goal: { text: ">= 0.9x PT0S", met: on / off >= 0.9 },
    },
    {
      scenario: "rows written per delivered event, retention PT24H",
      unit: "rows/event",
      router: perEvent("on"),
      baselineName: "retention PT0S",
      baseline: perEvent("off"),
      ratio: perEvent("on") / perEvent("off"),
      note: `+1 row per event when it expires (not yet counted); about ${bytes} bytes kept per event (its JSON and its history)`,
    },
  ];
}

/** What one retained event takes in SQLite: its structured JSON and its compact history (one trigger, one attempt). */
async function retainedBytes(router: string, broker: string): Promise<number> {
  const r = await fetch(`${router}/apis/edge-eventing.dev/v1alpha1/namespaces/${NAMESPACE}/brokers/${broker}/events?limit=1`, { headers: auth });
  const [item] = (
    (await r.json()) as {
      items: { event: unknown; deliveries: { trigger: string; state: string; attempts: { at: string; status: number; durationMs: number }[] }[] }[];
    }
  ).items;
  const compact = Object.fromEntries(
    item.deliveries.map((d) => [d.trigger, { s: d.state, a: d.attempts.map((a) => [Date.parse(a.at), a.status, a.durationMs, null]) }]),
  );
  return JSON.stringify(item.event).length + JSON.stringify(compact).length + 8 + 8; // + seq and arrival time
}

/**
 * Live events' send-to-receipt latency at LIVE rate on a broker with nothing queued; then the broker is
 * filled with REPLAY_EVENTS events (delivered before going on), and the same live load runs while a
 * Replay sends every retained event again; and the replay's rate.
 */
async function replayBesideLive(b: Bench): Promise<Row[]> {
  const path = "/replayed";
  const url = await brokerWithTriggers(b.rt.router, {
    broker: "replayed",
    triggers: 1,
    subscriber: b.sink.url,
    path,
    annotations: { "edge-eventing.dev/retention-limit": String(REPLAY_EVENTS) },
  });
  const live = async (tag: string) => {
    const ids = Array.from({ length: LIVE.perSecond * LIVE.seconds }, (_, i) => `${b.run}-live-${tag}-${i}`);
    const profile = GC_TRACE_PORT === undefined || HEAP_SNAPSHOT_AT_MS !== undefined ? undefined : await profileRouter(GC_TRACE_PORT);
    const r = await openLoop({ perSecond: LIVE.perSecond, count: ids.length, request: (i) => ({ url, init: binaryEvent(ids[i]) }) });
    await waitFor(() => ids.every((id) => b.sink.receivedAt(id) !== undefined), DRAIN_MS);
    if (profile) {
      const { pauses, profile: samples } = await profile.stop();
      const events = ids.flatMap((id, i) =>
        b.sink.receivedAt(id) === undefined ? [] : [{ sent: monotonic(r.sentAt[i]), received: monotonic(b.sink.receivedAt(id)!) }],
      );
      process.stderr.write(`gc trace, live ${tag}: ${correlate(events, pauses)}\n`);
      writeFileSync(`/tmp/gc-trace-${b.run}-${tag}.json`, JSON.stringify({ events, pauses, samples }));
    }
    const lat = ids.flatMap((id, i) => (b.sink.receivedAt(id) === undefined ? [] : [b.sink.receivedAt(id)! - r.sentAt[i]]));
    return { p99: percentile(lat, 99), lost: ids.length - lat.length, count: ids.length };
  };
  const alone = await live("alone");
  const fill = await closedLoop({
    concurrency: 4,
    durationMs: DRAIN_MS,
    maxRequests: REPLAY_EVENTS / 100,
    request: (i) => ({ url, init: batchEvents(`${b.run}-fill-${i}`, 100) }),
  });
  const filled = alone.count + fill.ok * 100;
  await waitFor(() => b.sink.count(`${path}/0`) >= filled, DRAIN_MS);
  const before = b.sink.count(`${path}/0`);
  const started = performance.now();
  const created = await fetch(`${b.rt.router}/apis/edge-eventing.dev/v1alpha1/namespaces/${NAMESPACE}/replays`, {
    method: "POST",
    headers: { ...auth, "content-type": "application/json" },
    body: JSON.stringify({
      apiVersion: "edge-eventing.dev/v1alpha1",
      kind: "Replay",
      metadata: { name: "bench" },
      spec: { broker: "replayed", from: "2000-01-01T00:00:00Z" },
    }),
  });
  if (created.status !== 201) throw new Error(`replay: ${created.status} ${await created.text()}`);
  const port = GC_TRACE_PORT;
  if (port !== undefined && HEAP_SNAPSHOT_AT_MS !== undefined)
    setTimeout(() => void heapSnapshot(port, `/tmp/heap-${b.run}.heapsnapshot`), HEAP_SNAPSHOT_AT_MS);
  const during = await live("during");
  // The replay's end is its status's (the retention cap may keep fewer events than were filled, so a count
  // of deliveries alone can wait for ones that will never come).
  const status = `${b.rt.router}/apis/edge-eventing.dev/v1alpha1/namespaces/${NAMESPACE}/replays/bench`;
  let ended = { delivered: 0, done: false };
  while (!ended.done && performance.now() - started < DRAIN_MS) {
    const s = ((await (await fetch(status, { headers: auth })).json()) as { status?: { delivered?: number; conditions?: { reason: string }[] } }).status;
    ended = { delivered: s?.delivered ?? 0, done: !!s?.conditions?.length && s.conditions[0].reason !== "Running" };
    if (!ended.done) await new Promise((ok) => setTimeout(ok, 100));
  }
  const replayed = ended.delivered;
  const replayRate = (replayed / (performance.now() - started)) * 1000;
  const drained = before >= filled ? "" : `; the fill was not delivered within ${DRAIN_MS} ms (${before} of ${filled})`;
  const note =
    (alone.lost || during.lost
      ? `live events not received: ${alone.lost} alone, ${during.lost} during`
      : `${replayed} of ${filled} replayed; replay rate ${Math.round(replayRate)} deliveries/s with live traffic at ${LIVE.perSecond}/s`) + drained;
  return [
    {
      scenario: `live p99 during a ${filled}-event replay`,
      unit: "ms",
      router: during.p99,
      baselineName: "live p99 without replay",
      baseline: alone.p99,
      ratio: during.p99 / alone.p99,
      goal: { text: "<= 1.5x", met: during.p99 / alone.p99 <= REPLAY_GOALS.liveP99Ratio },
      note,
    },
    {
      scenario: "replay throughput beside live traffic",
      unit: "deliveries/s",
      router: replayRate,
      baselineName: "batch ingress fill rate",
      baseline: (fill.ok * 100 * 1000) / fill.elapsedMs,
      ratio: replayRate / ((fill.ok * 100 * 1000) / fill.elapsedMs),
      goal: { text: `>= ${REPLAY_GOALS.replayPerSecond} deliveries/s (5x the issue's 110/s)`, met: replayRate >= REPLAY_GOALS.replayPerSecond },
      note: "the goal is on the absolute rate; main measured about 737/s before the replay lane (a row per replay delivery)",
    },
  ];
}
