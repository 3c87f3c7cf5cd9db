/** Manifests from `-f FILE|DIR|-`: every YAML document (a JSON file is one YAML document), in order. */
import { parseAllDocuments } from "yaml";
import { type Context, UsageError } from "./args.ts";
import type { CliIO } from "./io.ts";
import { kindOfManifest, type ResolvedKind } from "./kinds.ts";

/** Most documents one `-f` may hold: bounds the work of a mistaken path. */
export const MAX_DOCUMENTS = 1000;

export interface Document {
  /** `file` or `file#N` (1-based) when a file holds several documents. */
  origin: string;
  value: Record<string, unknown>;
}

export async function readDocuments(io: CliIO, path: string): Promise<Document[]> {
  let files: string[];
  try {
    files = await io.files(path);
  } catch (e) {
    throw new UsageError(`-f ${path}: ${(e as Error).message}`);
  }
  const docs: Document[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = await io.read(file);
    } catch (e) {
      throw new UsageError(`-f ${file}: ${(e as Error).message}`);
    }
    docs.push(...parseDocuments(text, file === "-" ? "stdin" : file));
    if (docs.length > MAX_DOCUMENTS) throw new UsageError(`-f ${path}: more than ${MAX_DOCUMENTS} documents`);
  }
  return docs;
}

export function parseDocuments(text: string, origin: string): Document[] {
  const parsed = parseAllDocuments(text);
  const all = Array.isArray(parsed) ? parsed : [];
  const bad = all.findIndex((d) => d.errors.length > 0);
  if (bad >= 0) throw new UsageError(`${all.length > 1 ? `${origin}#${bad + 1}` : origin}: not valid YAML: ${all[bad].errors[0].message}`);
  // Empty documents (a stray `---`, a comment-only file) hold nothing to apply.
  const values = all.map((d) => d.toJS({ maxAliasCount: 100 }) as unknown).filter((v) => v !== null && v !== undefined);
  return values.flatMap((value, i) => {
    const where = values.length > 1 ? `${origin}#${i + 1}` : origin;
    // A kubectl-style List (`kind: List`, items) stands for its items.
    if (isObject(value) && value.kind === "List" && Array.isArray(value.items))
      return value.items.map((item: unknown, j: number) => doc(item, `${where}.items[${j}]`));
    return [doc(value, where)];
  });
}

function doc(value: unknown, origin: string): Document {
  if (!isObject(value)) throw new UsageError(`${origin}: a manifest must be a mapping with apiVersion, kind and metadata`);
  return { origin, value };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

export type Target = { kind: ResolvedKind; namespace: string; name: string; manifest: Record<string, unknown> } | { skip: string } | { error: string };

/** Where a document goes: its kind, namespace (its own, else `-n`, else default) and name. */
export function targetOf(d: Document, ctx: Context): Target {
  const m = d.value;
  const kind = kindOfManifest(m.apiVersion, m.kind);
  if ("foreign" in kind) return kind.foreign ? { skip: `${d.origin}: skipped: ${kind.why}` } : { error: `${d.origin}: ${kind.why}` };
  const md = isObject(m.metadata) ? m.metadata : {};
  if (typeof md.name !== "string" || md.name === "") return { error: `${d.origin}: metadata.name: required` };
  const own = md.namespace;
  if (own !== undefined && typeof own !== "string") return { error: `${d.origin}: metadata.namespace: must be a string` };
  if (own !== undefined && ctx.namespaceGiven && own !== ctx.namespace) {
    return { error: `${d.origin}: metadata.namespace: the namespace from the provided object "${own}" does not match the namespace "${ctx.namespace}"` };
  }
  return { kind, namespace: own ?? ctx.namespace, name: md.name, manifest: m };
}
