/**
 * `review filter|expression`: ask the router what a trigger filter or a CESQL/CEL expression decides for
 * an event, or what an EventTransform's JSONata expression makes of it (the FilterReview and
 * ExpressionReview of API.md §3); nothing is stored. `--transform NAME` reviews a stored EventTransform's.
 */
import { parse as parseYaml } from "yaml";
import { type Api, apiFor } from "./api.ts";
import { choice, parse, UsageError } from "./args.ts";
import { render } from "./format.ts";
import type { CliIO, Command } from "./io.ts";

const BASE = "/apis/edge-eventing.dev/v1alpha1";
const API_VERSION = "edge-eventing.dev/v1alpha1";

export const review: Command = {
  // EVENT: a structured CloudEvent as a file, - for stdin, or inline JSON.
  usage: `review filter --event EVENT (--trigger NAME | -f TRIGGER_OR_FILTERREVIEW) [-o yaml|json]
review expression (EXPRESSION | --transform NAME) --event EVENT [--language cesql|cel|jsonata] [-o yaml|json]`,
  async run(args, cli) {
    const [sub, ...rest] = args;
    const options = {
      event: { type: "string" },
      output: { type: "string", short: "o" },
      trigger: { type: "string" },
      filename: { type: "string", short: "f" },
      language: { type: "string" },
      transform: { type: "string" },
    } as const;
    if (sub !== "filter" && sub !== "expression") throw new UsageError(`expected "filter" or "expression", got ${JSON.stringify(sub ?? "")}`);
    const { values, positionals } = parse(rest, options, sub === "filter" ? { min: 0, max: 0 } : { min: 0, max: 1 });
    const output = choice("--output", values.output, ["yaml", "json"] as const);
    const api = apiFor(values, cli);
    const event = values.event === undefined ? undefined : await readValue(cli.io, values.event, "--event");
    let body: Record<string, unknown>;
    if (sub === "filter") body = await filterReview(api, cli.io, values, event);
    else {
      if (event === undefined) throw new UsageError("--event is required");
      if ((positionals[0] === undefined) === (values.transform === undefined)) throw new UsageError("give exactly one of EXPRESSION and --transform NAME");
      const language = choice("--language", values.language ?? (values.transform === undefined ? "cesql" : "jsonata"), ["cesql", "cel", "jsonata"] as const)!;
      const expression = values.transform === undefined ? positionals[0] : await transformExpression(api, values.transform);
      body = { apiVersion: API_VERSION, kind: "ExpressionReview", spec: { language, expression, event } };
    }
    const plural = sub === "filter" ? "filterreviews" : "expressionreviews";
    const { body: result } = await api.call<{ status: ReviewStatus }>("POST", `${BASE}/${plural}`, {
      body: JSON.stringify(body),
      headers: { "content-type": "application/json" },
    });
    cli.io.out(output ? render(result, output) : summary(result.status));
    // An expression that does not parse is one a Trigger would refuse: fail the command (scripts check it).
    return result.status.error?.kind === "parse" ? 1 : 0;
  },
};

async function filterReview(api: Api, io: CliIO, v: { trigger?: string; filename?: string }, event: unknown): Promise<Record<string, unknown>> {
  if ((v.trigger === undefined) === (v.filename === undefined)) throw new UsageError("give exactly one of --trigger NAME and -f FILE");
  let spec: Record<string, unknown> = {};
  if (v.trigger !== undefined) {
    const path = `/apis/eventing.knative.dev/v1/namespaces/${encodeURIComponent(api.ctx.namespace)}/triggers/${encodeURIComponent(v.trigger)}`;
    spec = (await api.call<{ spec?: Record<string, unknown> }>("GET", path)).body.spec ?? {};
  } else {
    const doc = (await readValue(io, v.filename!, "-f")) as { kind?: string; spec?: Record<string, unknown> };
    if (doc?.kind !== "Trigger" && doc?.kind !== "FilterReview")
      throw new UsageError(`-f ${v.filename}: expected a Trigger or a FilterReview, got kind ${JSON.stringify(doc?.kind)}`);
    spec = doc.spec ?? {};
  }
  const chosen = event ?? spec.event;
  if (chosen === undefined) throw new UsageError("--event is required");
  return {
    apiVersion: API_VERSION,
    kind: "FilterReview",
    spec: { event: chosen, ...(spec.filter ? { filter: spec.filter } : {}), ...(spec.filters ? { filters: spec.filters } : {}) },
  };
}

/** A stored EventTransform's expression. */
async function transformExpression(api: Api, name: string): Promise<string> {
  const path = `/apis/eventing.knative.dev/v1alpha1/namespaces/${encodeURIComponent(api.ctx.namespace)}/eventtransforms/${encodeURIComponent(name)}`;
  const spec = (await api.call<{ spec?: { jsonata?: { expression?: string } } }>("GET", path)).body.spec;
  return spec?.jsonata?.expression ?? "";
}

/** A file, stdin (`-`) or inline JSON, read as YAML (a superset of JSON). */
async function readValue(io: CliIO, arg: string, flag: string): Promise<unknown> {
  let text = arg;
  if (!arg.trimStart().startsWith("{")) {
    try {
      text = await io.read(arg);
    } catch (e) {
      throw new UsageError(`${flag} ${arg}: ${(e as Error).message}`);
    }
  }
  try {
    return parseYaml(text);
  } catch (e) {
    throw new UsageError(`${flag}: not valid JSON or YAML: ${(e as Error).message}`);
  }
}

export interface ReviewStatus {
  result?: "Pass" | "Fail" | "NoFilter";
  delivered?: boolean;
  value?: unknown;
  type?: string;
  error?: { kind: string; message: string } | null;
  /** JSONata: why the value is not a CloudEvent (a delivery would dead-letter it). */
  eventError?: string;
}

export function summary(s: ReviewStatus): string {
  if (s.result !== undefined) return `${s.result}: the event would ${s.delivered ? "" : "not "}be delivered\n`;
  const value = s.type === "CloudEvent" ? `${JSON.stringify(s.value, null, 2)}\n(CloudEvent)\n` : `${JSON.stringify(s.value)} (${s.type ?? "unknown"})\n`;
  if (s.eventError) return `${value}not a CloudEvent: ${s.eventError}\n`;
  return s.error ? `${value}error (${s.error.kind}): ${s.error.message}\n` : value;
}
