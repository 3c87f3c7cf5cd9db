/**
 * `edge-eventing autoscale decide --input FILE` replays observations through the KPA decider and
 * prints one result per observation. `autoscale simulate --input FILE [--scaled-object FILE] [--plot]`
 * replays a traffic trace through a ScaledObject (inline, or the manifest file the router is given)
 * and prints the replica curve. FILE `-` reads stdin; JSON or YAML.
 */
import { parse as parseYaml, parseAllDocuments } from "yaml";
import { runDecisions, validateDecideInput, type DecideInput } from "../../shared/autoscaling/decide-input.ts";
import { deciderSpecFrom, InvalidScaledObjectError } from "../../shared/autoscaling/scaled-object.ts";
import { simulate, type SimulationInput, type SimulationRow } from "../../shared/autoscaling/simulate.ts";
import { nodeIO, type CliIO } from "./io.ts";

const USAGE = `usage: edge-eventing autoscale decide --input FILE
       edge-eventing autoscale simulate --input FILE [--scaled-object FILE] [--plot]
FILE is JSON or YAML; - reads stdin. See docs/AUTOSCALING.md.
`;

export async function autoscale(args: string[], io: CliIO = nodeIO): Promise<number> {
  const [sub, ...rest] = args;
  const options = sub === "simulate" ? ["--input", "--scaled-object"] : ["--input"];
  const value = (name: string) => (rest.indexOf(name) >= 0 ? rest[rest.indexOf(name) + 1] : undefined);
  const path = value("--input");
  const manifestPath = value("--scaled-object");
  const known = new Set(options.flatMap((o) => (rest.includes(o) ? [rest.indexOf(o), rest.indexOf(o) + 1] : [])));
  const unknown = rest.filter((a, i) => !known.has(i) && !(sub === "simulate" && a === "--plot"));
  if ((sub !== "decide" && sub !== "simulate") || !path || (rest.includes("--scaled-object") && !manifestPath) || unknown.length > 0) {
    io.err(USAGE);
    return 2;
  }
  let input: unknown;
  let reading = path;
  try {
    input = parseYaml(await io.read(path));
    if (manifestPath) {
      reading = manifestPath;
      input = { ...(typeof input === "object" && input !== null ? input : {}), scaledObject: scaledObjectIn(await io.read(manifestPath)) };
    }
  } catch (e) {
    io.err(`cannot read ${reading}: ${(e as Error).message}\n`);
    return 1;
  }
  if (sub === "decide") {
    const errors = validateDecideInput(input);
    if (errors.length > 0) {
      for (const e of errors) io.err(`${e.field}: ${e.message}\n`);
      return 1;
    }
    io.out(`${JSON.stringify(runDecisions(input as DecideInput))}\n`);
    return 0;
  }
  return runSimulate(input, rest.includes("--plot"), io);
}

/** The ScaledObject of a manifest file, which may hold several YAML documents (as `kubectl apply -f` takes). */
function scaledObjectIn(text: string): unknown {
  const docs = parseAllDocuments(text).map((d) => d.toJS() as { kind?: unknown } | null);
  const found = docs.filter((d) => d?.kind === "ScaledObject");
  if (found.length !== 1) throw new Error(`expected exactly one document of kind ScaledObject, found ${found.length}`);
  return found[0];
}

function runSimulate(input: unknown, plot: boolean, io: CliIO): number {
  const sim = (typeof input === "object" && input !== null ? input : {}) as SimulationInput & { scaledObject?: unknown };
  if (!Array.isArray(sim.trace) || sim.trace.length === 0) {
    io.err("trace: must be a non-empty array of {tSec, eventsPerSec} or {tSec, value}\n");
    return 1;
  }
  const bad = sim.trace.findIndex((p) => typeof p?.tSec !== "number" || typeof ("value" in p ? p.value : p.eventsPerSec) !== "number");
  if (bad >= 0) {
    io.err(`trace[${bad}]: must be {tSec, eventsPerSec} or {tSec, value} with numbers\n`);
    return 1;
  }
  let rows: SimulationRow[];
  try {
    rows = simulate(deciderSpecFrom((sim.scaledObject ?? {}) as Parameters<typeof deciderSpecFrom>[0]), sim);
  } catch (e) {
    if (!(e instanceof InvalidScaledObjectError)) throw e;
    for (const c of e.causes) io.err(`scaledObject.${c.field}: ${c.message}\n`);
    return 1;
  }
  io.out(table(rows));
  if (plot) io.out(chart(rows));
  return 0;
}

/** One line per second where the desired or ready count or the panic state changed. */
export function table(rows: SimulationRow[]): string {
  const lines = ["tSec\tvalue\tdesired\tready\tpanic"];
  rows.forEach((r, i) => {
    const p = rows[i - 1];
    if (!p || p.desired !== r.desired || p.ready !== r.ready || p.panic !== r.panic)
      lines.push(`${r.tSec}\t${Number(r.value.toFixed(3))}\t${r.desired}\t${r.ready}\t${r.panic ? "yes" : "no"}`);
  });
  return `${lines.join("\n")}\n`;
}

/** Limits of the ASCII chart. */
const CHART_WIDTH = 100;
const CHART_HEIGHT = 16;

/** `#` ready pods, `+` asked for but not yet ready; each column is the maximum over its seconds. */
export function chart(rows: SimulationRow[]): string {
  const perColumn = Math.max(1, Math.ceil(rows.length / CHART_WIDTH));
  const columns: { desired: number; ready: number }[] = [];
  for (let i = 0; i < rows.length; i += perColumn) {
    const slice = rows.slice(i, i + perColumn);
    columns.push({ desired: Math.max(...slice.map((r) => r.desired)), ready: Math.max(...slice.map((r) => r.ready)) });
  }
  const top = Math.max(1, ...columns.map((c) => Math.max(c.desired, c.ready)));
  const height = Math.min(CHART_HEIGHT, top);
  const label = String(top).length;
  const lines: string[] = [];
  for (let row = height; row >= 1; row--) {
    const level = (row / height) * top;
    const cells = columns.map((c) => (c.ready >= level ? "#" : c.desired >= level ? "+" : " ")).join("");
    lines.push(`${String(Math.round(level)).padStart(label)} |${cells}`);
  }
  lines.push(`${" ".repeat(label)} +${"-".repeat(columns.length)}`);
  lines.push(`${" ".repeat(label)}  0s .. ${rows.length}s, ${perColumn}s per column; # ready, + starting`);
  return `${lines.join("\n")}\n`;
}
