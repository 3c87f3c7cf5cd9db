/**
 * Kafka REST proxy v2 consumers: Confluent REST Proxy (and Karapace), Redpanda's pandaproxy and
 * the Strimzi HTTP bridge. Same paths, different bodies and commit arithmetic (reference/bridges.md
 * §1-4): the differences live in one `Dialect` record each.
 */
import type { FetchLike } from "../types.ts";
import { InstanceGoneError, KafkaBridgeError, ResponseTooLargeError, partitionId } from "./bridge.ts";
import type { BridgeClient, ConsumerInstance, FetchedRecord } from "./bridge.ts";
import type { KafkaPollerConfig, TopicPartition } from "./config.ts";
import { DEFAULT_POLL_TIMEOUT_MS, authorization } from "./config.ts";
import { decodeBase64 } from "../../base64.ts";
import type { KafkaHeader } from "./record.ts";

const V2_JSON = "application/vnd.kafka.v2+json";
const BINARY_V2_JSON = "application/vnd.kafka.binary.v2+json";
/** Budget of a control request (create, commit, seek...); a fetch gets this on top of its long-poll wait. */
export const REQUEST_TIMEOUT_MS = 15_000;

type CommitEntry = TopicPartition & { lastOffset: number };

interface Dialect {
  createBody(name: string, config: KafkaPollerConfig, waitMs: number): Record<string, unknown>;
  commitBody(offsets: CommitEntry[]): Record<string, unknown>;
  /** Whether the server keeps the instance by this error (Strimzi answers a bare 404). */
  instanceGone(status: number, errorCode: number | undefined): boolean;
  canSeek: boolean;
  /** `GET .../subscription` exists (touches the instance without side effects). */
  canListSubscription: boolean;
  hasEndOffsets: boolean;
  /** Records carry `headers` (so binary-mode CloudEvents are visible). */
  returnsHeaders: boolean;
  defaultIdleExpiryMs?: number;
}

const offsetsOf = (offsets: CommitEntry[], delta: number) => offsets.map((o) => ({ topic: o.topic, partition: o.partition, offset: o.lastOffset + delta }));

export const DIALECTS: Record<"confluent-v2" | "redpanda" | "strimzi", Dialect> = {
  "confluent-v2": {
    createBody: (name, config, waitMs) => ({
      name,
      format: "binary",
      "auto.offset.reset": config.initialOffset,
      "auto.commit.enable": "false", // the Java consumer default is on
      "fetch.min.bytes": 1, // default -1 would make every fetch wait the whole timeout
      "consumer.request.timeout.ms": waitMs, // caps the `timeout` of a fetch
    }),
    // The proxy commits offset + 1: send the last handed-off offset.
    commitBody: (offsets) => ({ offsets: offsetsOf(offsets, 0) }),
    instanceGone: (status, code) => status === 404 && code === 40403,
    canSeek: true,
    canListSubscription: true,
    hasEndOffsets: true,
    returnsHeaders: false,
    defaultIdleExpiryMs: 300_000,
  },
  redpanda: {
    // Parsed strictly: only these keys, every value a JSON string.
    createBody: (name, _config, waitMs) => ({
      name,
      format: "binary",
      "auto.offset.reset": "earliest",
      "auto.commit.enable": "false",
      "fetch.min.bytes": "1",
      "consumer.request.timeout.ms": String(waitMs),
    }),
    // `partitions`, not `offsets`; stored verbatim and a new instance resumes at committed + 1.
    commitBody: (offsets) => ({ partitions: offsetsOf(offsets, 0) }),
    instanceGone: (status, code) => status === 404 && code === 40403,
    canSeek: false,
    canListSubscription: false,
    hasEndOffsets: false,
    returnsHeaders: false,
    defaultIdleExpiryMs: 300_000,
  },
  strimzi: {
    createBody: (name, config, waitMs) => ({
      name,
      format: "binary",
      "auto.offset.reset": config.initialOffset,
      "enable.auto.commit": false, // Strimzi's key and type, default true
      "fetch.min.bytes": 1,
      "consumer.request.timeout.ms": waitMs,
    }),
    // Committed verbatim: send the next offset to read.
    commitBody: (offsets) => ({ offsets: offsetsOf(offsets, 1) }),
    instanceGone: (status) => status === 404,
    canSeek: true,
    canListSubscription: true,
    hasEndOffsets: true,
    returnsHeaders: true,
    defaultIdleExpiryMs: undefined, // http.timeoutSeconds defaults to -1
  },
};

