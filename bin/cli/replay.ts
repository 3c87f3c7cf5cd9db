/**
 * `replay NAME --broker B --from TIME ...`: create a Replay (API.md §6), or with `--dry-run` only ask how
 * many deliveries it would send (Kubernetes' dryRun=All: nothing is stored or sent). Progress shows in
 * `get replays`; `delete replay NAME` stops it.
 */
import { apiFor } from "./api.ts";
import { choice, parse, UsageError } from "./args.ts";
import { timeFlag } from "./events.ts";
import { render } from "./format.ts";
import type { Command } from "./io.ts";
import { collectionPath, ref, resolveKind } from "./kinds.ts";

export const replay: Command = {
  usage:
    "replay NAME --broker BROKER --from 1h|RFC3339 [--to RFC3339] [--trigger T]... [--state delivered|deadlettered|failed|any] [--filter JSON]... [--dry-run] [-o json|yaml] [-n NAMESPACE]",
  async run(args, cli) {
    const str = { type: "string" } as const;
    const { values, positionals } = parse(
      args,
      {
        broker: str,
        from: str,
        to: str,
        trigger: { type: "string", multiple: true },
        state: str,
        filter: { type: "string", multiple: true },
        "dry-run": { type: "boolean" },
        output: { type: "string", short: "o" },
      },
      { min: 1, max: 1 },
    );
    const output = choice("--output", values.output, ["json", "yaml"] as const);
    if (!values.broker) throw new UsageError("--broker is required");
    if (!values.from) throw new UsageError("--from is required (an age such as 2h, or an RFC 3339 time)");
    const filters = (values.filter ?? []).map((text) => {
      try {
        return JSON.parse(text) as unknown;
      } catch {
        throw new UsageError(`--filter: not JSON: ${text} (e.g. '{"exact":{"type":"order.created"}}')`);
      }
    });
    const now = Date.now();
    const spec = {
      broker: values.broker,
      from: timeFlag(values.from, now),
      ...(values.to ? { to: timeFlag(values.to, now) } : {}),
      ...(values.trigger ? { triggers: values.trigger } : {}),
      ...(values.state ? { state: values.state } : {}),
      ...(filters.length > 0 ? { filters } : {}),
    };
    const kind = resolveKind("replays");
    const api = apiFor(values, cli);
    const dryRun = values["dry-run"] === true;
    const manifest = { apiVersion: `${kind.info.group}/${kind.version}`, kind: "Replay", metadata: { name: positionals[0] }, spec };
    const { body } = await api.call<{ status?: { matched?: number } }>("POST", `${collectionPath(kind, api.ctx.namespace)}${dryRun ? "?dryRun=All" : ""}`, {
      body: JSON.stringify(manifest),
      headers: { "content-type": "application/json" },
    });
    const n = body.status?.matched ?? 0;
    if (output) cli.io.out(render(body, output));
    else cli.io.out(`${ref(kind, positionals[0])} ${dryRun ? "would send" : "created:"} ${n} deliver${n === 1 ? "y" : "ies"}${dryRun ? " (dry run)" : ""}\n`);
    return 0;
  },
};
