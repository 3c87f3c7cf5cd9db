/**
 * Partitioned brokers (API.md §5): the same load per partition into a broker of one partition and of four
 * (16 closed-loop senders per partition: N partitions are there to take N times the load). What an event
 * costs, in SQLite rows written (what Durable Objects bill) and in runtime CPU, must not grow with the
 * partition count: an event touches only its own partition. (At the same total load, each of four
 * partitions would see a quarter of the concurrent events, and group commit shares a row only among the
 * events that reach one partition together.)
 */
import { closedLoop, waitFor } from "./load.ts";
import { cpuSeconds } from "./proc.ts";
import type { Bench, Row } from "./scenarios.ts";
import { binaryEvent, brokerWithTriggers, storageRows } from "./setup.ts";

/** Events per partition. */
const EVENTS = 2_000;
const SENDERS_PER_PARTITION = 16;
const DRAIN_MS = 120_000;

export async function partitions(b: Bench): Promise<Row[]> {
  const measured: { partitions: number; cpuMs: number; rows: number; note?: string }[] = [];
  for (const n of [1, 4]) {
    const path = `/partitions${n}`;
    const url = await brokerWithTriggers(b.rt.router, { broker: `partitions${n}`, triggers: 1, subscriber: b.sink.url, path, partitions: n });
    const rows0 = (await storageRows(b.rt.router, `partitions${n}`)).written;
    const cpu0 = cpuSeconds(b.rt.pid);
    const sent = await closedLoop({
      concurrency: SENDERS_PER_PARTITION * n,
      durationMs: 60_000,
      maxRequests: EVENTS * n,
      request: (i) => ({ url, init: binaryEvent(`${b.run}-part${n}-${i}`) }),
    });
    await waitFor(() => b.sink.count(`${path}/0`) >= sent.ok, DRAIN_MS);
    const got = b.sink.count(`${path}/0`);
    const cpu = cpuSeconds(b.rt.pid) - cpu0;
    const rows = (await storageRows(b.rt.router, `partitions${n}`)).written - (Number.isNaN(rows0) ? 0 : rows0);
    const failures = Object.keys(sent.failures).length ? `non-202 answers: ${JSON.stringify(sent.failures)}` : undefined;
    measured.push({
      partitions: n,
      cpuMs: (cpu * 1000) / got,
      rows: rows / got,
      note: failures ?? (got < sent.ok ? `only ${got} of ${sent.ok} delivered` : undefined),
    });
  }
  const [one, four] = measured;
  const note = [one.note, four.note].filter(Boolean).join("; ") || undefined;
  return [
    {
      scenario: "CPU per event, 4 partitions",
      unit: "ms/event",
      router: four.cpuMs,
      baselineName: "1 partition",
      baseline: one.cpuMs,
      ratio: four.cpuMs / one.cpuMs,
      goal: { text: "<= 1.2x 1 partition", met: four.cpuMs / one.cpuMs <= 1.2 },
      note,
    },
    {
      scenario: "rows written per event, 4 partitions",
      unit: "rows/event",
      router: four.rows,
      baselineName: "1 partition",
      baseline: one.rows,
      ratio: four.rows / one.rows,
      goal: Number.isNaN(four.rows) ? undefined : { text: "<= 1.05x 1 partition", met: four.rows / one.rows <= 1.05 },
      note: Number.isNaN(four.rows) ? "the router reports no edge_eventing_storage_rows_written_total" : note,
    },
  ];
}