interface CallOptions {
  body?: unknown;
  accept?: string;
  signal?: AbortSignal;
  timeoutMs?: number;
  /** This call addresses a consumer instance: its "not found" means the instance is gone. */
  instance?: boolean;
}

export function createRestProxyClient(config: KafkaPollerConfig, fetch: FetchLike): BridgeClient {
  const type = config.bridge.type;
  if (type === "upstash") throw new Error("createRestProxyClient: upstash is not a REST proxy dialect");
  const dialect = DIALECTS[type];
  const root = config.bridge.url.replace(/\/+$/, "");
  const auth = authorization(config.bridge.auth);
  const waitMs = config.pollTimeoutMs ?? DEFAULT_POLL_TIMEOUT_MS;
  const groupUri = `${root}/consumers/${encodeURIComponent(config.consumerGroup)}`;

  async function call(method: string, url: string, options: CallOptions = {}): Promise<unknown> {
    const headers: Record<string, string> = { accept: options.accept ?? V2_JSON };
    if (auth) headers.authorization = auth;
    if (options.body !== undefined) headers["content-type"] = V2_JSON;
    const timeout = AbortSignal.timeout(options.timeoutMs ?? REQUEST_TIMEOUT_MS);
    const response = await fetch(url, {
      method,
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      signal: options.signal ? AbortSignal.any([options.signal, timeout]) : timeout,
    });
    const text = await response.text();
    if (response.ok) return text === "" ? undefined : JSON.parse(text);
    let errorCode: number | undefined;
    let message = text.slice(0, 300);
    try {
      const body = JSON.parse(text) as { error_code?: unknown; message?: unknown };
      if (typeof body.error_code === "number") errorCode = body.error_code;
      if (typeof body.message === "string") message = body.message;
    } catch {
      // not JSON (gateway page): keep the text
    }
    const what = `${type} ${method} ${new URL(url).pathname}: HTTP ${response.status}${errorCode ? ` error_code ${errorCode}` : ""}: ${message}`;
    if (options.instance && dialect.instanceGone(response.status, errorCode)) throw new InstanceGoneError(what, response.status, errorCode);
    if (type === "strimzi" && response.status === 422 && url.includes("/records?")) throw new ResponseTooLargeError(what);
    throw new KafkaBridgeError(what, response.status, errorCode);
  }

  async function createOnce(name: string): Promise<ConsumerInstance> {
    const created = (await call("POST", groupUri, { body: dialect.createBody(name, config, Math.max(waitMs, 1000)) })) as {
      instance_id?: unknown;
      base_uri?: unknown;
    };
    if (typeof created?.base_uri !== "string" || !/^https?:\/\//.test(created.base_uri)) {
      throw new KafkaBridgeError(`${type} create consumer: response has no absolute base_uri`, 200);
    }
    const instance = typeof created.instance_id === "string" ? created.instance_id : name;
    return { name: instance, baseUri: pinnedInstanceUri(created.base_uri, groupUri, instance) };
  }

  return {
    defaultIdleExpiryMs: dialect.defaultIdleExpiryMs,

    async create(name) {
      let instance: ConsumerInstance;
      try {
        instance = await createOnce(name);
      } catch (error) {
        // A leftover of ours (state lost on eviction): delete it so the group resumes from committed offsets.
        if (!(error instanceof KafkaBridgeError && error.status === 409)) throw error;
        await this.remove({ name, baseUri: `${groupUri}/instances/${encodeURIComponent(name)}` });
        instance = await createOnce(name);
      }
      if (config.assignment) {
        await call("POST", `${instance.baseUri}/assignments`, { body: { partitions: config.assignment }, instance: true });
      } else {
        await call("POST", `${instance.baseUri}/subscription`, { body: { topics: config.topics }, instance: true });
      }
      return instance;
    },

    async fetch(instance, maxBytes, signal) {
      const url = `${instance.baseUri}/records?timeout=${waitMs}&max_bytes=${maxBytes}`;
      const body = await call("GET", url, { accept: BINARY_V2_JSON, signal, timeoutMs: waitMs + REQUEST_TIMEOUT_MS, instance: true });
      if (!Array.isArray(body)) throw new KafkaBridgeError(`${type} fetch: expected a JSON array of records`, 200);
      return body.map((raw) => parseRecord(raw, dialect.returnsHeaders));
    },

    async commit(instance, offsets) {
      if (offsets.length === 0) return; // an empty body would commit everything fetched
      await call("POST", `${instance.baseUri}/offsets`, { body: dialect.commitBody(offsets), instance: true });
    },

    async seek(instance, positions) {
      if (!dialect.canSeek) return false;
      try {
        await call("POST", `${instance.baseUri}/positions`, { body: { offsets: positions }, instance: true });
        return true;
      } catch (error) {
        // 409/40903: the partition is no longer assigned to this instance (rebalanced away).
        if (error instanceof KafkaBridgeError && error.status === 409) return false;
        throw error;
      }
    },

    async touch(instance, committed) {
      if (dialect.canListSubscription) await call("GET", `${instance.baseUri}/subscription`, { instance: true });
      else if (committed.length > 0)
        await this.commit(instance, committed); // identical offsets: no effect but the touch
      else return false;
      return true;
    },

    async remove(instance) {
      try {
        await call("DELETE", instance.baseUri, { instance: true });
      } catch (error) {
        if (!(error instanceof InstanceGoneError)) throw error;
      }
    },

    endOffsets: dialect.hasEndOffsets
      ? async (partitions) => {
          const ends = new Map<string, number>();
          for (const tp of partitions) {
            const url = `${root}/topics/${encodeURIComponent(tp.topic)}/partitions/${tp.partition}/offsets`;
            const body = (await call("GET", url)) as { end_offset?: unknown };
            if (typeof body?.end_offset === "number") ends.set(partitionId(tp), body.end_offset);
          }
          return ends;
        }
      : undefined,
  };
}

