/**
 * `tail BROKER [--trigger T]`: the broker's live feed (its `live` WebSocket subresource), one line per
 * accepted event (with the triggers it matched) and per delivery attempt (with its verdict).
 */
import { apiFor } from "./api.ts";
import { choice, parse, UsageError } from "./args.ts";
import { bearerProtocol, brokerSubresource, type LiveMessage } from "../../shared/resources/broker-api.ts";
import type { Command } from "./io.ts";

export const tail: Command = {
  usage: "tail BROKER [--trigger TRIGGER] [--count N] [-o json] [-n NAMESPACE]",
  async run(args, cli) {
    const { values, positionals } = parse(
      args,
      { trigger: { type: "string" }, count: { type: "string" }, output: { type: "string", short: "o" } },
      { min: 1, max: 1 },
    );
    const output = choice("--output", values.output, ["json"] as const);
    const count = values.count === undefined ? Infinity : Number(values.count);
    if (!Number.isInteger(count) || count < 1) throw new UsageError(`--count: must be a positive integer, got ${JSON.stringify(values.count)}`);
    const api = apiFor(values, cli);
    if (!api.ctx.token) throw new UsageError("tail needs a token: pass --token or set EDGE_EVENTING_TOKEN");
    const broker = positionals[0];
    // A plain GET first: a wrong token or an unknown broker gets the API's Status, which a failed upgrade cannot carry.
    await api.call("GET", `/apis/eventing.knative.dev/v1/namespaces/${encodeURIComponent(api.ctx.namespace)}/brokers/${encodeURIComponent(broker)}`);
    const url = `${api.ctx.server.replace(/^http/, "ws")}${brokerSubresource(api.ctx.namespace, broker, "live")}`;
    return new Promise<number>((resolve) => {
      const ws = new cli.WebSocket(url, [bearerProtocol(api.ctx.token!)]);
      let shown = 0;
      let done = false;
      const finish = (code: number) => {
        if (done) return;
        done = true;
        ws.close(1000);
        resolve(code);
      };
      ws.addEventListener("open", () =>
        cli.io.err(`watching ${api.ctx.namespace}/${broker}${values.trigger ? ` trigger ${values.trigger}` : ""} (Ctrl-C to stop)\n`),
      );
      ws.addEventListener("message", (m) => {
        const msg = JSON.parse(String(m.data)) as LiveMessage;
        if (!concerns(msg, values.trigger)) return;
        cli.io.out(output === "json" ? `${JSON.stringify(msg)}\n` : formatLive(msg));
        if (++shown >= count) finish(0);
      });
      ws.addEventListener("error", () => {
        cli.io.err(`error: the live feed of ${api.ctx.namespace}/${broker} failed\n`);
        finish(1);
      });
      ws.addEventListener("close", (e) => {
        if (!done) cli.io.err(`the router closed the live feed (code ${e.code}${e.reason ? `: ${e.reason}` : ""})\n`);
        finish(1);
      });
    });
  },
};

/** Whether a message is about `trigger` (every message when no trigger is given). */
export function concerns(msg: LiveMessage, trigger: string | undefined): boolean {
  if (trigger === undefined) return true;
  return msg.kind === "event" ? msg.matched.includes(trigger) : msg.trigger === trigger;
}

export function formatLive(msg: LiveMessage): string {
  const at = new Date(msg.at).toISOString();
  if (msg.kind === "event") {
    return `${at}  event     ${msg.type}  id=${msg.id} source=${msg.source}  -> ${msg.matched.length > 0 ? msg.matched.join(", ") : "(no trigger matched)"}\n`;
  }
  const status = msg.status === null ? "" : `  status=${msg.status}`;
  const phase = msg.phase === "subscriber" ? "" : `  phase=${msg.phase}`;
  // On a partitioned broker event numbers are per partition: `event#3.12` is event 12 of partition 3.
  const seq = msg.partition === undefined ? `${msg.eventSeq}` : `${msg.partition}.${msg.eventSeq}`;
  return `${at}  delivery  ${msg.trigger}  ${msg.verdict}  event#${seq} attempt=${msg.attempt}${phase}${status}\n`;
}
