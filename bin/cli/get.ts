/** `get KIND [NAME] [-o yaml|json|wide] [-A]`: list or show resources with their Ready condition. */
import { apiFor } from "./api.ts";
import { choice, parse, UsageError } from "./args.ts";
import { render, type Resource, resourceTable } from "./format.ts";
import type { Command } from "./io.ts";
import { collectionPath, objectPath, resolveKind } from "./kinds.ts";

export const get: Command = {
  usage: "get KIND [NAME] [-o yaml|json|wide] [-n NAMESPACE | -A]",
  async run(args, cli) {
    const { values, positionals } = parse(
      args,
      { output: { type: "string", short: "o" }, "all-namespaces": { type: "boolean", short: "A" } },
      { min: 1, max: 2 },
    );
    const output = choice("--output", values.output, ["yaml", "json", "wide"] as const);
    const [kindName, name] = positionals;
    const all = values["all-namespaces"] === true;
    if (all && name) throw new UsageError("a resource cannot be retrieved by name across all namespaces");
    const kind = resolveKind(kindName);
    const api = apiFor(values, cli);
    if (name) {
      const { body } = await api.call<Resource>("GET", objectPath(kind, api.ctx.namespace, name));
      cli.io.out(
        output === "yaml" || output === "json"
          ? render(body, output)
          : resourceTable([body], { wide: output === "wide", allNamespaces: false, now: Date.now() }),
      );
      return 0;
    }
    const { body } = await api.call<{ items: Resource[] }>("GET", collectionPath(kind, all ? null : api.ctx.namespace));
    if (output === "yaml" || output === "json") cli.io.out(render(body, output));
    else if (body.items.length === 0) cli.io.err(all ? `No ${kind.info.plural} found.\n` : `No ${kind.info.plural} found in ${api.ctx.namespace} namespace.\n`);
    else cli.io.out(resourceTable(body.items, { wide: output === "wide", allNamespaces: all, now: Date.now() }));
    return 0;
  },
};
