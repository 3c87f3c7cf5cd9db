/**
 * RedisStreamSource through `@upstash/redis` (Redis over HTTPS, so it runs in a Worker): a consumer
 * group read with XREADGROUP, XACK only after hand-off, and reclaim of entries another consumer
 * took but never acknowledged (XAUTOCLAIM past `minIdleMs`), so a crashed poller loses nothing.
 * Stream values are read as UTF-8 text (the REST protocol carries strings).
 */
import { Redis, type RedisConfigCloudflare } from "@upstash/redis/cloudflare";
import { extensionName, messageEvent, sourceUri } from "../common/message-event.ts";
import type { PolledMessage, SourcePoller } from "../types.ts";

export const REDIS_STREAM_EVENT_TYPE = "dev.edge-eventing.redisstream.message";
/** Entries read per poll, reclaimed ones included. */
export const REDIS_MAX_COUNT = 1000;
export const REDIS_DEFAULT_COUNT = 100;
export const REDIS_DEFAULT_MIN_IDLE_MS = 60_000;

export interface RedisStreamPollerConfig {
  stream: string;
  group: string;
  /** This poller's consumer name in the group (stable across restarts, so its pending entries are its own). */
  consumer: string;
  /** Where a new group starts: `latest` (`$`, Knative's default) or `earliest` (`0`). */
  initialOffset?: "latest" | "earliest";
  count?: number;
  /** Pending entries idle this long are claimed from whichever consumer holds them. */
  minIdleMs?: number;
  /** The field holding the message body; the other fields become `redisfield<name>` extensions. */
  dataField?: string;
  /** The RedisStreamSource resource, for the events' `source`. */
  namespace: string;
  name: string;
}

/** KEDA's redis-streams scaler metrics: pendingEntriesCount, streamLength, lagCount. */
export interface RedisStreamBacklog {
  pending: number;
  length: number;
  /** Entries not yet delivered to the group; null when Redis cannot tell (after deletions). */
  lag: number | null;
}

export interface RedisStreamPoller extends SourcePoller {
  backlog(): Promise<RedisStreamBacklog>;
}

type Entry = [string, string[] | null];

export function createRedisStreamPoller(config: RedisStreamPollerConfig, redisClientOptions: RedisConfigCloudflare): RedisStreamPoller {
  const count = config.count ?? REDIS_DEFAULT_COUNT;
  const minIdleMs = config.minIdleMs ?? REDIS_DEFAULT_MIN_IDLE_MS;
  if (!Number.isInteger(count) || count < 1 || count > REDIS_MAX_COUNT) throw new RangeError(`count must be 1-${REDIS_MAX_COUNT}`);
  if (!Number.isInteger(minIdleMs) || minIdleMs < 0) throw new RangeError("minIdleMs must be a non-negative integer");
  // Raw replies: the default deserializer would JSON.parse every stream value.
  const redis = new Redis({ ...redisClientOptions, automaticDeserialization: false });
  const { stream, group, consumer } = config;
  const dataField = config.dataField ?? "data";
  const source = sourceUri({ namespace: config.namespace, plural: "redisstreamsources", name: config.name }, stream);
  let groupReady = false;
  let claimCursor = "0-0";

  async function ensureGroup(): Promise<void> {
    if (groupReady) return;
    try {
      await redis.xgroup(stream, { type: "CREATE", group, id: config.initialOffset === "earliest" ? "0" : "$", options: { MKSTREAM: true } });
    } catch (e) {
      if (!String((e as Error).message).includes("BUSYGROUP")) throw e;
    }
    groupReady = true;
  }

  async function groupInfo(): Promise<Record<string, unknown> | undefined> {
    const groups = (await redis.xinfo(stream, { type: "GROUPS" })) as unknown[][];
    return groups.map(pairs).find((g) => g.name === group);
  }

  function toMessage([id, fields]: Entry): PolledMessage {
    const values = pairs(fields ?? []);
    const body = values[dataField];
    const extensions: Record<string, string> = {};
    for (const [field, value] of Object.entries(values)) {
      if (field !== dataField) extensions[extensionName("redisfield", field)] ??= String(value);
    }
    return messageEvent(typeof body === "string" ? new TextEncoder().encode(body) : undefined, {
      id,
      source,
      type: REDIS_STREAM_EVENT_TYPE,
      timeMs: Number(id.split("-")[0]),
      extensions,
    });
  }

  return {
    async poll() {
      await ensureGroup();
      // Redis >= 7 also returns the ids of claimed entries that were deleted meanwhile: they leave the PEL by themselves.
      const [cursor, claimed] = (await redis.xautoclaim(stream, group, consumer, minIdleMs, claimCursor, { count })) as [string, Entry[]];
      claimCursor = cursor;
      const live = claimed.filter(([, fields]) => fields !== null);
      let fresh: Entry[] = [];
      if (live.length < count) {
        const read = (await redis.xreadgroup(group, consumer, stream, ">", { count: count - live.length })) as [string, Entry[]][] | null;
        fresh = read?.[0]?.[1] ?? [];
      }
      const info = await groupInfo();
      const lag = typeof info?.lag === "number" ? info.lag + Number(info.pending ?? 0) : undefined;
      return { messages: [...live, ...fresh].map(toMessage), lag };
    },
    async commit(messages) {
      if (messages.length > 0)
        await redis.xack(
          stream,
          group,
          messages.map((m) => m.key),
        );
    },
    async close() {
      groupReady = false;
    },
    async backlog() {
      await ensureGroup();
      // XINFO GROUPS' `pending` is the count XPENDING's summary form reports.
      const [length, info] = await Promise.all([redis.xlen(stream), groupInfo()]);
      return { pending: Number(info?.pending ?? 0), length, lag: typeof info?.lag === "number" ? info.lag : null };
    },
  };
}

/** `[k1, v1, k2, v2]` -> `{k1: v1, k2: v2}`, first occurrence wins. */
function pairs(flat: unknown[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) if (!(String(flat[i]) in out)) out[String(flat[i])] = flat[i + 1];
  return out;
}
