/**
 * What a million events cost on Cloudflare, from figures measured in this run: SQLite rows written and
 * read per event (the broker's own `edge_eventing_storage_rows_*_total`, summed from `cursor.rowsWritten`
 * and `cursor.rowsRead`), workerd CPU per event (/proc), and the sustained rate (for object duration).
 * The price list and the requests per event are stated, not measured, and the two tables keep the
 * measured and the computed figures apart.
 */
import { closedLoop, waitFor } from "./load.ts";
import { cpuSeconds } from "./proc.ts";
import type { Bench } from "./scenarios.ts";
import { binaryEvent, brokerWithTriggers, storageRows } from "./setup.ts";

export interface CostMeasured {
  triggers: number;
  events: number;
  rowsWrittenPerEvent: number;
  rowsReadPerEvent: number;
  cpuMsPerEvent: number;
  /** Events per second stored and delivered by the one broker object. */
  eventsPerSecond: number;
}

/**
 * Cloudflare's published prices, Workers Paid (developers.cloudflare.com/workers/platform/pricing and
 * /durable-objects/platform/pricing, read 2026-12-05), beyond the included monthly amounts.
 */
export const PRICES = {
  workerRequest: 0.3 / 1e6,
  workerCpuMs: 0.02 / 1e6,
  objectRequest: 0.15 / 1e6,
  /** Duration is wall-clock while active, at 128 MB per object. */
  objectGbSecond: 12.5 / 1e6,
  rowWritten: 1.0 / 1e6,
  rowRead: 0.001 / 1e6,
} as const;
const OBJECT_GB = 0.128;

/** Peers' published prices, per million events (read 2026-12-05). */
const PEERS = [
  "AWS EventBridge: $1.00 per million custom events published (aws.amazon.com/eventbridge/pricing); each target invocation of an API destination is $0.20 per million more",
  "Upstash QStash: $1 per 100,000 messages on pay-as-you-go ($10 per million; upstash.com/pricing/qstash); a fan-out to 10 URLs is 10 messages",
];

const DRAIN_MS = 120_000;

export async function measureCost(b: Bench): Promise<CostMeasured[]> {
  const out: CostMeasured[] = [];
  for (const { triggers, events } of [
    { triggers: 1, events: 1_000 },
    { triggers: 10, events: 200 },
  ]) {
    const broker = `cost${triggers}`;
    const path = `/cost${triggers}`;
    const url = await brokerWithTriggers(b.rt.router, { broker, triggers, subscriber: b.sink.url, path });
    const before = await storageRows(b.rt.router, broker);
    const cpu0 = cpuSeconds(b.rt.pid);
    const start = performance.now();
    const sent = await closedLoop({
      concurrency: 16,
      durationMs: 60_000,
      maxRequests: events,
      request: (i) => ({ url, init: binaryEvent(`${b.run}-cost${triggers}-${i}`) }),
    });
    const delivered = () => Array.from({ length: triggers }, (_, i) => b.sink.count(`${path}/${i}`)).reduce((a, n) => a + n, 0);
    await waitFor(() => delivered() >= sent.ok * triggers, DRAIN_MS);
    const seconds = (performance.now() - start) / 1000;
    const cpuMs = (cpuSeconds(b.rt.pid) - cpu0) * 1000;
    const after = await storageRows(b.rt.router, broker);
    out.push({
      triggers,
      events: sent.ok,
      rowsWrittenPerEvent: (after.written - before.written) / sent.ok,
      rowsReadPerEvent: (after.read - before.read) / sent.ok,
      cpuMsPerEvent: cpuMs / sent.ok,
      eventsPerSecond: sent.ok / seconds,
    });
  }
  return out;
}

/** Dollars per million events, by line. Object requests: the ingest call, plus at most one dispatcher call per delivery. */
export function costPerMillion(m: CostMeasured): { lines: Record<string, number>; total: number } {
  const lines: Record<string, number> = {
    "Worker requests (1 per event)": 1e6 * PRICES.workerRequest,
    "Worker CPU (all workerd CPU counted as billed CPU)": 1e6 * m.cpuMsPerEvent * PRICES.workerCpuMs,
    "object requests (the ingest, and at most one dispatcher call per delivery)": 1e6 * (1 + m.triggers) * PRICES.objectRequest,
    "object duration (busy at the measured rate)": (1e6 / m.eventsPerSecond) * OBJECT_GB * PRICES.objectGbSecond,
    "SQLite rows written": 1e6 * m.rowsWrittenPerEvent * PRICES.rowWritten,
    "SQLite rows read": 1e6 * m.rowsReadPerEvent * PRICES.rowRead,
  };
  return { lines, total: Object.values(lines).reduce((a, b) => a + b, 0) };
}

const money = (v: number) => (v >= 1 ? `$${v.toFixed(2)}` : `$${v.toFixed(3)}`);

export function costSection(measured: CostMeasured[]): string {
  const costs = measured.map(costPerMillion);
  const names = Object.keys(costs[0].lines);
  const head = measured.map((m) => `${m.triggers} trigger${m.triggers > 1 ? "s" : ""}`);
  return `## Cost per event

Measured in this run (16 closed-loop senders, one broker object, every delivery received):

| per event | ${head.join(" | ")} |
| --- | ${head.map(() => "---").join(" | ")} |
| SQLite rows written | ${measured.map((m) => m.rowsWrittenPerEvent.toFixed(1)).join(" | ")} |
| SQLite rows read | ${measured.map((m) => m.rowsReadPerEvent.toFixed(1)).join(" | ")} |
| workerd CPU, ms | ${measured.map((m) => m.cpuMsPerEvent.toFixed(2)).join(" | ")} |
| events/s, stored and delivered | ${measured.map((m) => m.eventsPerSecond.toFixed(0)).join(" | ")} |

Computed from those figures and Cloudflare's published prices (Workers Paid, beyond the included amounts;
${Object.entries(PRICES)
  .map(([k, v]) => `${k} $${+(v * 1e6).toPrecision(3)}/M`)
  .join(", ")}), per million events:

| line | ${head.join(" | ")} |
| --- | ${head.map(() => "---").join(" | ")} |
${names.map((n) => `| ${n} | ${costs.map((c) => money(c.lines[n])).join(" | ")} |`).join("\n")}
| **total** | ${costs.map((c) => `**${money(c.total)}**`).join(" | ")} |

For comparison: ${PEERS.join("; ")}.
`;
}
