/** The broker subresources of docs/OPERATIONS.md: served by workers/live.ts, called by the CLI and the dashboard. */
import { decodeBase64Url, encodeBase64Url } from "../base64.ts";
import type { Phase, Verdict } from "../delivery/outcome.ts";
import { MAX_PARTITIONS } from "../partitions.ts";
import { type GateStats, sumGateStats } from "../autoscaling/activator.ts";

export type BrokerSubresource = "live" | "metrics" | "deadletters";

export function brokerSubresource(namespace: string, broker: string, sub: BrokerSubresource): string {
  return `/apis/eventing.knative.dev/v1/namespaces/${encodeURIComponent(namespace)}/brokers/${encodeURIComponent(broker)}/${sub}`;
}

/** What the broker counts per event: one list for the broker, /metrics and the dashboard. */
export type EventCounter =
  | "accepted"
  | "duplicates"
  | "replies"
  | "matched"
  | "delivered"
  | "retried"
  | "deadlettered"
  | "failed"
  | "dropped"
  | "history_evicted"
  | ReplyCounter;
/** What became of events carrying a RequestReply's reply attribute (durable-objects/broker/reply-handoff.ts). */
export type ReplyCounter = "requestreply_delivered" | "requestreply_late" | "requestreply_duplicate" | "requestreply_refused" | "requestreply_undelivered";
/** Delivery latency histogram: a bucket per `le` in milliseconds, the overflow bucket and the sum. */
export type LatencyCounter = `latency_le_${number}` | "latency_le_inf" | "latency_sum_ms";
/** SQLite rows the broker's statements wrote and read (`cursor.rowsWritten`, `cursor.rowsRead`): its storage bill. */
export type StorageCounter = "rows_written" | "rows_read";
export type CounterName = EventCounter | LatencyCounter | StorageCounter;
export interface CounterRow {
  /** "" for broker-level counters. */
  trigger: string;
  name: CounterName;
  value: number;
}

export interface BrokerMetrics {
  backlog: number;
  dead: number;
  /** Deliveries in flight per trigger right now: the concurrency an autoscaler scales on. */
  inflight: Record<string, number>;
  /** Due deliveries per trigger that the trigger's rate limit held back at its last dispatch (triggers with any). */
  rateLimited?: Record<string, number>;
  /** trigger "" holds broker-level counters (accepted, duplicates, rows written and read). */
  counters: CounterRow[];
  /** Triggers a ScaledObject gates (the activator): what waits for its target and what is in flight to it. */
  activator?: Record<string, GateStats>;
}

export interface DeadLetter {
  /** Unique across the broker's partitions: what `redeliver` takes (see deadLetterId). */
  id: number;
  /** The partition that keeps it, on a partitioned broker. */
  partition?: number;
  trigger: string;
  at: number;
  reason: string;
  event: Record<string, unknown>;
}

/** A partitioned broker's metrics subresource: the sums over its partitions, and each partition's own. */
export interface PartitionedMetrics extends BrokerMetrics {
  partitions: number;
  byPartition?: { partition: number; backlog: number; dead: number }[];
}

/** One broker's metrics from its partitions' (counters, backlog, in-flight and dead letters summed). */
export function sumMetrics(parts: BrokerMetrics[]): PartitionedMetrics {
  const inflight: Record<string, number> = {};
  const rateLimited: Record<string, number> = {};
  const gated: Record<string, GateStats[]> = {};
  const counters = new Map<string, CounterRow>();
  for (const m of parts) {
    for (const [t, n] of Object.entries(m.inflight)) inflight[t] = (inflight[t] ?? 0) + n;
    for (const [t, n] of Object.entries(m.rateLimited ?? {})) rateLimited[t] = (rateLimited[t] ?? 0) + n;
    for (const [t, g] of Object.entries(m.activator ?? {})) {
      gated[t] ??= [];
      gated[t].push(g);
    }
    for (const c of m.counters) {
      const key = JSON.stringify([c.trigger, c.name]);
      const into = counters.get(key);
      if (into) into.value += c.value;
      else counters.set(key, { ...c });
    }
  }
  return {
    backlog: parts.reduce((n, m) => n + m.backlog, 0),
    dead: parts.reduce((n, m) => n + m.dead, 0),
    inflight,
    rateLimited,
    ...(Object.keys(gated).length > 0 ? { activator: Object.fromEntries(Object.entries(gated).map(([t, parts]) => [t, sumGateStats(parts)])) } : {}),
    counters: [...counters.values()],
    partitions: parts.length,
    ...(parts.length > 1 ? { byPartition: parts.map((m, partition) => ({ partition, backlog: m.backlog, dead: m.dead })) } : {}),
  };
}

/**
 * A dead letter's id across a broker's partitions: the partition's own row id and the partition, in one
 * number (row * MAX_PARTITIONS + partition), so one id finds its partition again after N grows.
 */
export function deadLetterId(row: number, partition: number): number {
  return row * MAX_PARTITIONS + partition;
}

export function deadLetterRow(id: number): { row: number; partition: number } {
  return { row: Math.floor(id / MAX_PARTITIONS), partition: id % MAX_PARTITIONS };
}

/** What the live feed pushes (durable-objects/broker.ts). */
export type LiveMessage =
  | { kind: "event"; at: number; id: string; source: string; type: string; matched: string[]; partition?: number }
  | {
      kind: "delivery";
      at: number;
      trigger: string;
      eventSeq: number;
      phase: Phase;
      attempt: number;
      verdict: Verdict;
      status: number | null;
      partition?: number;
    };

/**
 * The WebSocket subprotocol that carries the bearer token, as Kubernetes does it for browsers (which cannot
 * set Authorization on a WebSocket): `base64url.bearer.authorization.k8s.io.` + the token in unpadded base64url.
 */
export const BEARER_PROTOCOL_PREFIX = "base64url.bearer.authorization.k8s.io.";

export function bearerProtocol(token: string): string {
  return BEARER_PROTOCOL_PREFIX + encodeBase64Url(token);
}

/** The bearer token offered in a `Sec-WebSocket-Protocol` header, with the protocol entry that carried it. */
export function bearerFromProtocols(header: string | null): { token: string; protocol: string } | null {
  for (const entry of (header ?? "").split(",").map((p) => p.trim())) {
    if (!entry.startsWith(BEARER_PROTOCOL_PREFIX)) continue;
    const bytes = decodeBase64Url(entry.slice(BEARER_PROTOCOL_PREFIX.length));
    return bytes && { token: new TextDecoder().decode(bytes), protocol: entry };
  }
  return null;
}
