#!/usr/bin/env node
/**
 * `npm run dev:redis`: a local Redis that a RedisStreamSource under `npm run dev` can read. Reuses a
 * redis-server that answers PING on 127.0.0.1:<redis-port>, else starts Debian's redis-server there
 * (data in .wrangler/redis), then serves Upstash's REST protocol in front of it (bin/upstash-redis.mjs)
 * and prints the URL and token to put in .dev.vars.
 *
 *   node bin/dev-redis.mjs [--redis-port 6379] [--port 8079] [--token T] [--dir .wrangler/redis]
 *
 * The token: --token, else SECRET_UPSTASH_REDIS_REST_TOKEN from the environment or .dev.vars, else a new one.
 * Ctrl-C stops the REST server and the redis-server this script started (a reused one keeps running).
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { runCommands } from "./resp.mjs";
import { startServer } from "./upstash-redis.mjs";

const TOKEN_VAR = "SECRET_UPSTASH_REDIS_REST_TOKEN";
/** How long a started redis-server may take to answer PING. */
const START_TIMEOUT_MS = 10_000;
const PING_INTERVAL_MS = 100;

function parseArgs(argv) {
  const opts = { "redis-port": "6379", port: "8079", token: undefined, dir: ".wrangler/redis" };
  for (let i = 0; i < argv.length; i += 2) {
    const name = argv[i].replace(/^--/, "");
    if (!(name in opts) || argv[i + 1] === undefined) throw new Error(`unknown or incomplete option ${argv[i]}`);
    opts[name] = argv[i + 1];
  }
  for (const name of ["redis-port", "port"]) {
    if (!/^\d+$/.test(opts[name]) || Number(opts[name]) > 65535)
      throw new Error(`--${name} must be a port number${name === "port" ? " (0 picks a free one)" : ""}`);
  }
  return {
    redisPort: Number(opts["redis-port"]),
    port: Number(opts.port),
    token: opts.token ?? configuredToken() ?? randomBytes(24).toString("hex"),
    dir: resolve(opts.dir),
  };
}

function configuredToken() {
  if (process.env[TOKEN_VAR]) return process.env[TOKEN_VAR];
  const vars = existsSync(".dev.vars") ? readFileSync(".dev.vars", "utf8") : "";
  return new RegExp(`^${TOKEN_VAR}\\s*=\\s*"?([^"\\n]+)"?`, "m").exec(vars)?.[1];
}

async function answersPing(redis) {
  try {
    const [reply] = await runCommands(redis, [["PING"]], 1_000);
    return reply?.simple === "PONG";
  } catch {
    return false;
  }
}

/** The redis-server this script started, or null when one already answered on the port. */
async function ensureRedis(redis, dir) {
  if (await answersPing(redis)) return null;
  mkdirSync(dir, { recursive: true });
  const child = spawn("redis-server", ["--port", String(redis.port), "--bind", "127.0.0.1", "--dir", dir], { stdio: ["ignore", "ignore", "inherit"] });
  const failed = new Promise((_, reject) => {
    child.on("error", (e) => reject(new Error(e.code === "ENOENT" ? "redis-server is not installed (apt-get install redis-server)" : e.message)));
    child.on("exit", (code) => reject(new Error(`redis-server exited with ${code}`)));
  });
  failed.catch(() => {}); // raced below; also rejects on the normal exit at shutdown
  for (let waited = 0; waited < START_TIMEOUT_MS; waited += PING_INTERVAL_MS) {
    await Promise.race([new Promise((r) => setTimeout(r, PING_INTERVAL_MS)), failed]);
    if (await answersPing(redis)) return child;
  }
  child.kill("SIGTERM");
  throw new Error(`redis-server did not answer PING on 127.0.0.1:${redis.port} within ${START_TIMEOUT_MS} ms`);
}

let config;
try {
  config = parseArgs(process.argv.slice(2));
} catch (e) {
  console.error(`dev-redis: ${e.message}`);
  process.exit(2);
}
const redis = { host: "127.0.0.1", port: config.redisPort };
let child;
try {
  child = await ensureRedis(redis, config.dir);
} catch (e) {
  console.error(`dev-redis: ${e.message}`);
  process.exit(1);
}
const server = await startServer({ redis, port: config.port, token: config.token });
const url = `http://127.0.0.1:${server.address().port}`;
console.log(`redis-server on 127.0.0.1:${redis.port} (${child ? `started, data in ${config.dir}` : "already running, reused"})`);
console.log(`Upstash REST listening on ${url}`);
console.log(`\nPut in .dev.vars (the RedisStreamSource's spec.token.secretKeyRef.name is ${TOKEN_VAR}):`);
console.log(`  ${TOKEN_VAR}="${config.token}"`);
console.log(`and use spec.url: ${url}\n`);

for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    server.close();
    if (child) child.once("exit", () => process.exit(0)).kill("SIGTERM");
    else process.exit(0);
  });
}