/** One record of a binary-format fetch; bad bytes make it undecodable, a bad position is a bridge error. */
function parseRecord(raw: unknown, returnsHeaders: boolean): FetchedRecord {
  const r = raw as Record<string, unknown>;
  if (typeof r?.topic !== "string" || !Number.isInteger(r.partition) || !Number.isInteger(r.offset)) {
    throw new KafkaBridgeError("fetch: a record lacks topic, partition or offset", 200);
  }
  const position = { topic: r.topic, partition: r.partition as number, offset: r.offset as number };
  try {
    const headers: KafkaHeader[] | undefined = returnsHeaders
      ? ((r.headers ?? []) as Array<{ key: string; value: string | null }>).map((h) => ({
          key: String(h.key),
          value: h.value == null ? null : base64ToBytes(h.value),
        }))
      : undefined;
    return {
      ...position,
      key: r.key == null ? null : base64ToBytes(r.key),
      value: r.value == null ? null : base64ToBytes(r.value),
      timestamp: typeof r.timestamp === "number" ? r.timestamp : undefined,
      headers,
    };
  } catch (error) {
    return { ...position, undecodable: `record ${position.topic}/${position.partition}/${position.offset}: ${(error as Error).message}` };
  }
}

function base64ToBytes(text: unknown): Uint8Array {
  const bytes = typeof text === "string" ? decodeBase64(text) : null;
  if (bytes === null) throw new Error("the bridge sent a key, value or header that is not base64");
  return bytes;
}

/**
 * Where the instance's calls (with the bridge's credentials) go: the proxy's `base_uri` when it is on the
 * configured bridge's origin (instance affinity behind a load balancer); otherwise the instance's path under
 * the configured URL. A proxy behind a gateway advertises its internal host, and no credential may follow a
 * `base_uri` to another origin.
 */
export function pinnedInstanceUri(baseUri: string, groupUri: string, instance: string): string {
  return new URL(baseUri).origin === new URL(groupUri).origin ? baseUri : `${groupUri}/instances/${encodeURIComponent(instance)}`;
}
