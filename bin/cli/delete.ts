/** `delete -f FILE|DIR|-` or `delete KIND NAME...`: remove resources, reporting each like kubectl. */
import { ApiError, apiFor, describeError } from "./api.ts";
import { parse, UsageError } from "./args.ts";
import type { Command } from "./io.ts";
import { objectPath, ref, resolveKind, type ResolvedKind } from "./kinds.ts";
import { readDocuments, targetOf } from "./manifests.ts";

export const del: Command = {
  usage: "delete (-f FILE|DIR|- | KIND NAME...) [--ignore-not-found] [-n NAMESPACE]",
  async run(args, cli) {
    const { values, positionals } = parse(
      args,
      { filename: { type: "string", short: "f" }, "ignore-not-found": { type: "boolean" } },
      { min: 0, max: Infinity },
    );
    const api = apiFor(values, cli);
    let failed = 0;
    const targets: { kind: ResolvedKind; namespace: string; name: string }[] = [];
    if (values.filename) {
      if (positionals.length > 0) throw new UsageError("give either -f or KIND NAME, not both");
      for (const d of await readDocuments(cli.io, values.filename)) {
        const t = targetOf(d, api.ctx);
        if ("skip" in t) cli.io.err(`${t.skip}\n`);
        else if ("error" in t) {
          cli.io.err(`error: ${t.error}\n`);
          failed++;
        } else targets.push(t);
      }
    } else {
      if (positionals.length < 2) throw new UsageError("expected KIND and at least one NAME (or -f FILE)");
      const kind = resolveKind(positionals[0]);
      for (const name of positionals.slice(1)) targets.push({ kind, namespace: api.ctx.namespace, name });
    }
    for (const t of targets) {
      try {
        await api.call("DELETE", objectPath(t.kind, t.namespace, t.name));
        cli.io.out(`${ref(t.kind, t.name)} deleted\n`);
      } catch (e) {
        if (!(e instanceof ApiError)) throw e;
        if (e.status === 404 && values["ignore-not-found"]) continue;
        cli.io.err(describeError(e));
        failed++;
        if (e.status === 0 || e.status === 401) break;
      }
    }
    return failed > 0 ? 1 : 0;
  },
};
