/**
 * Argument parsing (node:util parseArgs, strict) and the connection context every API command shares:
 * `--server/-s` and `--token` flags, else EDGE_EVENTING_SERVER and EDGE_EVENTING_TOKEN, plus
 * `--namespace/-n` (default "default").
 */
import { parseArgs, type ParseArgsConfig } from "node:util";

/** Wrong invocation: the command prints its usage and exits 2. */
export class UsageError extends Error {}

export type Options = NonNullable<ParseArgsConfig["options"]>;

export const CONTEXT_OPTIONS = {
  server: { type: "string", short: "s" },
  token: { type: "string" },
  namespace: { type: "string", short: "n" },
} as const satisfies Options;

/** Where `wrangler dev` listens by default: the router a developer runs locally. */
export const DEFAULT_SERVER = "http://127.0.0.1:8787";
export const DEFAULT_NAMESPACE = "default";

export interface Context {
  server: string;
  token?: string;
  namespace: string;
  /** True when `--namespace` was given: it must then agree with a manifest's own namespace. */
  namespaceGiven: boolean;
}

export function parse<O extends Options>(args: string[], options: O, positionals: { min: number; max: number }) {
  const config = { args, options: { ...CONTEXT_OPTIONS, ...options }, allowPositionals: true, strict: true } as const;
  let parsed: ReturnType<typeof parseArgs<typeof config>>;
  try {
    parsed = parseArgs(config);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const n = parsed.positionals.length;
  if (n < positionals.min) throw new UsageError(`expected at least ${positionals.min} argument(s), got ${n}`);
  if (n > positionals.max) throw new UsageError(`unexpected argument ${JSON.stringify(parsed.positionals[positionals.max])}`);
  return parsed;
}

export function contextFrom(values: { server?: unknown; token?: unknown; namespace?: unknown }, env: Record<string, string | undefined>): Context {
  const raw = (values.server as string | undefined) ?? env.EDGE_EVENTING_SERVER ?? DEFAULT_SERVER;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`--server: ${JSON.stringify(raw)} is not a URL (expected e.g. ${DEFAULT_SERVER})`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new UsageError(`--server: ${raw} must be an http or https URL`);
  const namespace = (values.namespace as string | undefined) ?? DEFAULT_NAMESPACE;
  const token = (values.token as string | undefined) ?? env.EDGE_EVENTING_TOKEN;
  return { server: url.href.replace(/\/+$/, ""), ...(token ? { token } : {}), namespace, namespaceGiven: values.namespace !== undefined };
}

/** A flag that takes one of a few values (`-o`, `--mode`). */
export function choice<F extends string>(flag: string, value: unknown, allowed: readonly F[]): F | undefined {
  if (value === undefined) return undefined;
  if (!allowed.includes(value as F)) throw new UsageError(`${flag}: must be one of ${allowed.join(", ")}, got ${JSON.stringify(value)}`);
  return value as F;
}
