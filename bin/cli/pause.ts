/**
 * `pause TRIGGER...` and `resume TRIGGER...`: set or remove a trigger's `edge-eventing.dev/paused`
 * annotation with a merge patch (API.md §8), as `kubectl annotate` would. A paused trigger sends nothing
 * while its events keep queueing; resuming drains them in order.
 */
import { ApiError, apiFor, describeError } from "./api.ts";
import { parse } from "./args.ts";
import type { Command } from "./io.ts";
import { objectPath, ref, resolveKind } from "./kinds.ts";
import { TRIGGER_ANNOTATIONS } from "../../shared/resources/eventing.ts";

function annotate(paused: boolean): Command {
  return {
    usage: `${paused ? "pause" : "resume"} TRIGGER... [-n NAMESPACE]`,
    async run(args, cli) {
      const { values, positionals } = parse(args, {}, { min: 1, max: Infinity });
      const api = apiFor(values, cli);
      const kind = resolveKind("triggers");
      // null removes the annotation (RFC 7386): a resumed trigger carries no trace of the pause.
      const body = JSON.stringify({ metadata: { annotations: { [TRIGGER_ANNOTATIONS.paused]: paused ? "true" : null } } });
      let failed = 0;
      for (const name of positionals) {
        try {
          await api.call("PATCH", objectPath(kind, api.ctx.namespace, name), { body, headers: { "content-type": "application/merge-patch+json" } });
          cli.io.out(`${ref(kind, name)} ${paused ? "paused" : "resumed"}\n`);
        } catch (e) {
          if (!(e instanceof ApiError)) throw e;
          cli.io.err(describeError(e));
          failed++;
          if (e.status === 0 || e.status === 401) break;
        }
      }
      return failed > 0 ? 1 : 0;
    },
  };
}

export const pause = annotate(true);
export const resume = annotate(false);
