/**
 * Evaluations per second of compiled filters on one typical event: Knative's exact and prefix, a
 * 5-clause all/any tree, a CESQL and a CEL expression through shared/filters, and the same CEL expression
 * on raw @marcbachmann/cel-js with a prepared context (the baseline: what our `event` view adds on top of
 * the library). Goals: CEL within 5% of raw whether it is the first CEL filter on an event or shares
 * the event's view (issue 27), CESQL at least as fast as CEL, exact/prefix in the millions per second.
 * Run: `npm run bench:filters`; `npm run bench` includes the same rows.
 */
import { Environment } from "@marcbachmann/cel-js";
import type { CloudEvent } from "../shared/cloudevents/event.ts";
import { compileCel } from "../shared/filters/cel.ts";
import { compileCesql } from "../shared/filters/cesql/index.ts";
import { compileTriggerFilter, type TriggerFilterSpec } from "../shared/filters/knative.ts";

const EVENT: CloudEvent = {
  attributes: {
    specversion: "1.0",
    id: "6f1c8a2e-1f4b-4d7e-9a51-3c2b7d9e0f11",
    source: "/shop/orders",
    type: "com.example.order.created",
    subject: "order-1234",
    time: "2026-05-01T12:00:00Z",
    datacontenttype: "application/json",
    priority: 20,
    region: "eu-west",
  },
  data: { kind: "json", json: '{"count": 7, "customer": {"tier": "gold"}}' },
};

const CESQL = "type LIKE 'com.example.%' AND source = '/shop/orders' AND priority > 10 AND region IN ('eu-west', 'eu-north')";
const CEL = 'event.type.startsWith("com.example.") && event.source == "/shop/orders" && event.priority > 10 && event.region in ["eu-west", "eu-north"]';

/**
 * Evaluations per second of each function: `rounds` timed rounds of `iterations` calls each, after one
 * warm-up round; the best round counts. Rounds are interleaved (every function's round 1, then every
 * function's round 2...), so that no row is measured in a JIT state or a machine load the others never saw.
 */
function measureInterleaved(fns: (() => unknown)[], iterations = 50_000, rounds = 20): number[] {
  const best = fns.map(() => Infinity);
  for (let round = 0; round <= rounds; round++) {
    fns.forEach((fn, i) => {
      let sink = 0;
      const start = performance.now();
      for (let n = 0; n < iterations; n++) if (fn() === true) sink++;
      const ms = performance.now() - start;
      if (sink === 0) throw new Error(`benchmark row ${i} did not match the event`);
      if (round > 0) best[i] = Math.min(best[i], ms);
    });
  }
  return best.map((ms) => (iterations / ms) * 1000);
}

const EXACT: TriggerFilterSpec = { filters: [{ exact: { type: "com.example.order.created" } }] };
const PREFIX: TriggerFilterSpec = { filters: [{ prefix: { type: "com.example." } }] };
const TREE: TriggerFilterSpec = {
  filters: [
    {
      all: [
        { prefix: { type: "com.example." } },
        { exact: { source: "/shop/orders" } },
        { any: [{ exact: { region: "eu-west" } }, { exact: { region: "eu-north" } }] },
        { not: { suffix: { subject: "-test" } } },
      ],
    },
  ],
};

function knative(spec: TriggerFilterSpec): () => boolean {
  const c = compileTriggerFilter(spec);
  if ("causes" in c) throw new Error(c.causes[0].message);
  return () => c.filter(EVENT) === "pass";
}

function compiled<T>(result: { program: T } | { error: { message: string } }): T {
  if ("error" in result) throw new Error(result.error.message);
  return result.program;
}

/** The verdict on a row's goal against the raw cel-js rate, or "" for a row without one. */
export function filterGoal(row: FilterRow, rawRate: number): string {
  if (row.goal === undefined) return "";
  return `${row.evalsPerSecond / rawRate >= row.goal ? "met" : "MISSED"} (>= ${row.goal}x raw cel-js)`;
}

export interface FilterRow {
  name: string;
  expression: string;
  evalsPerSecond: number;
  /** The least rate, as a ratio to raw cel-js, this row must reach. */
  goal?: number;
}

/** The rows, the last being the raw cel-js baseline the others are compared with. */
export function measureFilters(): FilterRow[] {
  const cesql = compiled(compileCesql(CESQL));
  const cel = compiled(compileCel(CEL));
  const scratch = {};
  // The baseline is cel-js at its fastest: parsed and type-checked once (so evaluations skip the
  // per-call check), on a context built once, outside the timed loop.
  const raw = new Environment().registerVariable("event", "map").parse(CEL);
  if (!raw.check().valid) throw new Error("baseline expression does not check");
  const rawContext = {
    event: Object.fromEntries(Object.entries(EVENT.attributes).map(([k, v]) => [k, typeof v === "number" ? BigInt(v) : v])),
  };
  const rows: [string, string, () => unknown, number?][] = [
    ["exact (Knative)", JSON.stringify(EXACT.filters), knative(EXACT)],
    ["prefix (Knative)", JSON.stringify(PREFIX.filters), knative(PREFIX)],
    ["all/any tree, 5 clauses", JSON.stringify(TREE.filters), knative(TREE)],
    ["CESQL (shared/filters/cesql)", CESQL, () => cesql.evaluate(EVENT).value],
    // A broker builds the CEL view of an event once and shares it with every CEL trigger on that event.
    ["CEL filter, first on an event", CEL, () => cel.matches(EVENT), 0.95],
    ["CEL filter, view shared", CEL, () => cel.matches(EVENT, scratch), 0.95],
    ["CEL baseline (raw cel-js)", CEL, () => raw(rawContext)],
  ];
  const rates = measureInterleaved(rows.map(([, , fn]) => fn));
  return rows.map(([name, expression, , goal], i) => ({ name, expression, evalsPerSecond: rates[i], goal }));
}

if (import.meta.main) {
  const rows = measureFilters();
  const baseline = rows[rows.length - 1].evalsPerSecond;
  console.log(`Node ${process.version}, ${rows.length} filters, best of 20 rounds x 50,000 evaluations\n`);
  console.log(`${"filter".padEnd(30)} ${"evals/s".padStart(12)} ${"ns/eval".padStart(8)} ${"vs raw cel-js".padStart(14)}`);
  for (const row of rows) {
    const rate = row.evalsPerSecond;
    console.log(
      `${row.name.padEnd(30)} ${Math.round(rate).toLocaleString("en-US").padStart(12)} ${(1e9 / rate).toFixed(0).padStart(8)} ${`${(rate / baseline).toFixed(2)}x`.padStart(14)} ${filterGoal(row, baseline)}`,
    );
  }
  for (const { name, expression } of rows) console.log(`${name}: ${expression}`);
}
