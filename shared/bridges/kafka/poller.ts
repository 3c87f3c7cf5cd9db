/**
 * The KafkaSource poll state machine over any bridge client. At-least-once: records are committed
 * only when the caller reports them handed off, per partition up to the first record that was not;
 * anything fetched and left uncommitted is fetched again (seek back, or a fresh consumer instance
 * that resumes at the committed offsets) before new records are read. The state is plain JSON, saved
 * after every change, so a Durable Object evicted between calls resumes with the same instance.
 */
import type { FetchLike, PollBatch, PolledMessage, SourcePoller } from "../types.ts";
import { InstanceGoneError, KafkaBridgeError, ResponseTooLargeError, partitionId } from "./bridge.ts";
import type { BridgeClient, ConsumerInstance, FetchedRecord } from "./bridge.ts";
import type { KafkaPollerConfig, TopicPartition } from "./config.ts";
import { DEFAULT_FETCH_BYTES, MAX_FETCH_BYTES, validateKafkaPollerConfig } from "./config.ts";
import { recordToMessage } from "./record.ts";
import type { PartitionOffsets } from "../../autoscaling/kafka-lag.ts";
import { createRestProxyClient } from "./rest-proxy.ts";
import { createUpstashClient } from "./upstash.ts";

export interface PartitionState extends TopicPartition {
  /** Offsets fetched and not yet committed, in fetch order. */
  pending: number[];
  /** Those of `pending` already handed off, waiting behind an earlier one that was not. */
  done: number[];
  /** Offset of the last record committed (handed off). */
  committed?: number;
  /** Offset of the last record fetched. */
  fetched?: number;
  /** The partition's end offset (the next one to be written) at the last lag refresh. */
  latest?: number;
}

export interface KafkaPollerState {
  version: 1;
  /** Bridge, group and topics the state belongs to: a changed source starts afresh. */
  configKey: string;
  instance?: ConsumerInstance & { lastUsedAt: number };
  /** Current `max_bytes`; grows after Strimzi's 422. */
  maxBytes: number;
  partitions: Record<string, PartitionState>;
  lastPollAt?: number;
  lag?: number;
  lagAt?: number;
  lastError?: string;
}

/** Where the poller keeps its state between invocations (Durable Object storage, or memory in tests). */
export interface PollerStateStore {
  load(): Promise<unknown>;
  save(state: KafkaPollerState): Promise<void>;
}

export interface KafkaPollerStatus {
  lastPollAt?: number;
  /** Records behind the committed position over the partitions seen so far (Confluent, Strimzi, Upstash). */
  lag?: number;
  lastError?: string;
  /** The consumer instance's URL, for the source's status. */
  instanceUri?: string;
}

export interface KafkaPoller extends SourcePoller {
  /** Call while not polling (e.g. paused by backpressure): touches the instance before the server expires it. */
  keepAlive(): Promise<void>;
  status(): Promise<KafkaPollerStatus>;
}

/** How often the end offsets are read for lag (one request per partition). */
export const LAG_REFRESH_MS = 30_000;
/** Treat an instance as expired this long before the server would, so no fetch races the expiry. */
const EXPIRY_MARGIN_MS = 5_000;

