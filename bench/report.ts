/** The benchmark's outputs: a terminal table, bench/results.json and docs/BENCHMARKS.md. */
import { type FilterRow, filterGoal } from "./filters.ts";
import type { CostMeasured } from "./cost.ts";
import type { Row } from "./scenarios.ts";

export interface Machine {
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  node: string;
  workerd: string;
  wrangler: string;
  os: string;
}

export interface Results {
  at: string;
  command: string;
  machine: Machine;
  rows: Row[];
  cost: CostMeasured[];
  filters: FilterRow[];
  memory: { idleMiB: number; peakMiB: number };
}

const num = (v: number) => (Number.isFinite(v) ? (v >= 100 ? Math.round(v).toLocaleString("en-US") : v.toFixed(1)) : "n/a");
const goal = (r: Row) => (r.goal ? `${r.goal.met ? "met" : "MISSED"} (${r.goal.text})` : "");

function cells(r: Row): string[] {
  return [r.scenario, `${num(r.router)} ${r.unit}`, `${num(r.baseline)} (${r.baselineName})`, `${r.ratio.toFixed(2)}x`, goal(r)];
}

export function table(res: Results): string {
  const head = ["scenario", "router", "baseline", "ratio", "goal"];
  const body = res.rows.map(cells);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((c) => c[i].length)));
  const line = (c: string[]) => c.map((v, i) => v.padEnd(widths[i])).join("  ");
  const filterBase = res.filters[res.filters.length - 1].evalsPerSecond;
  return [
    line(head),
    line(widths.map((w) => "-".repeat(w))),
    ...body.map(line),
    ...res.rows.filter((r) => r.note).map((r) => `note, ${r.scenario}: ${r.note}`),
    "",
    ...res.filters.map(
      (f) => `filter ${f.name}: ${num(f.evalsPerSecond)} evals/s (${(f.evalsPerSecond / filterBase).toFixed(2)}x raw cel-js) ${filterGoal(f, filterBase)}`,
    ),
    ...res.cost.map(
      (c) =>
        `cost, ${c.triggers} trigger(s): ${c.rowsWrittenPerEvent.toFixed(1)} rows written, ${c.rowsReadPerEvent.toFixed(1)} rows read, ${c.cpuMsPerEvent.toFixed(2)} ms CPU per event, ${c.eventsPerSecond.toFixed(0)} events/s`,
    ),
    `runtime memory (workerd RSS): ${res.memory.idleMiB.toFixed(0)} MiB idle after start, ${res.memory.peakMiB.toFixed(0)} MiB peak`,
  ].join("\n");
}

export function markdown(res: Results, cost: string, limits: string): string {
  const m = res.machine;
  const filterBase = res.filters[res.filters.length - 1].evalsPerSecond;
  return `# Benchmarks

Figures of the last run of \`${res.command}\` (${res.at}). Every router figure has a baseline measured in
the same run on the same local runtime (one workerd, started by Miniflare with the \`wrangler deploy\`
bundle): a bare Worker that reads the body and answers 202, a Worker that forwards the request
straight to the subscriber, and the floor: the smallest durable store-and-forward (one Durable Object that
inserts a row before answering 202 and deletes it after the subscriber's 2xx, bench/baselines/floor.ts).
Local workerd on a small machine: read the ratios, not the absolute numbers.

Machine: ${m.cpus} CPUs (${m.cpuModel}), ${m.memoryGiB.toFixed(1)} GiB memory, ${m.os}; Node ${m.node}, workerd ${m.workerd}, wrangler ${m.wrangler}.

| scenario | router | baseline | ratio | goal |
| --- | --- | --- | --- | --- |
${res.rows.map((r) => `| ${cells(r).join(" | ")} |`).join("\n")}

${res.rows
  .filter((r) => r.note)
  .map((r) => `- ${r.scenario}: ${r.note}`)
  .join("\n")}

Filter evaluation (one typical event, compiled once; \`npm run bench:filters\` runs only this):

| filter | evals/s | vs raw cel-js | goal |
| --- | --- | --- | --- |
${res.filters.map((f) => `| ${f.name} | ${num(f.evalsPerSecond)} | ${(f.evalsPerSecond / filterBase).toFixed(2)}x | ${filterGoal(f, filterBase)} |`).join("\n")}

Runtime memory (workerd resident set, router and the baselines in one process): ${res.memory.idleMiB.toFixed(0)} MiB idle
after start, ${res.memory.peakMiB.toFixed(0)} MiB peak over the whole run.

${cost}
## What limits the figures

${limits}
`;
}
