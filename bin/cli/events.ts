/**
 * `events BROKER`: the broker's retained events, newest first, with each trigger's delivery state (the
 * history API, API.md §6). `--since`/`--from` take RFC 3339 or, as `kubectl logs --since`, an age (30s, 5m,
 * 2h, 1d).
 */
import { apiFor } from "./api.ts";
import { choice, parse, UsageError } from "./args.ts";
import { age, render, table } from "./format.ts";
import type { Command } from "./io.ts";

interface EventRecord {
  event: { id?: string; source?: string; type?: string; subject?: string };
  receivedAt: string;
  deliveries: { trigger: string; state: string; attempts: unknown[] }[];
}

const AGE = /^(\d+)(s|m|h|d)$/;
const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** An RFC 3339 time from a flag: an age is counted back from `now`; anything else goes to the server as given. */
export function timeFlag(value: string | undefined, now: number): string | undefined {
  if (value === undefined) return undefined;
  const m = AGE.exec(value);
  return m ? new Date(now - Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS]).toISOString() : value;
}

export const events: Command = {
  usage:
    "events BROKER [--id ID] [--source S] [--type T] [--subject S] [--since 1h|RFC3339] [--until RFC3339] [--trigger T] [--state STATE] [--limit N] [--continue TOKEN] [-o json] [-n NAMESPACE]",
  async run(args, cli) {
    const str = { type: "string" } as const;
    const { values, positionals } = parse(
      args,
      {
        id: str,
        source: str,
        type: str,
        subject: str,
        since: str,
        until: str,
        trigger: str,
        state: str,
        limit: str,
        continue: str,
        output: { type: "string", short: "o" },
      },
      { min: 1, max: 1 },
    );
    const output = choice("--output", values.output, ["json", "yaml"] as const);
    if (values.limit !== undefined && !/^\d+$/.test(values.limit))
      throw new UsageError(`--limit: must be a positive integer, got ${JSON.stringify(values.limit)}`);
    const api = apiFor(values, cli);
    const now = Date.now();
    const query = new URLSearchParams();
    const fields = {
      id: values.id,
      source: values.source,
      type: values.type,
      subject: values.subject,
      since: timeFlag(values.since, now),
      until: timeFlag(values.until, now),
      trigger: values.trigger,
      state: values.state,
      limit: values.limit,
      continue: values.continue,
    };
    for (const [k, v] of Object.entries(fields)) if (v !== undefined) query.set(k, v);
    const path = `/apis/edge-eventing.dev/v1alpha1/namespaces/${encodeURIComponent(api.ctx.namespace)}/brokers/${encodeURIComponent(positionals[0])}/events${query.size ? `?${query}` : ""}`;
    const { body } = await api.call<{ metadata: { continue?: string }; items: EventRecord[] }>("GET", path);
    if (output) {
      cli.io.out(render(body, output));
      return 0;
    }
    if (body.items.length === 0) cli.io.err("No events found.\n");
    else cli.io.out(eventTable(body.items, now));
    if (body.metadata.continue) cli.io.err(`more events: add --continue ${body.metadata.continue}\n`);
    return 0;
  },
};

/** One row per event: age, id, source, type, and per trigger `name=state` with the attempts when more than one. */
export function eventTable(items: EventRecord[], now: number): string {
  const rows = items.map((r) => [
    age(r.receivedAt, now),
    String(r.event.id ?? ""),
    String(r.event.source ?? ""),
    String(r.event.type ?? ""),
    r.deliveries.length === 0
      ? "<no trigger matched>"
      : r.deliveries.map((d) => `${d.trigger}=${d.state}${d.attempts.length > 1 ? `(${d.attempts.length} attempts)` : ""}`).join(" "),
  ]);
  return table(["AGE", "ID", "SOURCE", "TYPE", "DELIVERIES"], rows);
}
