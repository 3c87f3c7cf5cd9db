/**
 * `npm run bench`: the router against its baselines on one local runtime. Prints a table, writes
 * bench/results.json and docs/BENCHMARKS.md (with the analysis kept in bench/limits.md).
 * `npm run bench -- NAME...` runs only the named scenarios and prints their rows, writing nothing.
 * Bounded: every load phase stops at a request count or a duration, every wait has a timeout.
 */
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { type CostMeasured, costSection, measureCost } from "./cost.ts";
import { measureFilters } from "./filters.ts";
import { residentMiB } from "./proc.ts";
import { markdown, type Machine, type Results, table } from "./report.ts";
import { ROOT, startRuntime } from "./runtime.ts";
import { partitions } from "./partitions.ts";
import { history } from "./history.ts";
import { rateLimit } from "./flow-control.ts";
import { fanout, ingress, latency, type Row, slowSubscriber } from "./scenarios.ts";
import { startSink } from "./sink.ts";
import { transform } from "./transform.ts";
import { requestReply } from "./request-reply.ts";

const LATENCY_RATES = [40, 200];
const LATENCY_SECONDS = 5;

function machine(): Machine {
  const version = (pkg: string) => JSON.parse(readFileSync(join(ROOT, "node_modules", pkg, "package.json"), "utf8")).version as string;
  return {
    cpus: os.availableParallelism(),
    cpuModel: os.cpus()[0]?.model ?? "unknown",
    memoryGiB: os.totalmem() / 2 ** 30,
    node: process.version,
    workerd: execFileSync(join(ROOT, "node_modules/.bin/workerd"), ["--version"], { encoding: "utf8" })
      .trim()
      .replace(/^workerd /, ""),
    wrangler: version("wrangler"),
    os: `${os.type()} ${os.release()}`,
  };
}

const only = process.argv.slice(2);
const sink = await startSink();
const rt = await startRuntime({ subscriberUrl: sink.url });
const bench = { rt, sink, run: `r${Date.now().toString(36)}` };
const idle = rt.pid ? residentMiB(rt.pid).rss : NaN;
const rows: Row[] = [];
let cost: CostMeasured[] = [];
let peak = NaN;
try {
  for (const [name, scenario] of [
    ["ingress", () => ingress(bench)],
    ["latency", () => latency(bench, LATENCY_RATES, LATENCY_SECONDS)],
    ["fan-out", () => fanout(bench)],
    ["slow subscriber", () => slowSubscriber(bench)],
    ["partitions", () => partitions(bench)],
    ["transform", () => transform(bench)],
    ["history", () => history(bench)],
    ["rate limit", () => rateLimit(bench)],
    ["request-reply", () => requestReply(bench)],
  ] as const) {
    if (only.length > 0 && !only.includes(name)) continue;
    process.stderr.write(`bench: ${name}...\n`);
    rows.push(...(await scenario()));
  }
  if (only.length === 0) {
    process.stderr.write("bench: cost per event...\n");
    cost = await measureCost(bench);
  }
} finally {
  peak = rt.pid ? residentMiB(rt.pid).peak : NaN;
  await rt.dispose();
  await sink.close();
}
if (only.length > 0) {
  for (const r of rows)
    console.log(
      `${r.scenario}: ${r.router.toFixed(2)} ${r.unit}, ${r.baselineName} ${r.baseline}, ratio ${r.ratio.toFixed(3)}x${r.goal ? `, goal ${r.goal.met ? "met" : "MISSED"} (${r.goal.text})` : ""}${r.note ? ` (${r.note})` : ""}`,
    );
  process.exit(0);
}
process.stderr.write("bench: filters...\n");
const results: Results = {
  at: new Date().toISOString(),
  command: "npm run bench",
  machine: machine(),
  rows,
  cost,
  filters: measureFilters(),
  memory: { idleMiB: idle, peakMiB: peak },
};
console.log(table(results));
writeFileSync(join(ROOT, "bench/results.json"), `${JSON.stringify(results, null, 2)}\n`);
writeFileSync(join(ROOT, "docs/BENCHMARKS.md"), markdown(results, costSection(cost), readFileSync(join(ROOT, "bench/limits.md"), "utf8").trim()));
