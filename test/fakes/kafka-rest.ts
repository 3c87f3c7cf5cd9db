/**
 * Protocol-faithful local Kafka REST bridges for tests (a real REST proxy cannot run here):
 * Confluent REST Proxy v2, Redpanda pandaproxy and the Strimzi HTTP bridge consumer APIs, and
 * Upstash's Kafka REST API as `@upstash/kafka` calls it. Facts: /work/shared/reference/bridges.md.
 * Several servers can share one `KafkaLog` (topics, groups, committed offsets): that is a
 * multi-node proxy, each node holding its own consumer instances (instance affinity).
 */
import { createServer } from "node:http";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export type RestVariant = "confluent-v2" | "redpanda" | "strimzi";
type Variant = RestVariant | "upstash";

export interface FakeRecordInput {
  key?: Uint8Array | string | null;
  value?: Uint8Array | string | null;
  headers?: Array<{ key: string; value: Uint8Array | string | null }>;
  partition?: number;
  timestamp?: number;
}

interface StoredRecord {
  offset: number;
  key: Uint8Array | null;
  value: Uint8Array | null;
  headers: Array<{ key: string; value: Uint8Array | null }>;
  timestamp: number;
}

interface Instance {
  node: string;
  group: string;
  name: string;
  autoCommit: boolean;
  autoOffsetReset: "earliest" | "latest";
  /** consumer.request.timeout.ms (Confluent caps the fetch timeout with it). */
  requestTimeoutMs: number;
  subscription: string[];
  assignment?: Array<{ topic: string; partition: number }>;
  /** Next offset to read, per "topic/partition". */
  positions: Map<string, number>;
  lastUsed: number;
}

const bytes = (v: Uint8Array | string | null | undefined) => (v == null ? null : typeof v === "string" ? new TextEncoder().encode(v) : v);
const b64 = (v: Uint8Array | null) => (v === null ? null : Buffer.from(v).toString("base64"));
const tpKey = (topic: string, partition: number) => `${topic}/${partition}`;

/** Topics, consumer groups and committed offsets: the Kafka cluster behind the bridges. */
export class KafkaLog {
  readonly topics = new Map<string, StoredRecord[][]>();
  /** group -> "topic/partition" -> offset as the bridge stored it (its own convention). */
  readonly committed = new Map<string, Map<string, number>>();
  readonly instances = new Map<string, Instance>(); // key: node + group + name
  private waiters = new Set<() => void>();

  createTopic(name: string, partitions = 1): void {
    this.topics.set(
      name,
      Array.from({ length: partitions }, () => []),
    );
  }

  produce(topic: string, record: FakeRecordInput): { partition: number; offset: number } {
    const partitions = this.topics.get(topic);
    if (!partitions) throw new Error(`fake: no topic ${topic}`);
    const partition = record.partition ?? 0;
    const log = partitions[partition];
    const offset = log.length;
    log.push({
      offset,
      key: bytes(record.key),
      value: bytes(record.value),
      headers: (record.headers ?? []).map((h) => ({ key: h.key, value: bytes(h.value) })),
      timestamp: record.timestamp ?? Date.now(),
    });
    for (const wake of this.waiters) wake();
    return { partition, offset };
  }

  endOffset(topic: string, partition: number): number {
    return this.topics.get(topic)?.[partition]?.length ?? 0;
  }

  groupCommits(group: string): Map<string, number> {
    let commits = this.committed.get(group);
    if (!commits) {
      commits = new Map();
      this.committed.set(group, commits);
    }
    return commits;
  }

  /** Resolves when a record is produced or after `ms`. */
  waitForRecords(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.waiters.add(done);
    });
  }

  /** Partitions each subscribed member of a group owns now (round-robin over sorted members). */
  assignmentOf(instance: Instance): Array<{ topic: string; partition: number }> {
    if (instance.assignment) return instance.assignment;
    const members = [...this.instances.values()]
      .filter((i) => i.group === instance.group && !i.assignment && i.subscription.length > 0)
      .sort((a, b) => `${a.node}/${a.name}`.localeCompare(`${b.node}/${b.name}`));
    const all = [...new Set(members.flatMap((m) => m.subscription))]
      .sort()
      .flatMap((topic) => (this.topics.get(topic) ?? []).map((_, partition) => ({ topic, partition })));
    const index = members.indexOf(instance);
    return all.filter((tp, i) => i % members.length === index && instance.subscription.includes(tp.topic));
  }
}

