/**
 * Partitioned brokers (API.md §5): the same load into a broker of one partition and of four. What an
 * event costs, in SQLite rows written (what Durable Objects bill) and in runtime CPU, must not grow with
 * the partition count: an event touches only its own partition.
 */
import { readFileSync } from "node:fs";
import { closedLoop, waitFor } from "./load.ts";
import { ADMIN_TOKEN } from "./runtime.ts";
import type { Bench, Row } from "./scenarios.ts";
import { binaryEvent, brokerWithTriggers, NAMESPACE } from "./setup.ts";

const EVENTS = 2_000;
const DRAIN_MS = 120_000;

/** User plus system CPU seconds of a process so far (Linux /proc; clock ticks of 1/100 s). */
function cpuSeconds(pid: number | null): number {
  if (!pid) return NaN;
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** A broker's `edge_eventing_storage_rows_written_total`, summed over its partitions (NaN when not reported). */
export async function rowsWritten(router: string, broker: string): Promise<number> {
  const text = await (await fetch(`${router}/metrics`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).text();
  const series = text.split("\n").filter((l) => l.startsWith("edge_eventing_storage_rows_written_total{") && l.includes(`namespace="${NAMESPACE}"`) && l.includes(`broker="${broker}"`));
  return series.length === 0 ? NaN : series.reduce((n, l) => n + Number(l.slice(l.lastIndexOf(" ") + 1)), 0);
}

export async function partitions(b: Bench): Promise<Row[]> {
  const measured: { partitions: number; cpuMs: number; rows: number; note?: string }[] = [];
  for (const n of [1, 4]) {
    const path = `/partitions${n}`;
    const url = await brokerWithTriggers(b.rt.router, { broker: `partitions${n}`, triggers: 1, subscriber: b.sink.url, path, partitions: n });
    const rows0 = await rowsWritten(b.rt.router, `partitions${n}`);
    const cpu0 = cpuSeconds(b.rt.pid);
    const sent = await closedLoop({ concurrency: 16, durationMs: 60_000, maxRequests: EVENTS, request: (i) => ({ url, init: binaryEvent(`${b.run}-part${n}-${i}`) }) });
    await waitFor(() => b.sink.count(`${path}/0`) >= sent.ok, DRAIN_MS);
    const got = b.sink.count(`${path}/0`);
    const cpu = cpuSeconds(b.rt.pid) - cpu0;
    const rows = (await rowsWritten(b.rt.router, `partitions${n}`)) - (Number.isNaN(rows0) ? 0 : rows0);
    const failures = Object.keys(sent.failures).length ? `non-202 answers: ${JSON.stringify(sent.failures)}` : undefined;
    measured.push({ partitions: n, cpuMs: (cpu * 1000) / got, rows: rows / got, note: failures ?? (got < sent.ok ? `only ${got} of ${sent.ok} delivered` : undefined) });
  }
  const [one, four] = measured;
  const note = [one.note, four.note].filter(Boolean).join("; ") || undefined;
  return [
    { scenario: "CPU per event, 4 partitions", unit: "ms/event", router: four.cpuMs, baselineName: "1 partition", baseline: one.cpuMs, ratio: four.cpuMs / one.cpuMs, goal: { text: "<= 1.2x 1 partition", met: four.cpuMs / one.cpuMs <= 1.2 }, note },
    {
      scenario: "rows written per event, 4 partitions",
      unit: "rows/event",
      router: four.rows,
      baselineName: "1 partition",
      baseline: one.rows,
      ratio: four.rows / one.rows,
      goal: Number.isNaN(four.rows) ? undefined : { text: "<= 1x 1 partition", met: four.rows <= one.rows },
      note: Number.isNaN(four.rows) ? "the router reports no edge_eventing_storage_rows_written_total" : note,
    },
  ];
}
