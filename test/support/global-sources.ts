/**
 * vitest globalSetup: the message systems the source pollers read, for the workerd test files. The
 * fakes (Kafka REST, RocketMQ, MNS) and redis-server run here in Node; tests drive them over a small
 * control API on 127.0.0.1 whose URL is provided as `sourcesControlUrl`:
 *
 *   POST /start   {type: "kafka", variant} | {type: "rocketmq"|"mns", accessKeyId, accessKeySecret}
 *                 | {type: "redis", token}                 -> {id, url} | {skip: "reason"}
 *   POST /{id}/{operation}  JSON arguments                 -> JSON result (the *Ops functions below)
 *
 * Tests pass credentials they read from their own Worker env, so the fakes check what the router sends.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { type FakeRocketMQ, startFakeRocketMQ } from "../fakes/alibaba-mq.ts";
import { type FakeBridge, KafkaLog, type RestVariant, startKafkaRestFake } from "../fakes/kafka-rest.ts";
import { type FakeMns, startFakeMns } from "../fakes/mns.ts";
import { type RedisRest, redisMissing, startRedisRest } from "./redis.ts";
import { freePort } from "./router.ts";

declare module "vitest" {
  export interface ProvidedContext {
    sourcesControlUrl: string;
  }
}

type Args = Record<string, any>;
type Fake = { url: string; close(): Promise<void>; ops: Record<string, (args: Args) => unknown> };

function kafkaOps(fake: FakeBridge, log: KafkaLog): Fake["ops"] {
  return {
    createTopic: ({ name, partitions }) => log.createTopic(name, partitions ?? 1),
    produce: ({ topic, value, key, headers, partition }) => log.produce(topic, { value, key, headers, partition }),
    /** Recorded requests of the bridge (the query as a string). */
    requests: () => fake.requests.map((r) => ({ method: r.method, path: r.path, query: r.query.toString(), body: r.body })),
    committed: ({ group }) => Object.fromEntries(log.groupCommits(group)),
    instances: () => log.instances.size,
    /** Faults: the next `count` requests matching method/path (a substring) answered with `status`. */
    failNext: ({ count, status, method, path }) => fake.failNext(count, status, { method, path }),
    /** The server forgets its consumer instances (idle expiry). */
    expireInstances: () => fake.expireInstances(),
    /** Bridge down (connections refused) and back on the same URL, its consumer instances gone. */
    stop: () => fake.stop(),
    restart: () => fake.restart(),
  };
}

/** Faults and the clock, common to the Alibaba fakes. */
function aliyunOps(fake: FakeRocketMQ | FakeMns): Fake["ops"] {
  return {
    failNext: ({ count, status, method }) => fake.failNext(count, status, method),
    advance: ({ ms }) => fake.advance(ms),
  };
}

function rocketmqOps(fake: FakeRocketMQ): Fake["ops"] {
  return {
    ...aliyunOps(fake),
    createTopic: ({ topic }) => fake.createTopic(topic),
    publish: ({ topic, body, tag, properties }) => ({ id: fake.publish(topic, { body, tag, properties }) }),
    acked: ({ topic, group }) => fake.acked(topic, group),
  };
}

function mnsOps(fake: FakeMns): Fake["ops"] {
  return {
    ...aliyunOps(fake),
    createQueue: ({ queue }) => fake.createQueue(queue),
    send: ({ queue, body }) => ({ id: fake.send(queue, body) }),
    remaining: ({ queue }) => fake.remaining(queue),
  };
}

export default async function setup(project: TestProject) {
  const fakes = new Map<string, Fake>();
  const rests: RedisRest[] = [];
  const dirs: string[] = [];
  let redis: { port: number; dir: string } | undefined;
  let redisStarts: Promise<unknown> = Promise.resolve();

  /** One start at a time, so two never both find the port free; the first starts redis-server. */
  function startRedis(token: string): Promise<Fake | { skip: string }> {
    const run = redisStarts.then(async (): Promise<Fake | { skip: string }> => {
      const missing = redisMissing();
      if (missing) return { skip: missing };
      if (!redis) {
        const dir = mkdtempSync(join(tmpdir(), "edge-sources-redis-"));
        dirs.push(dir);
        redis = { port: await freePort(), dir };
      }
      const rest = await startRedisRest({ token, redisPort: redis.port, dir: redis.dir });
      rests.push(rest);
      return { url: rest.url, close: async () => {}, ops: {} };
    });
    redisStarts = run.catch(() => undefined);
    return run;
  }

  async function start(args: Args): Promise<Fake | { skip: string }> {
    switch (args.type) {
      case "kafka": {
        const log = new KafkaLog();
        const fake = await startKafkaRestFake(args.variant as RestVariant, { log });
        return { url: fake.url, close: () => fake.close(), ops: kafkaOps(fake, log) };
      }
      case "rocketmq": {
        const fake = await startFakeRocketMQ({ accessKeyId: args.accessKeyId, accessKeySecret: args.accessKeySecret });
        return { url: fake.url, close: () => fake.close(), ops: rocketmqOps(fake) };
      }
      case "mns": {
        const fake = await startFakeMns({ accessKeyId: args.accessKeyId, accessKeySecret: args.accessKeySecret });
        return { url: fake.url, close: () => fake.close(), ops: mnsOps(fake) };
      }
      case "redis":
        return startRedis(args.token);
      default:
        throw new Error(`unknown fake type ${args.type}`);
    }
  }

  const server = createServer(async (req, res) => {
    const reply = (status: number, body: unknown) => res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body ?? null));
    try {
      const args = JSON.parse((await readBody(req)) || "{}") as Args;
      const path = new URL(req.url ?? "/", "http://localhost").pathname.split("/").filter(Boolean);
      if (path.length === 1 && path[0] === "start") {
        const started = await start(args);
        if ("skip" in started) return reply(200, started);
        const id = String(fakes.size + 1);
        fakes.set(id, started);
        return reply(200, { id, url: started.url });
      }
      const op = fakes.get(path[0])?.ops[path[1]];
      if (path.length !== 2 || !op) return reply(404, { error: `no operation ${req.url}` });
      return reply(200, await op(args));
    } catch (error) {
      return reply(500, { error: (error as Error).message });
    }
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  project.provide("sourcesControlUrl", `http://127.0.0.1:${(server.address() as AddressInfo).port}`);

  return async () => {
    await new Promise((done) => server.close(done));
    await Promise.all([...fakes.values()].map((f) => f.close()));
    // The first REST server started redis-server: it goes last.
    for (const rest of rests.reverse()) await rest.stop();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((done, fail) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => done(Buffer.concat(chunks).toString("utf8")));
    req.on("error", fail);
  });
}