export function createKafkaPoller(config: KafkaPollerConfig, fetch: FetchLike, store: PollerStateStore, now: () => number = Date.now): KafkaPoller {
  const errors = validateKafkaPollerConfig(config);
  if (errors.length > 0) throw new Error(`invalid KafkaSource: ${errors.map((e) => `${e.field}: ${e.message}`).join("; ")}`);
  const client: BridgeClient = config.bridge.type === "upstash" ? createUpstashClient(config) : createRestProxyClient(config, fetch);
  const idleExpiryMs = config.bridge.idleExpiryMs ?? client.defaultIdleExpiryMs;
  const margin = idleExpiryMs === undefined ? 0 : Math.min(EXPIRY_MARGIN_MS, idleExpiryMs / 10);
  const configKey = JSON.stringify([config.bridge.type, config.bridge.url, config.consumerGroup, config.topics, config.assignment ?? null]);
  // A fixed name per source (and assignment) so a restart replaces its instance instead of leaking one.
  // Each of `spec.consumers` is its own member of the group, so the group spreads the partitions over them.
  const member = config.consumer ? [`c${config.consumer}`] : [];
  const instanceName = [
    "edge",
    config.source.namespace,
    config.source.name,
    ...member,
    ...(config.assignment ?? []).map((tp) => `${tp.topic}-${tp.partition}`),
  ].join("-");

  let state: KafkaPollerState | undefined;
  let queue: Promise<unknown> = Promise.resolve();
  /** One operation at a time: the state is read-modify-write. */
  function exclusive<T>(operation: (s: KafkaPollerState) => Promise<T>): Promise<T> {
    const run = queue.then(async () => {
      state ??= restore(await store.load(), configKey, config.bridge.maxBytes ?? DEFAULT_FETCH_BYTES);
      return operation(state);
    });
    queue = run.catch(() => undefined);
    return run;
  }

  const expired = (instance: { lastUsedAt: number }) => idleExpiryMs !== undefined && now() - instance.lastUsedAt >= idleExpiryMs - margin;

  /** Pending records will be fetched again: the position went back to the first of them. */
  function clearPending(s: KafkaPollerState) {
    for (const p of Object.values(s.partitions)) {
      p.pending = [];
      p.done = [];
    }
  }

  /** Whatever replaces the instance resumes at the committed offsets. */
  function forgetInstance(s: KafkaPollerState) {
    s.instance = undefined;
    clearPending(s);
  }

  async function createInstance(s: KafkaPollerState) {
    const created = await client.create(instanceName);
    forgetInstance(s);
    s.instance = { ...created, lastUsedAt: now() };
  }

  async function recreate(s: KafkaPollerState) {
    if (s.instance) await client.remove(s.instance);
    forgetInstance(s);
    await store.save(s);
    await createInstance(s);
  }

  /** A usable instance positioned at the first record not committed. */
  async function ready(s: KafkaPollerState): Promise<ConsumerInstance> {
    if (s.instance && expired(s.instance)) forgetInstance(s); // gone on the server already: skip the 404 round trip
    if (!s.instance) {
      await createInstance(s);
      return s.instance!;
    }
    const positions = Object.values(s.partitions)
      .filter((p) => p.pending.length > 0)
      .map((p) => ({ topic: p.topic, partition: p.partition, offset: p.pending[0] }));
    if (positions.length === 0) return s.instance;
    let sought = false;
    try {
      sought = await client.seek(s.instance, positions);
    } catch (error) {
      if (!(error instanceof InstanceGoneError)) throw error;
    }
    if (!sought) {
      await recreate(s);
      return s.instance!;
    }
    clearPending(s);
    s.instance.lastUsedAt = now();
    return s.instance;
  }

  async function fetchRecords(s: KafkaPollerState, signal?: AbortSignal): Promise<FetchedRecord[]> {
    let instance = await ready(s);
    try {
      return await client.fetch(instance, s.maxBytes, signal);
    } catch (error) {
      if (error instanceof InstanceGoneError) {
        forgetInstance(s);
        await createInstance(s);
        instance = s.instance!;
        return await client.fetch(instance, s.maxBytes, signal);
      }
      if (error instanceof ResponseTooLargeError) {
        // The dropped records were polled: only a fresh instance reads them again. Retry bigger, within the cap.
        if (s.maxBytes >= MAX_FETCH_BYTES) {
          throw new KafkaBridgeError(`${error.message} (max_bytes already at the ${MAX_FETCH_BYTES} limit)`, 422, 422);
        }
        s.maxBytes = Math.min(s.maxBytes * 2, MAX_FETCH_BYTES);
        await recreate(s);
        return [];
      }
      throw error;
    }
  }

  function track(s: KafkaPollerState, records: FetchedRecord[]): PolledMessage[] {
    return records.map((record) => {
      const id = partitionId(record);
      s.partitions[id] ??= { topic: record.topic, partition: record.partition, pending: [], done: [] };
      const p = s.partitions[id];
      // The position went back (rebalance, reset): what was pending arrives again in this stream.
      if (p.fetched !== undefined && record.offset <= p.fetched) {
        p.pending = [];
        p.done = [];
      }
      p.pending.push(record.offset);
      p.fetched = record.offset;
      if ("undecodable" in record) return { key: `${id}/${record.offset}`, poison: record.undecodable };
      return recordToMessage(record, config.source, config.keyType);
    });
  }

  /** End offsets are read at most every LAG_REFRESH_MS; the lag itself is recounted from them after every fetch. */
  async function refreshLag(s: KafkaPollerState) {
    if (!client.endOffsets) return;
    if (s.lagAt === undefined || now() - s.lagAt >= LAG_REFRESH_MS) {
      const known = Object.values(s.partitions).filter((p) => p.fetched !== undefined);
      if (known.length === 0) return;
      const ends = await client.endOffsets(known);
      for (const p of known) p.latest = ends.get(partitionId(p)) ?? p.latest;
      s.lagAt = now();
    }
    s.lag = partitionOffsets(s).reduce((sum, p) => sum + p.latest! - p.committed, 0);
  }

  function committedEntries(s: KafkaPollerState) {
    return Object.values(s.partitions)
      .filter((p) => p.committed !== undefined)
      .map((p) => ({ topic: p.topic, partition: p.partition, lastOffset: p.committed! }));
  }

  async function recordingErrors<T>(s: KafkaPollerState, operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      s.lastError = (error as Error).message;
      await store.save(s);
      throw error;
    }
  }

  return {
    poll: (signal) =>
      exclusive((s) =>
        recordingErrors(s, async (): Promise<PollBatch> => {
          const records = await fetchRecords(s, signal);
          s.instance!.lastUsedAt = now();
          const messages = track(s, records);
          s.lastPollAt = now();
          s.lastError = undefined;
          try {
            await refreshLag(s);
          } catch (error) {
            s.lastError = `lag: ${(error as Error).message}`; // the records are good; lag stays as last known
          }
          await store.save(s);
          return s.lag === undefined ? { messages } : { messages, lag: s.lag };
        }),
      ),

    commit: (messages) =>
      exclusive((s) =>
        recordingErrors(s, async () => {
          const handed = new Map<string, Set<number>>();
          for (const m of messages) {
            const match = /^(.+)\/(\d+)\/(\d+)$/.exec(m.key);
            if (!match) throw new Error(`commit: message key "${m.key}" is not topic/partition/offset`);
            const id = `${match[1]}/${match[2]}`;
            if (!handed.has(id)) handed.set(id, new Set());
            handed.get(id)!.add(Number(match[3]));
          }
          const entries: Array<TopicPartition & { lastOffset: number; count: number }> = [];
          for (const [id, offsets] of handed) {
            const p = s.partitions[id];
            if (!p) continue; // from a forgotten instance: it will be fetched again
            const done = new Set([...p.done, ...[...offsets].filter((o) => p.pending.includes(o))]);
            p.done = p.pending.filter((o) => done.has(o));
            let count = 0;
            while (count < p.pending.length && done.has(p.pending[count])) count++;
            if (count > 0) entries.push({ topic: p.topic, partition: p.partition, lastOffset: p.pending[count - 1], count });
          }
          if (entries.length === 0) return;
          try {
            await client.commit(s.instance!, entries);
          } catch (error) {
            if (!(error instanceof InstanceGoneError)) throw error;
            forgetInstance(s);
            throw new KafkaBridgeError(
              `${error.message}; the consumer instance expired before the commit, its records will be fetched again`,
              error.status,
              error.errorCode,
            );
          }
          for (const e of entries) {
            const p = s.partitions[partitionId(e)];
            p.pending = p.pending.slice(e.count);
            p.done = p.done.filter((o) => o > e.lastOffset);
            p.committed = e.lastOffset;
          }
          s.instance!.lastUsedAt = now();
          await store.save(s);
        }),
      ),

    keepAlive: () =>
      exclusive(async (s) => {
        const instance = s.instance;
        if (!instance || idleExpiryMs === undefined) return;
        if (expired(instance)) {
          forgetInstance(s);
        } else if (now() - instance.lastUsedAt >= idleExpiryMs / 2) {
          await recordingErrors(s, async () => {
            try {
              if (await client.touch(instance, committedEntries(s))) instance.lastUsedAt = now();
            } catch (error) {
              if (!(error instanceof InstanceGoneError)) throw error;
              forgetInstance(s);
            }
          });
        } else return;
        await store.save(s);
      }),

    status: () => exclusive(async (s) => ({ lastPollAt: s.lastPollAt, lag: s.lag, lastError: s.lastError, instanceUri: s.instance?.baseUri })),

    close: () =>
      exclusive(async (s) => {
        if (s.instance) await client.remove(s.instance);
        forgetInstance(s);
        await store.save(s);
      }),
  };
}

