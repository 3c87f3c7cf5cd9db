/** What a command touches outside itself: files, stdout/stderr, the network. Tests pass their own. */
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";

export interface CliIO {
  /** A file's text; `-` is stdin. */
  read(path: string): Promise<string>;
  /** The manifest files a path names: itself, or a directory's *.yaml, *.yml and *.json (sorted). */
  files(path: string): Promise<string[]>;
  out(text: string): void;
  err(text: string): void;
}

export interface Cli {
  io: CliIO;
  /** Environment variables (EDGE_EVENTING_SERVER, EDGE_EVENTING_TOKEN). */
  env: Record<string, string | undefined>;
  fetch: typeof fetch;
  /** A WebSocket client; Node 22's global one. */
  WebSocket: typeof WebSocket;
}

const MANIFEST_FILE = /\.(ya?ml|json)$/i;

export const nodeIO: CliIO = {
  read: async (path) => {
    if (path !== "-") return readFile(path, "utf8");
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString("utf8");
  },
  files: async (path) => {
    if (path === "-" || !(await stat(path)).isDirectory()) return [path];
    return (await readdir(path))
      .filter((f) => MANIFEST_FILE.test(f))
      .sort()
      .map((f) => join(path, f));
  },
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};

export const nodeCli = (): Cli => ({ io: nodeIO, env: process.env, fetch: globalThis.fetch, WebSocket: globalThis.WebSocket });

/** One CLI command. `run` returns the exit code; it throws UsageError (exit 2) or ApiError (exit 1). */
export interface Command {
  usage: string;
  run(args: string[], cli: Cli): Promise<number>;
}
