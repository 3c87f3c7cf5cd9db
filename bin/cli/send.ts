/**
 * `send BROKER`: post a CloudEvent to a broker's ingress, in any content mode of the HTTP binding.
 * The event comes from flags (`--type`, `--source`, `--data`...) or from `-f FILE` (a structured event,
 * or an array of them for batch mode). It is checked locally first, so a mistake names its field.
 */
import { parse as parseYaml } from "yaml";
import { decodeStructured, encodeBinary, encodeStructured } from "../../shared/cloudevents/index.ts";
import type { CloudEvent } from "../../shared/cloudevents/event.ts";
import { apiFor } from "./api.ts";
import { choice, parse, UsageError } from "./args.ts";
import type { Command } from "./io.ts";

export const DEFAULT_SOURCE = "edge-eventing/cli";

export const SEND_OPTIONS = {
  filename: { type: "string", short: "f" },
  type: { type: "string" },
  source: { type: "string" },
  id: { type: "string" },
  subject: { type: "string" },
  data: { type: "string", short: "d" },
  datacontenttype: { type: "string" },
  ext: { type: "string", multiple: true },
  header: { type: "string", short: "H", multiple: true },
  mode: { type: "string" },
} as const;

export type Mode = "binary" | "structured" | "batch";

export const send: Command = {
  usage:
    "send BROKER (--type TYPE [--source S] [--id ID] [--subject S] [-d DATA] [--datacontenttype CT] [--ext NAME=VALUE]... | -f FILE|-) [--mode binary|structured|batch] [-H 'Name: value']... [-n NAMESPACE]",
  async run(args, cli) {
    const { values, positionals } = parse(args, SEND_OPTIONS, { min: 1, max: 1 });
    const mode = choice("--mode", values.mode, ["binary", "structured", "batch"] as const);
    let events: CloudEvent[];
    if (values.filename) {
      const flags = ["type", "source", "id", "subject", "data", "datacontenttype", "ext"].filter((f) => values[f as keyof typeof values] !== undefined);
      if (flags.length > 0) throw new UsageError(`-f cannot be combined with --${flags.join(", --")}`);
      events = eventsFromJson(parseYaml(await cli.io.read(values.filename)));
    } else {
      events = [eventFromFlags(values)];
    }
    const request = encodeRequest(events, mode ?? (values.filename ? "structured" : "binary"));
    const api = apiFor(values, cli);
    const headers = { ...request.headers, ...parseHeaders(values.header ?? []) };
    const r = await api.call("POST", `/${encodeURIComponent(api.ctx.namespace)}/${encodeURIComponent(positionals[0])}`, {
      body: request.body,
      headers,
      auth: false,
    });
    const what = events.length === 1 ? `event ${events[0].attributes.id}` : `${events.length} events`;
    cli.io.out(`${what} accepted by ${api.ctx.namespace}/${positionals[0]} (${r.status})\n`);
    return 0;
  },
};

/** One event from flags; `--data` is JSON when it parses as JSON and no other type is given. */
export function eventFromFlags(v: {
  type?: string;
  source?: string;
  id?: string;
  subject?: string;
  data?: string;
  datacontenttype?: string;
  ext?: string[];
}): CloudEvent {
  if (!v.type) throw new UsageError("--type is required (or give the event with -f FILE)");
  const json: Record<string, unknown> = { specversion: "1.0", id: v.id ?? crypto.randomUUID(), source: v.source ?? DEFAULT_SOURCE, type: v.type };
  if (v.subject !== undefined) json.subject = v.subject;
  for (const e of v.ext ?? []) {
    const eq = e.indexOf("=");
    if (eq <= 0) throw new UsageError(`--ext ${JSON.stringify(e)}: expected NAME=VALUE`);
    json[e.slice(0, eq)] = e.slice(eq + 1);
  }
  if (v.data !== undefined) {
    const parsed = tryJson(v.data);
    const type = v.datacontenttype ?? (parsed.ok ? "application/json" : "text/plain");
    json.datacontenttype = type;
    json.data = parsed.ok && /[/+]json(;|$)/i.test(type) ? parsed.value : v.data;
  } else if (v.datacontenttype !== undefined) json.datacontenttype = v.datacontenttype;
  return checked(json, "");
}

/** Events from a file: a structured event object, or an array of them. */
export function eventsFromJson(value: unknown): CloudEvent[] {
  if (Array.isArray(value)) {
    if (value.length === 0) throw new UsageError("-f: the batch holds no events");
    return value.map((e, i) => checked(e, `[${i}]`));
  }
  return [checked(value, "")];
}

function checked(json: unknown, at: string): CloudEvent {
  const e = decodeStructured(JSON.stringify(json));
  if ("error" in e) {
    const field = [at, e.field].filter(Boolean).join(".");
    throw new UsageError(`invalid event${field ? ` (field ${field})` : ""}: ${e.error}`);
  }
  return e;
}

function tryJson(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

/** The HTTP request body and headers of a content mode (CloudEvents HTTP binding). */
export function encodeRequest(events: CloudEvent[], mode: Mode): { body: string | Uint8Array; headers: Record<string, string> } {
  if (mode === "batch") return { body: `[${events.map(encodeStructured).join(",")}]`, headers: { "content-type": "application/cloudevents-batch+json" } };
  if (events.length > 1) throw new UsageError(`--mode ${mode} sends one event; the file holds ${events.length} (use --mode batch)`);
  if (mode === "structured") return { body: encodeStructured(events[0]), headers: { "content-type": "application/cloudevents+json; charset=utf-8" } };
  const { headers, body } = encodeBinary(events[0]);
  return { body: body ?? "", headers: Object.fromEntries(headers) };
}

function parseHeaders(list: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const h of list) {
    const colon = h.indexOf(":");
    if (colon <= 0) throw new UsageError(`--header ${JSON.stringify(h)}: expected "Name: value"`);
    out[h.slice(0, colon).trim().toLowerCase()] = h.slice(colon + 1).trim();
  }
  return out;
}
