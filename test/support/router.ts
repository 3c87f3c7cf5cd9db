/**
 * The router as a user runs it: `wrangler dev` in its own process group on a free port, with local
 * SQLite-backed Durable Object storage in `persistDir`. `kill()` is SIGKILL to the whole group (wrangler and
 * workerd), for crash tests; a new router on the same `persistDir` restarts on the same storage.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { get as httpGet } from "node:http";
import { get as httpsGet } from "node:https";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll } from "vitest";
import { TOKEN } from "./client.ts";
import { type Subscriber, startSubscriber } from "./subscriber.ts";

export interface RunningRouter {
  url: string;
  persistDir: string;
  /** Graceful stop. */
  stop(): Promise<void>;
  /** SIGKILL, no goodbye. */
  kill(): Promise<void>;
  output(): string;
}

const ROOT = resolve(import.meta.dirname, "../..");

export function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => ok(port));
    });
    s.on("error", fail);
  });
}

/** Two tries: on a loaded machine `wrangler dev` has been seen to hang at start; a second start recovers. */
/** `https`: `wrangler dev --local-protocol https` (a self-signed certificate), as kubectl needs to send a token. */
export interface RouterOptions {
  persistDir?: string;
  vars?: Record<string, string>;
  https?: boolean;
}

export async function startRouter(opts: RouterOptions = {}): Promise<RunningRouter> {
  try {
    return await launch(opts);
  } catch (first) {
    process.stderr.write(`router start failed, trying once more: ${(first as Error).message.split("\n")[0]}\n`);
    return launch(opts);
  }
}

async function launch(opts: RouterOptions): Promise<RunningRouter> {
  const persistDir = opts.persistDir ?? mkdtempSync(join(tmpdir(), "edge-eventing-"));
  const port = await freePort();
  const vars = { ADMIN_TOKEN: TOKEN, REQUEST_REPLY_SECRET: "request-reply-e2e-secret", ...opts.vars };
  const args = [
    "dev",
    "--ip",
    "127.0.0.1",
    "--port",
    String(port),
    "--persist-to",
    persistDir,
    "--inspector-port",
    String(await freePort()),
    "--test-scheduled",
    "--show-interactive-dev-session=false",
    "--log-level",
    "warn",
  ];
  for (const [k, v] of Object.entries(vars)) args.push("--var", `${k}:${v}`);
  if (opts.https) args.push("--local-protocol", "https");
  const child = spawn(join(ROOT, "node_modules/.bin/wrangler"), args, {
    cwd: ROOT,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
  });
  let log = "";
  child.stdout!.on("data", (d) => (log += d));
  child.stderr!.on("data", (d) => (log += d));
  const url = `${opts.https ? "https" : "http"}://127.0.0.1:${port}`;
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  const signal = async (sig: NodeJS.Signals) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    try {
      process.kill(-child.pid!, sig);
    } catch {
      // already gone
    }
    await exited;
  };
  try {
    await waitHealthy(url, child, () => log);
  } catch (e) {
    await signal("SIGKILL");
    throw e;
  }
  return { url, persistDir, stop: () => signal("SIGTERM"), kill: () => signal("SIGKILL"), output: () => log };
}

async function waitHealthy(url: string, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`router exited early:\n${log()}`);
    try {
      if (await healthy(`${url}/healthz`)) return;
    } catch {
      // not listening yet, or not answering
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`router did not become healthy within 30 s:\n${log()}`);
}

/** A router and a real HTTP subscriber for one test file, started before its tests and stopped after. */
export function routerWithSubscriber(): { router: () => RunningRouter; subscriber: () => Subscriber } {
  let router: RunningRouter;
  let sub: Subscriber;
  beforeAll(async () => {
    [router, sub] = await Promise.all([startRouter(), startSubscriber()]);
  });
  afterAll(async () => {
    await Promise.all([router?.stop(), sub?.close()]);
  });
  return { router: () => router, subscriber: () => sub };
}

/** One health probe; the local https certificate is self-signed, so it is not verified here. */
function healthy(url: string): Promise<boolean> {
  return new Promise((done) => {
    const req = (url.startsWith("https:") ? httpsGet : httpGet)(url, { rejectUnauthorized: false, timeout: 2_000 }, (res) => {
      res.resume();
      done(res.statusCode === 200);
    });
    req.on("error", () => done(false));
    req.on("timeout", () => req.destroy());
  });
}
