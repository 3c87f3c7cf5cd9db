/**
 * Debian's redis-server behind the Upstash REST protocol, started through `npm run dev:redis`'s script
 * (bin/dev-redis.mjs), so tests run what developers run. The first REST server on a redis port starts
 * redis-server; later ones with the same port reuse it and put another REST server (with their token)
 * in front. `stop()` is SIGTERM: the script stops the redis-server it started and exits after it.
 */
import { spawn, spawnSync } from "node:child_process";
import { resolve } from "node:path";

/** Bounded start (and stop) of the script. */
const START_MS = 10_000;

export interface RedisRest {
  url: string;
  stop(): Promise<void>;
}

/** Why Redis tests cannot run here, or null. */
export function redisMissing(): string | null {
  return spawnSync("redis-server", ["--version"]).status === 0 ? null : "redis-server is not installed (apt-get install redis-server)";
}

export function startRedisRest(opts: { token: string; redisPort: number; dir: string }): Promise<RedisRest> {
  const args = [
    resolve(import.meta.dirname, "../../bin/dev-redis.mjs"),
    "--redis-port",
    String(opts.redisPort),
    "--port",
    "0",
    "--dir",
    opts.dir,
    "--token",
    opts.token,
  ];
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
  const stop = () =>
    new Promise<void>((done) => {
      if (child.exitCode !== null || child.signalCode !== null) return done();
      const timer = setTimeout(done, START_MS);
      child.once("exit", () => done(clearTimeout(timer)));
      child.kill("SIGTERM");
    });
  return new Promise((done, fail) => {
    const timer = setTimeout(() => fail(new Error(`bin/dev-redis.mjs did not start within ${START_MS} ms`)), START_MS);
    let out = "";
    const watch = (c: Buffer) => {
      out += c.toString();
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        done({ url: m[1], stop });
      }
    };
    child.stdout!.on("data", watch);
    child.stderr!.on("data", (c: Buffer) => (out += c.toString()));
    child.on("exit", (code) => fail(new Error(`bin/dev-redis.mjs exited with ${code}: ${out}`)));
  });
}
