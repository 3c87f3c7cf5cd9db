/**
 * `apply -f FILE|DIR|-`: create or replace every manifest (PUT), in order, like `kubectl apply`.
 * Documents of kinds this router does not serve (a Knative Service, a Namespace) are skipped with a
 * note, so a Knative manifest set applies unchanged; a refused document does not stop the others.
 * `--validate strict|warn|ignore` is kubectl's: the server's `?fieldValidation` for unknown and duplicated fields.
 */
import { ApiError, apiFor, describeError } from "./api.ts";
import { choice, parse, UsageError } from "./args.ts";
import type { Command } from "./io.ts";
import { objectPath, ref } from "./kinds.ts";
import { readDocuments, targetOf } from "./manifests.ts";

export const apply: Command = {
  usage: "apply -f FILE|DIR|- [-n NAMESPACE] [--validate strict|warn|ignore]",
  async run(args, cli) {
    const { values } = parse(args, { filename: { type: "string", short: "f" }, validate: { type: "string" } }, { min: 0, max: 0 });
    if (!values.filename) throw new UsageError("-f is required");
    const validate = choice("--validate", values.validate, ["strict", "warn", "ignore"] as const);
    // The server's default is Strict, as kubectl's.
    const query = validate ? `?fieldValidation=${validate[0].toUpperCase()}${validate.slice(1)}` : "";
    const api = apiFor(values, cli);
    const docs = await readDocuments(cli.io, values.filename);
    if (docs.length === 0) throw new UsageError(`-f ${values.filename}: no manifests found`);
    let failed = 0;
    for (const d of docs) {
      const t = targetOf(d, api.ctx);
      if ("skip" in t) {
        cli.io.err(`${t.skip}\n`);
        continue;
      }
      if ("error" in t) {
        cli.io.err(`error: ${t.error}\n`);
        failed++;
        continue;
      }
      try {
        const r = await api.call("PUT", `${objectPath(t.kind, t.namespace, t.name)}${query}`, {
          body: JSON.stringify(t.manifest),
          headers: { "content-type": "application/json" },
        });
        for (const w of r.warnings) cli.io.err(`Warning: ${w}\n`);
        cli.io.out(`${ref(t.kind, t.name)} ${r.status === 201 ? "created" : "configured"}\n`);
      } catch (e) {
        if (!(e instanceof ApiError)) throw e;
        cli.io.err(`${d.origin}: ${describeError(e)}`);
        failed++;
        if (e.status === 0 || e.status === 401) break; // every later document would fail the same way
      }
    }
    return failed > 0 ? 1 : 0;
  },
};
