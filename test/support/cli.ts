/** The CLI as a user runs it (`node bin/edge-eventing.mjs`, a child process) against a router. */
import { type ChildProcess, spawn } from "node:child_process";
import { resolve } from "node:path";
import { TOKEN } from "./client.ts";

const BIN = resolve(import.meta.dirname, "../../bin/edge-eventing.mjs");

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function startCli(
  server: string,
  args: string[],
  env: Record<string, string> = {},
): { child: ChildProcess; done: Promise<Run>; stdout: () => string; stderr: () => string } {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { ...process.env, EDGE_EVENTING_SERVER: server, EDGE_EVENTING_TOKEN: TOKEN, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d) => (stdout += d));
  child.stderr!.on("data", (d) => (stderr += d));
  const done = new Promise<Run>((ok) => child.once("close", (code) => ok({ code, stdout, stderr })));
  return { child, done, stdout: () => stdout, stderr: () => stderr };
}
