/** The broker subresources of docs/OPERATIONS.md: served by workers/live.ts, called by the CLI and the dashboard. */
export type BrokerSubresource = "live" | "metrics" | "deadletters";

export function brokerSubresource(namespace: string, broker: string, sub: BrokerSubresource): string {
  return `/apis/eventing.knative.dev/v1/namespaces/${encodeURIComponent(namespace)}/brokers/${encodeURIComponent(broker)}/${sub}`;
}

/** What the broker counts per event: one list for the broker, /metrics and the dashboard. */
export type EventCounter = "accepted" | "duplicates" | "replies" | "matched" | "delivered" | "retried" | "deadlettered" | "failed" | "dropped";
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
  /** trigger "" holds broker-level counters (accepted, duplicates, rows written and read). */
  counters: CounterRow[];
}

export interface DeadLetter {
  id: number;
  trigger: string;
  at: number;
  reason: string;
  event: Record<string, unknown>;
}

/** What the live feed pushes (durable-objects/broker.ts). */
export type LiveMessage =
  | { kind: "event"; at: number; id: string; source: string; type: string; matched: string[] }
  | { kind: "delivery"; at: number; trigger: string; eventSeq: number; phase: string; attempt: number; verdict: string; status: number | null };

/**
 * The WebSocket subprotocol that carries the bearer token, as Kubernetes does it for browsers (which cannot
 * set Authorization on a WebSocket): `base64url.bearer.authorization.k8s.io.` + the token in unpadded base64url.
 */
export const BEARER_PROTOCOL_PREFIX = "base64url.bearer.authorization.k8s.io.";

export function bearerProtocol(token: string): string {
  const b64 = btoa(String.fromCharCode(...new TextEncoder().encode(token)));
  return BEARER_PROTOCOL_PREFIX + b64.replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** The bearer token offered in a `Sec-WebSocket-Protocol` header, with the protocol entry that carried it. */
export function bearerFromProtocols(header: string | null): { token: string; protocol: string } | null {
  for (const entry of (header ?? "").split(",").map((p) => p.trim())) {
    if (!entry.startsWith(BEARER_PROTOCOL_PREFIX)) continue;
    const b64 = entry.slice(BEARER_PROTOCOL_PREFIX.length).replace(/-/g, "+").replace(/_/g, "/");
    try {
      const bytes = Uint8Array.from(atob(b64.padEnd(Math.ceil(b64.length / 4) * 4, "=")), (c) => c.charCodeAt(0));
      return { token: new TextDecoder().decode(bytes), protocol: entry };
    } catch {
      return null;
    }
  }
  return null;
}