/**
 * Each partition read so far as KEDA's lag formula takes it: `committed` is the next offset the group
 * reads (the first record fetched and not yet committed, so records the router holds count as lag),
 * `latest` the end offset, at least one past the last record fetched.
 */
export function partitionOffsets(s: KafkaPollerState): PartitionOffsets[] {
  return Object.values(s.partitions)
    .filter((p) => p.fetched !== undefined)
    .map((p) => {
      const committed = p.pending[0] ?? (p.committed ?? p.fetched!) + 1;
      return { topic: p.topic, partition: p.partition, committed, latest: Math.max(p.latest ?? 0, p.fetched! + 1, committed) };
    });
}

/** The saved state if it is ours and well formed, else a fresh one. */
function restore(saved: unknown, configKey: string, maxBytes: number): KafkaPollerState {
  const s = saved as Partial<KafkaPollerState> | undefined;
  const valid =
    s?.version === 1 &&
    s.configKey === configKey &&
    typeof s.maxBytes === "number" &&
    typeof s.partitions === "object" &&
    s.partitions !== null &&
    Object.values(s.partitions).every((p) => Array.isArray(p?.pending) && Array.isArray(p?.done));
  return valid ? (structuredClone(s) as KafkaPollerState) : { version: 1, configKey, maxBytes, partitions: {} };
}