export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage["headers"];
  body: string;
}

export interface FakeBridge {
  url: string;
  log: KafkaLog;
  requests: RecordedRequest[];
  /** Answer the next `count` requests whose method and path match with `status` (the server's error envelope). */
  failNext(count: number, status: number, match?: { method?: string; path?: string }): void;
  /** The server forgets this node's consumer instances, as its idle sweep does. */
  expireInstances(): number;
  /** Stop listening (connections refused); `restart` listens on the same port, its instances gone as after a real restart. */
  stop(): Promise<void>;
  restart(): Promise<void>;
  close(): Promise<void>;
}

export interface FakeBridgeOptions {
  log?: KafkaLog;
  /** Consumer instance idle expiry; defaults as the servers do (Confluent/Redpanda 300 s, Strimzi never). */
  idleExpiryMs?: number | null;
  now?: () => number;
  auth?: { username: string; password: string } | { token: string };
}

class HttpError extends Error {
  readonly status: number;
  readonly body: unknown;
  constructor(status: number, body: unknown) {
    super(`HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

const V2 = "application/vnd.kafka.v2+json";
const BINARY_V2 = "application/vnd.kafka.binary.v2+json";

/** Errors in each server's envelope. */
function failure(variant: Variant, status: number, code: number, message: string): HttpError {
  if (variant === "upstash") return new HttpError(status, { error: message, status });
  if (variant === "strimzi") return new HttpError(status, { error_code: status, message });
  return new HttpError(status, { error_code: code, message });
}

const instanceNotFound = (variant: Variant) =>
  variant === "strimzi"
    ? failure(variant, 404, 404, "The specified consumer instance was not found.")
    : failure(variant, 404, 40403, "Consumer instance not found.");

export function startKafkaRestFake(variant: RestVariant, options: FakeBridgeOptions = {}): Promise<FakeBridge> {
  return start(variant, options);
}

export function startUpstashKafkaFake(options: FakeBridgeOptions & { auth: { username: string; password: string } }): Promise<FakeBridge> {
  return start("upstash", options);
}

async function start(variant: Variant, options: FakeBridgeOptions): Promise<FakeBridge> {
  const log = options.log ?? new KafkaLog();
  const now = options.now ?? Date.now;
  const idleExpiryMs =
    options.idleExpiryMs === null ? undefined : (options.idleExpiryMs ?? (variant === "strimzi" ? undefined : variant === "upstash" ? 120_000 : 300_000));
  const requests: RecordedRequest[] = [];
  const node = Math.random().toString(36).slice(2);
  let url = "";
  const faults: Array<{ left: number; status: number; method?: string; path?: string }> = [];
  /** A request that matches a pending fault consumes one of its answers. */
  function injected(req: RecordedRequest): HttpError | undefined {
    const fault = faults.find((f) => f.left > 0 && (!f.method || f.method === req.method) && (!f.path || req.path.includes(f.path)));
    if (!fault) return undefined;
    fault.left--;
    return failure(variant, fault.status, fault.status * 100, `injected fault: HTTP ${fault.status}`);
  }
  const expireInstances = () => {
    let n = 0;
    for (const [id, instance] of log.instances) if (instance.node === node && log.instances.delete(id)) n++;
    return n;
  };

  const expectedAuth = options.auth
    ? "token" in options.auth
      ? `Bearer ${options.auth.token}`
      : `Basic ${Buffer.from(`${options.auth.username}:${options.auth.password}`).toString("base64")}`
    : undefined;

  const instanceId = (group: string, name: string) => `${node}\u0000${group}\u0000${name}`;

  /** The instance unless it idled past the expiry (the servers' periodic sweep has removed it then). */
  function live(id: string): Instance | undefined {
    const instance = log.instances.get(id);
    if (instance && idleExpiryMs !== undefined && now() - instance.lastUsed > idleExpiryMs) log.instances.delete(id);
    return log.instances.get(id);
  }

  /** The live instance, its idle clock restarted; 404 if unknown on this node. */
  function touch(group: string, name: string): Instance {
    const instance = live(instanceId(group, name));
    if (!instance) throw instanceNotFound(variant);
    instance.lastUsed = now();
    return instance;
  }

  /** Next offset to read after a commit stored as `stored`, by each server's convention. */
  const resumeAt = (stored: number) => (variant === "redpanda" ? stored + 1 : stored);

  function syncPositions(instance: Instance): Array<{ topic: string; partition: number }> {
    const owned = log.assignmentOf(instance);
    const ownedKeys = new Set(owned.map((tp) => tpKey(tp.topic, tp.partition)));
    for (const key of instance.positions.keys()) if (!ownedKeys.has(key)) instance.positions.delete(key);
    for (const tp of owned) {
      const key = tpKey(tp.topic, tp.partition);
      if (instance.positions.has(key)) continue;
      const stored = log.groupCommits(instance.group).get(key);
      const start = stored !== undefined ? resumeAt(stored) : instance.autoOffsetReset === "earliest" ? 0 : log.endOffset(tp.topic, tp.partition);
      instance.positions.set(key, start);
    }
    return owned;
  }

  /** Records from the owned partitions, advancing positions; byte limit per server. */
  function take(instance: Instance, maxBytes: number): Array<StoredRecord & { topic: string; partition: number }> {
    const out: Array<StoredRecord & { topic: string; partition: number }> = [];
    let size = 0;
    for (const tp of syncPositions(instance)) {
      const key = tpKey(tp.topic, tp.partition);
      const records = log.topics.get(tp.topic)![tp.partition];
      let position = instance.positions.get(key)!;
      while (position < records.length && out.length < 500) {
        const record = records[position];
        const recordSize = (record.key?.length ?? 0) + (record.value?.length ?? 0);
        // Confluent/Redpanda stop before a record that would exceed max_bytes (stuck on one too big);
        // Strimzi polls first and checks the whole response afterwards.
        if (variant !== "strimzi" && size + recordSize >= maxBytes) break;
        size += recordSize;
        out.push({ ...record, ...tp });
        position++;
      }
      instance.positions.set(key, position);
    }
    return out;
  }

  /** Stored value of a commit of `offset`, by each server's arithmetic. */
  const storedValue = (offset: number) => (variant === "confluent-v2" ? offset + 1 : offset);

  function commitConsumed(instance: Instance) {
    const commits = log.groupCommits(instance.group);
    for (const [key, next] of instance.positions) {
      // What "commit everything consumed" stores, expressed in this server's convention.
      commits.set(key, variant === "redpanda" ? next - 1 : next);
    }
  }

  async function handleRest(req: RecordedRequest): Promise<{ status: number; body?: unknown; type?: string }> {
    const parts = req.path.split("/").filter(Boolean).map(decodeURIComponent);
    const json = () => {
      if (req.body === "") return undefined;
      try {
        return JSON.parse(req.body) as Record<string, unknown>;
      } catch {
        throw failure(variant, variant === "strimzi" ? 400 : 422, 42201, "Unrecognized JSON body");
      }
    };
    const contentTypeOk = () => {
      const type = String(req.headers["content-type"] ?? "")
        .split(";")[0]
        .trim();
      if (![V2, "application/json"].includes(type)) throw failure(variant, 415, 415, `Unsupported media type ${type}`);
    };

    // POST /consumers/{group}
    if (parts[0] === "consumers" && parts.length === 2 && req.method === "POST") {
      contentTypeOk();
      const group = parts[1];
      const body = json() ?? {};
      const config = validateCreate(variant, body);
      const name = typeof body.name === "string" ? body.name : `rest-consumer-${Math.random().toString(36).slice(2)}`;
      if (live(instanceId(group, name))) {
        throw variant === "strimzi"
          ? failure(variant, 409, 409, "A consumer instance with the specified name already exists in the Kafka Bridge.")
          : failure(variant, 409, 40902, "Consumer with specified consumer ID already exists in the specified consumer group.");
      }
      log.instances.set(instanceId(group, name), { node, group, name, subscription: [], positions: new Map(), lastUsed: now(), ...config });
      return { status: 200, body: { instance_id: name, base_uri: `${url}/consumers/${encodeURIComponent(group)}/instances/${encodeURIComponent(name)}` } };
    }

    // /consumers/{group}/instances/{name}[/...]
    if (parts[0] === "consumers" && parts[2] === "instances" && parts.length >= 4) {
      const [group, name, action] = [parts[1], parts[3], parts.slice(4).join("/")];
      if (action === "" && req.method === "DELETE") {
        touch(group, name);
        log.instances.delete(instanceId(group, name));
        return { status: 204 };
      }
      if (action === "subscription" && req.method === "POST") {
        const instance = touch(group, name);
        const topics = json()?.topics;
        if (!Array.isArray(topics)) throw failure(variant, 422, 42204, "topics is required");
        if (instance.assignment) throw failure(variant, 409, 40903, "Subscriptions to topics, partitions, and patterns are mutually exclusive.");
        instance.subscription = topics as string[];
        return { status: 204 };
      }
      if (action === "subscription" && req.method === "GET" && variant !== "redpanda") {
        return { status: 200, body: { topics: touch(group, name).subscription } };
      }
      if (action === "assignments" && req.method === "POST" && variant !== "redpanda") {
        const instance = touch(group, name);
        instance.assignment = (json()?.partitions ?? []) as Array<{ topic: string; partition: number }>;
        return { status: 204 };
      }
      if (action === "records" && req.method === "GET") {
        const instance = touch(group, name);
        if (String(req.headers.accept ?? "") !== BINARY_V2) {
          throw failure(variant, 406, 40601, "The requested embedded data format does not match the deserializer for this consumer instance");
        }
        const requested = Number(req.query.get("timeout") ?? instance.requestTimeoutMs);
        const wait = variant === "confluent-v2" ? Math.min(requested, instance.requestTimeoutMs) : requested;
        const maxBytes = Number(req.query.get("max_bytes") ?? 64 << 20);
        // The long-poll runs on real time; the injectable clock only drives idle expiry.
        const deadline = Date.now() + wait;
        let records = take(instance, maxBytes);
        while (records.length === 0 && Date.now() < deadline) {
          await log.waitForRecords(Math.max(1, deadline - Date.now()));
          if (!log.instances.has(instanceId(group, name))) break;
          records = take(instance, maxBytes);
        }
        if (instance.autoCommit) commitConsumed(instance);
        const body = records.map((r) =>
          variant === "strimzi"
            ? {
                topic: r.topic,
                key: b64(r.key),
                value: b64(r.value),
                partition: r.partition,
                offset: r.offset,
                timestamp: r.timestamp,
                ...(r.headers.length ? { headers: r.headers.map((h) => ({ key: h.key, value: b64(h.value) })) } : {}),
              }
            : { topic: r.topic, key: b64(r.key), value: b64(r.value), partition: r.partition, offset: r.offset },
        );
        if (variant === "strimzi" && JSON.stringify(body).length > maxBytes) {
          throw failure(variant, 422, 422, "Response exceeds the maximum number of bytes the consumer can receive");
        }
        return { status: 200, body, type: BINARY_V2 };
      }
      if (action === "offsets" && req.method === "POST") {
        contentTypeOk();
        const instance = touch(group, name);
        const body = json();
        if (body === undefined) {
          commitConsumed(instance); // "commit everything fetched": the trap clients must avoid
        } else {
          const listKey = variant === "redpanda" ? "partitions" : "offsets";
          const list = body[listKey];
          if (!Array.isArray(list)) throw failure(variant, 422, 42204, `${listKey} is required`);
          const commits = log.groupCommits(group);
          for (const o of list as Array<{ topic: string; partition: number; offset: number }>) {
            commits.set(tpKey(o.topic, o.partition), storedValue(o.offset));
          }
        }
        return variant === "confluent-v2" ? { status: 200, body: [] } : { status: 204 };
      }
      if (action === "positions" && req.method === "POST" && variant !== "redpanda") {
        contentTypeOk();
        const instance = touch(group, name);
        const owned = new Set(syncPositions(instance).map((tp) => tpKey(tp.topic, tp.partition)));
        const list = (json()?.offsets ?? []) as Array<{ topic: string; partition: number; offset: number }>;
        for (const o of list) {
          if (!owned.has(tpKey(o.topic, o.partition))) {
            throw failure(variant, 409, 40903, `Illegal state: No current assignment for partition ${o.topic}-${o.partition}`);
          }
        }
        for (const o of list) instance.positions.set(tpKey(o.topic, o.partition), o.offset);
        return { status: 204 };
      }
    }

    // GET /topics/{t}/partitions/{p}/offsets (not on Redpanda)
    if (parts[0] === "topics" && parts[2] === "partitions" && parts[4] === "offsets" && req.method === "GET" && variant !== "redpanda") {
      const [topic, partition] = [parts[1], Number(parts[3])];
      if (!log.topics.get(topic)?.[partition]) throw failure(variant, 404, 40402, "Partition not found.");
      return { status: 200, body: { beginning_offset: 0, end_offset: log.endOffset(topic, partition) } };
    }
    throw failure(variant, 404, 404, "HTTP 404 Not Found");
  }

  async function handleUpstash(req: RecordedRequest): Promise<{ status: number; body?: unknown }> {
    const parts = req.path.split("/").filter(Boolean).map(decodeURIComponent);
    const body = req.body === "" || req.body === "undefined" ? undefined : JSON.parse(req.body);
    const instanceFor = (group: string, name: string): Instance => {
      const id = instanceId(group, name);
      const existing = log.instances.get(id);
      if (existing && (idleExpiryMs === undefined || now() - existing.lastUsed <= idleExpiryMs)) {
        existing.lastUsed = now();
        return existing;
      }
      const instance: Instance = {
        node,
        group,
        name,
        subscription: [],
        positions: new Map(),
        lastUsed: now(),
        requestTimeoutMs: 1000,
        autoCommit: String(req.headers["kafka-enable-auto-commit"] ?? "true") === "true",
        autoOffsetReset: req.headers["kafka-auto-offset-reset"] === "earliest" ? "earliest" : "latest",
      };
      log.instances.set(id, instance);
      return instance;
    };
    if (parts[0] === "consume" && parts.length === 3 && req.method === "POST") {
      const instance = instanceFor(parts[1], parts[2]);
      if (instance.autoCommit) commitConsumed(instance); // auto-commit of what the previous consume returned
      instance.subscription = body?.topics ?? (body?.topic ? [body.topic] : []);
      const deadline = Date.now() + Number(body?.timeout ?? 1000);
      let records = take(instance, 64 << 20);
      while (records.length === 0 && Date.now() < deadline) {
        await log.waitForRecords(Math.max(1, deadline - Date.now()));
        records = take(instance, 64 << 20);
      }
      const text = (v: Uint8Array | null) => (v === null ? "" : new TextDecoder().decode(v));
      return {
        status: 200,
        body: records.map((r) => ({
          topic: r.topic,
          partition: r.partition,
          offset: r.offset,
          timestamp: r.timestamp,
          key: text(r.key),
          value: text(r.value),
          headers: r.headers.map((h) => ({ key: h.key, value: text(h.value) })),
        })),
      };
    }
    if (parts[0] === "commit" && parts.length === 3 && req.method === "POST") {
      const instance = instanceFor(parts[1], parts[2]);
      if (body === undefined) commitConsumed(instance);
      else
        for (const o of [body].flat() as Array<{ topic: string; partition: number; offset: number }>) {
          log.groupCommits(instance.group).set(tpKey(o.topic, o.partition), o.offset);
        }
      return { status: 200, body: { result: "Success", status: 200 } };
    }
    if (parts[0] === "committed" && parts.length === 3 && req.method === "POST") {
      const commits = log.groupCommits(parts[1]);
      return {
        status: 200,
        body: (body as Array<{ topic: string; partition: number }>).map((tp) => ({ ...tp, offset: commits.get(tpKey(tp.topic, tp.partition)) ?? -1 })),
      };
    }
    if (parts[0] === "delete-consumer" && parts.length === 3 && (req.method === "POST" || req.method === "DELETE")) {
      log.instances.delete(instanceId(parts[1], parts[2]));
      return { status: 200, body: { result: "Success", status: 200 } };
    }
    if (parts[0] === "offsets" && parts[1] === "latest" && req.method === "POST") {
      return {
        status: 200,
        body: (body as Array<{ topic: string; partition: number }>).map((tp) => ({ ...tp, offset: log.endOffset(tp.topic, tp.partition) })),
      };
    }
    throw failure(variant, 404, 404, "Not Found");
  }

  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const parsed = new URL(req.url ?? "/", "http://fake");
    const recorded: RecordedRequest = {
      method: req.method ?? "GET",
      path: parsed.pathname,
      query: parsed.searchParams,
      headers: req.headers,
      body: Buffer.concat(chunks).toString("utf8"),
    };
    requests.push(recorded);
    let status: number;
    let body: unknown;
    let type = variant === "upstash" ? "application/json" : V2;
    try {
      if (expectedAuth !== undefined && req.headers.authorization !== expectedAuth) throw failure(variant, 401, 40101, "Unauthorized");
      const fault = injected(recorded);
      if (fault) throw fault;
      const result = variant === "upstash" ? await handleUpstash(recorded) : await handleRest(recorded);
      ({ status, body } = result);
      if ("type" in result && typeof result.type === "string") type = result.type;
    } catch (error) {
      if (!(error instanceof HttpError)) throw error;
      ({ status, body } = error);
    }
    if (body === undefined) {
      res.writeHead(status).end();
    } else {
      res.writeHead(status, { "content-type": type }).end(JSON.stringify(body));
    }
  });
  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => {
        server.off("error", reject);
        resolve();
      });
    });
  const stop = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      if (!server.listening) return resolve();
      server.close(() => resolve());
    });
  await listen(0);
  const port = (server.address() as AddressInfo).port;
  url = `http://127.0.0.1:${port}`;
  return {
    url,
    log,
    requests,
    failNext: (count, status, match = {}) => void faults.push({ left: count, status, ...match }),
    expireInstances,
    stop,
    restart: async () => {
      expireInstances();
      await listen(port);
    },
    close: stop,
  };
}

/** Each server's consumer-creation rules; returns the instance settings. */
function validateCreate(variant: Variant, body: Record<string, unknown>): Pick<Instance, "autoCommit" | "autoOffsetReset" | "requestTimeoutMs"> {
  const reject = (message: string) =>
    variant === "strimzi"
      ? new HttpError(422, { error_code: 422, message: "Validation error", validation_errors: [message] })
      : failure(variant, variant === "redpanda" ? 400 : 422, 42204, message);
  const format = String(body.format ?? "binary");
  const reset = String(body["auto.offset.reset"] ?? "latest");
  const timeout = body["consumer.request.timeout.ms"];
  if (variant === "redpanda") {
    const allowed = ["name", "format", "auto.offset.reset", "auto.commit.enable", "fetch.min.bytes", "consumer.request.timeout.ms"];
    for (const [k, v] of Object.entries(body)) {
      if (!allowed.includes(k)) throw reject(`unknown key ${k}`);
      if (typeof v !== "string") throw reject(`${k} must be a string`);
    }
    if (!["binary", "json"].includes(format)) throw reject("format must be binary or json");
    if ((body["auto.offset.reset"] ?? "earliest") !== "earliest") throw reject("auto.offset.reset must be earliest");
    if ((body["auto.commit.enable"] ?? "false") !== "false") throw reject("auto.commit.enable must be false");
    return { autoCommit: false, autoOffsetReset: "earliest", requestTimeoutMs: Number(timeout ?? 1000) };
  }
  if (variant === "strimzi") {
    const allowed = ["name", "format", "auto.offset.reset", "enable.auto.commit", "fetch.min.bytes", "consumer.request.timeout.ms", "isolation.level"];
    for (const k of Object.keys(body)) if (!allowed.includes(k)) throw reject(`unknown property ${k}`);
    if (body["enable.auto.commit"] !== undefined && typeof body["enable.auto.commit"] !== "boolean") throw reject("enable.auto.commit must be a boolean");
    return {
      autoCommit: body["enable.auto.commit"] !== false,
      autoOffsetReset: reset === "earliest" ? "earliest" : "latest",
      requestTimeoutMs: Number(timeout ?? 30_000),
    };
  }
  // Confluent: auto.commit.enable is a string; unset leaves the Java consumer default (true).
  return {
    autoCommit: body["auto.commit.enable"] !== "false",
    autoOffsetReset: reset === "earliest" ? "earliest" : "latest",
    requestTimeoutMs: Number(timeout ?? 1000),
  };
}
