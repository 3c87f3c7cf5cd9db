/**
 * Runs @upstash/redis, through bin/upstash-redis.mjs, against a real redis-server started on a
 * free port in a temp dir. Skipped (with the reason) only when redis-server is not installed.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Redis } from "@upstash/redis/cloudflare";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRedisStreamPoller, type RedisStreamPollerConfig } from "../../../../shared/bridges/redis/poller.ts";

const installed = spawnSync("redis-server", ["--version"]).status === 0;
if (!installed) console.warn("bridges-redis: redis-server is not installed (apt-get install redis-server); skipping the Redis Streams tests");

const TOKEN = "local-test-token";
const children: ChildProcess[] = [];
let dir = "";
let url = "";

function freePort(): Promise<number> {
  return new Promise((done) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => done(port));
    });
  });
}

/** Start a child and resolve with the first stdout line matching `ready` (bounded by a timeout). */
function startChild(cmd: string, args: string[], ready: RegExp): Promise<RegExpExecArray> {
  return new Promise((done, fail) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
    children.push(child);
    const timer = setTimeout(() => fail(new Error(`${cmd} did not start within 10 s`)), 10_000);
    let out = "";
    child.stdout!.on("data", (c: Buffer) => {
      out += c.toString();
      const m = ready.exec(out);
      if (m) {
        clearTimeout(timer);
        done(m);
      }
    });
    child.stderr!.on("data", (c: Buffer) => (out += c.toString()));
    child.on("exit", (code) => fail(new Error(`${cmd} exited with ${code}: ${out}`)));
  });
}

const client = () => new Redis({ url, token: TOKEN, automaticDeserialization: false, retry: false, enableTelemetry: false });

describe.skipIf(!installed)("Redis Streams through the Upstash REST server", () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "edge-redis-"));
    const redisPort = await freePort();
    await startChild(
      "redis-server",
      ["--port", String(redisPort), "--bind", "127.0.0.1", "--dir", dir, "--save", "", "--appendonly", "no"],
      /Ready to accept connections/,
    );
    const m = await startChild(
      process.execPath,
      [resolve("bin/upstash-redis.mjs"), "--redis", `127.0.0.1:${redisPort}`, "--port", "0", "--token", TOKEN],
      /listening on (http:\/\/127\.0\.0\.1:\d+)/,
    );
    url = m[1];
  });

  afterAll(() => {
    for (const child of children) child.kill();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  describe("the REST protocol", () => {
    it("answers single commands, pipelines and transactions as @upstash/redis expects", async () => {
      const redis = client();
      expect(await redis.set("greeting", "héllo ✓")).toBe("OK");
      expect(await redis.get("greeting")).toBe("héllo ✓");
      const p = redis.pipeline();
      p.incr("n");
      p.incr("n");
      p.get("missing");
      expect(await p.exec()).toEqual([1, 2, null]);
      const tx = redis.multi();
      tx.set("k", "v");
      tx.get("k");
      expect(await tx.exec()).toEqual(["OK", "v"]);
    });

    it("returns Redis errors and refuses a wrong token", async () => {
      await expect(client().incr("greeting")).rejects.toThrow(/not an integer/);
      const res = await fetch(url, { method: "POST", headers: { authorization: "Bearer nope" }, body: '["PING"]' });
      expect(res.status).toBe(401);
      expect(await res.json()).toEqual({ error: "Unauthorized" });
    });
  });

  describe("RedisStreamSource poller", () => {
    const base = (stream: string, over: Partial<RedisStreamPollerConfig> = {}): RedisStreamPollerConfig => ({
      stream,
      group: "router",
      consumer: "c1",
      namespace: "default",
      name: "orders",
      ...over,
    });
    const options = () => ({ url, token: TOKEN, retry: false as const, enableTelemetry: false });

    it("creates the group with MKSTREAM, tolerates BUSYGROUP, and starts at latest by default", async () => {
      const redis = client();
      await redis.xadd("s-latest", "*", { data: "before" });
      const a = createRedisStreamPoller(base("s-latest"), options());
      expect((await a.poll()).messages).toEqual([]);
      const b = createRedisStreamPoller(base("s-latest", { consumer: "c2" }), options());
      expect((await b.poll()).messages).toEqual([]); // group exists: BUSYGROUP is fine
      await redis.xadd("s-latest", "*", { data: "after" });
      const batch = await a.poll();
      expect(batch.messages.map((m) => m.event?.data)).toEqual([{ kind: "binary", bytes: new TextEncoder().encode("after") }]);
      const fresh = createRedisStreamPoller(base("s-new"), options());
      await fresh.poll();
      expect(await redis.exists("s-new")).toBe(1);
    });

    it("maps entries to events, acks on commit and reports backlog", async () => {
      const redis = client();
      const ce = JSON.stringify({ specversion: "1.0", id: "e-1", source: "/shop", type: "order.created", data: { total: 3 } });
      const id1 = (await redis.xadd("s-map", "*", { data: ce })) as string;
      const id2 = (await redis.xadd("s-map", "*", { data: "plain", "Trace-Id": "t1" })) as string;
      await redis.xadd("s-map", "*", { data: "third" });
      const p = createRedisStreamPoller(base("s-map", { initialOffset: "earliest", count: 2 }), options());
      const batch = await p.poll();
      expect(batch.messages.map((m) => m.key)).toEqual([id1, id2]);
      expect(batch.messages[0].event).toEqual({
        attributes: { specversion: "1.0", id: "e-1", source: "/shop", type: "order.created" },
        data: { kind: "json", json: '{"total":3}' },
      });
      expect(batch.messages[1].event?.attributes).toEqual({
        specversion: "1.0",
        id: id2,
        type: "dev.edge-eventing.redisstream.message",
        source: "/apis/v1/namespaces/default/redisstreamsources/orders#s-map",
        time: new Date(Number(id2.split("-")[0])).toISOString(),
        redisfieldtraceid: "t1",
      });
      expect(batch.lag).toBe(3); // 2 pending + 1 not yet delivered
      expect(await p.backlog()).toEqual({ pending: 2, length: 3, lag: 1 });
      await p.commit(batch.messages);
      expect(await p.backlog()).toEqual({ pending: 0, length: 3, lag: 1 });
      const rest = await p.poll();
      expect(rest.messages).toHaveLength(1);
      await p.commit(rest.messages);
      expect(await p.backlog()).toEqual({ pending: 0, length: 3, lag: 0 });
    });

    it("reclaims entries another consumer read but never acknowledged", async () => {
      const redis = client();
      await redis.xadd("s-claim", "*", { data: "x" });
      await redis.xadd("s-claim", "*", { data: "y" });
      const crashed = createRedisStreamPoller(base("s-claim", { initialOffset: "earliest", consumer: "dead" }), options());
      const taken = await crashed.poll();
      expect(taken.messages).toHaveLength(2);
      const survivor = createRedisStreamPoller(base("s-claim", { initialOffset: "earliest", consumer: "alive", minIdleMs: 100 }), options());
      expect((await survivor.poll()).messages).toEqual([]); // not idle long enough yet
      await new Promise((r) => setTimeout(r, 150));
      const reclaimed = await survivor.poll();
      expect(reclaimed.messages.map((m) => m.key)).toEqual(taken.messages.map((m) => m.key));
      await survivor.commit(reclaimed.messages);
      expect((await survivor.backlog()).pending).toBe(0);
    });
  });
});
