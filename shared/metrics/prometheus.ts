/** Prometheus text exposition (format 0.0.4) of the brokers' counters (API.md §4). */
import type { CounterRow, EventCounter, StorageCounter } from "../resources/broker-api.ts";

export interface BrokerSample {
  namespace: string;
  broker: string;
  /** Set for the partitions of a partitioned broker (API.md §5): every series then carries it. */
  partition?: string;
  backlog: number;
  dead: number;
  /** Due deliveries the rate limit holds back, per trigger. */
  rateLimited?: Record<string, number>;
  /** trigger "" holds broker-level counters. */
  counters: CounterRow[];
}

const PREFIX = "edge_eventing";
/** Counter name in the broker -> metric name and help. */
const COUNTERS: Record<EventCounter | StorageCounter, { metric: string; help: string; broker?: boolean }> = {
  accepted: { metric: "events_accepted_total", help: "Events accepted at ingress (202), duplicates excluded.", broker: true },
  duplicates: { metric: "events_duplicate_total", help: "Events refused as duplicates of (source, id) within the dedup window.", broker: true },
  replies: { metric: "events_reply_total", help: "Reply events re-ingested into the broker.", broker: true },
  matched: { metric: "events_matched_total", help: "Events that passed a trigger's filter and were queued for it." },
  delivered: { metric: "events_delivered_total", help: "Events the subscriber accepted." },
  retried: { metric: "events_retried_total", help: "Delivery attempts that failed and were scheduled again." },
  deadlettered: { metric: "events_dead_lettered_total", help: "Events the dead-letter sink accepted after the subscriber failed." },
  failed: { metric: "events_failed_total", help: "Events that exhausted delivery with no dead-letter sink left; kept for redelivery." },
  dropped: { metric: "events_dropped_total", help: "Queued events dropped: trigger or broker deleted, or reply TTL exhausted." },
  history_evicted: {
    metric: "history_evicted_total",
    help: "Retained events removed before their retention ran out because the partition's history reached its cap (oldest first).",
    broker: true,
  },
  requestreply_delivered: { metric: "requestreply_replies_total", help: "Replies handed to the RequestReply request waiting for them.", broker: true },
  requestreply_late: {
    metric: "requestreply_late_total",
    help: "Replies that came after their request's deadline (or after it was refused): dropped.",
    broker: true,
  },
  requestreply_duplicate: { metric: "requestreply_duplicate_total", help: "Replies to a request that had its reply already: dropped.", broker: true },
  requestreply_refused: {
    metric: "requestreply_refused_total",
    help: "Events whose reply attribute is not a value the RequestReply signed (forged, or for another RequestReply): not handed over.",
    broker: true,
  },
  requestreply_undelivered: {
    metric: "requestreply_undelivered_total",
    help: "Replies whose waiter object could not be reached within the hand-off retries.",
    broker: true,
  },
  rows_written: {
    metric: "storage_rows_written_total",
    help: "SQLite rows the broker's statements wrote (Durable Objects bill per row written).",
    broker: true,
  },
  rows_read: { metric: "storage_rows_read_total", help: "SQLite rows the broker's statements read (Durable Objects bill per row read).", broker: true },
};
/** Requests an EventPolicy refused at a broker's ingress, by HTTP status (401 or 403). */
/** Jobs a JobSink created (a Job found there already is not counted). */
export type JobCountRow = { namespace: string; jobsink: string; value: number };

export type RefusalRow = {
  namespace: string;
  broker: string;
  code: number;
  value: number;
};

export const LATENCY_METRIC = `${PREFIX}_delivery_latency_seconds`;

/** A sample's labels, with `trigger` when given; `partition` last, when the sample has one. */
function sampleLabels(s: BrokerSample, trigger?: string): Record<string, string> {
  return {
    namespace: s.namespace,
    broker: s.broker,
    ...(trigger === undefined ? {} : { trigger }),
    ...(s.partition === undefined ? {} : { partition: s.partition }),
  };
}

function labels(l: Record<string, string>): string {
  const parts = Object.entries(l).map(([k, v]) => `${k}="${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`);
  return `{${parts.join(",")}}`;
}

export function renderMetrics(samples: BrokerSample[], bucketsMs: number[]): string {
  const lines: string[] = [];
  const family = (name: string, type: string, help: string) => lines.push(`# HELP ${PREFIX}_${name} ${help}`, `# TYPE ${PREFIX}_${name} ${type}`);

  family("backlog", "gauge", "Deliveries queued in the broker (pending, retrying or in flight).");
  for (const s of samples) lines.push(`${PREFIX}_backlog${labels(sampleLabels(s))} ${s.backlog}`);
  family("dead_letters_kept", "gauge", "Events kept after failing for good, awaiting inspection or redelivery.");
  for (const s of samples) lines.push(`${PREFIX}_dead_letters_kept${labels(sampleLabels(s))} ${s.dead}`);
  family("deliveries_rate_limited", "gauge", "Due deliveries the trigger's rate limit held back at its last dispatch (up to its free parallelism).");
  for (const s of samples)
    for (const [trigger, n] of Object.entries(s.rateLimited ?? {})) lines.push(`${PREFIX}_deliveries_rate_limited${labels(sampleLabels(s, trigger))} ${n}`);

  for (const [name, c] of Object.entries(COUNTERS)) {
    family(c.metric, "counter", c.help);
    for (const s of samples) {
      for (const row of s.counters.filter((r) => r.name === name)) {
        lines.push(`${PREFIX}_${c.metric}${labels(sampleLabels(s, row.trigger === "" ? undefined : row.trigger))} ${row.value}`);
      }
    }
  }

  lines.push(`# HELP ${LATENCY_METRIC} Time from an event's arrival to its acceptance by the subscriber.`, `# TYPE ${LATENCY_METRIC} histogram`);
  for (const s of samples) {
    const triggers = [...new Set(s.counters.filter((r) => r.name.startsWith("latency_le_")).map((r) => r.trigger))];
    for (const trigger of triggers) {
      const get = (name: string) => s.counters.find((r) => r.trigger === trigger && r.name === name)?.value ?? 0;
      const base = sampleLabels(s, trigger);
      let cumulative = 0;
      for (const b of bucketsMs) {
        cumulative += get(`latency_le_${b}`);
        lines.push(`${LATENCY_METRIC}_bucket${labels({ ...base, le: String(b / 1000) })} ${cumulative}`);
      }
      cumulative += get("latency_le_inf");
      lines.push(`${LATENCY_METRIC}_bucket${labels({ ...base, le: "+Inf" })} ${cumulative}`);
      lines.push(`${LATENCY_METRIC}_sum${labels(base)} ${get("latency_sum_ms") / 1000}`);
      lines.push(`${LATENCY_METRIC}_count${labels(base)} ${cumulative}`);
    }
  }
  return `${lines.join("\n")}\n`;
}

/** One ScaledObject's status as gauges; null: not known yet (no tick, no decision, no KPA trigger). */
export interface AutoscalerSample {
  namespace: string;
  scaledObject: string;
  desiredReplicas: number | null;
  currentReplicas: number | null;
  panic: boolean | null;
  /** Unix time in seconds. */
  lastDecisionTime: number | null;
  /** Pods ready to serve at the last read. */
  readyReplicas: number | null;
  /** The activator (ScaledObjects that gate a trigger or source): deliveries waiting for the target, and in flight to it. */
  held: number | null;
  inFlight: number | null;
}

const AUTOSCALER_GAUGES: { metric: string; help: string; value: (s: AutoscalerSample) => number | null }[] = [
  { metric: "autoscaler_desired_replicas", help: "Replicas the ScaledObject's last decision asks for, after min/max bounds.", value: (s) => s.desiredReplicas },
  { metric: "autoscaler_current_replicas", help: "Pods the scale target reports at its last read.", value: (s) => s.currentReplicas },
  {
    metric: "autoscaler_panic_mode",
    help: "1 while the KPA decider is in panic mode, 0 in stable mode (concurrency/rps triggers only).",
    value: (s) => (s.panic === null ? null : Number(s.panic)),
  },
  { metric: "autoscaler_last_decision_timestamp_seconds", help: "Unix time of the ScaledObject's last scaling decision.", value: (s) => s.lastDecisionTime },
  { metric: "autoscaler_ready_replicas", help: "Pods of the scale target ready to serve at its last read.", value: (s) => s.readyReplicas },
  {
    metric: "activator_held_deliveries",
    help: "Deliveries to the scale target waiting in the router for a ready replica or for capacity.",
    value: (s) => s.held,
  },
  {
    metric: "activator_inflight_deliveries",
    help: "Deliveries in flight to the scale target (at most ready replicas x containerConcurrency).",
    value: (s) => s.inFlight,
  },
];

/** Gauges per ScaledObject; a family lists only the ScaledObjects that have its value. */
export function renderAutoscalerMetrics(samples: AutoscalerSample[]): string {
  const lines: string[] = [];
  for (const g of AUTOSCALER_GAUGES) {
    lines.push(`# HELP ${PREFIX}_${g.metric} ${g.help}`, `# TYPE ${PREFIX}_${g.metric} gauge`);
    for (const s of samples) {
      const v = g.value(s);
      if (v !== null) lines.push(`${PREFIX}_${g.metric}${labels({ namespace: s.namespace, scaledobject: s.scaledObject })} ${v}`);
    }
  }
  return `${lines.join("\n")}\n`;
}

export function renderRefusalMetrics(rows: RefusalRow[]): string {
  const name = `${PREFIX}_ingress_refused_total`;
  const lines = [
    `# HELP ${name} Requests refused at broker ingress by EventPolicy: 401 (no valid OIDC token), 403 (sender or event not allowed).`,
    `# TYPE ${name} counter`,
  ];
  for (const r of rows) lines.push(`${name}${labels({ namespace: r.namespace, broker: r.broker, code: String(r.code) })} ${r.value}`);
  return `${lines.join("\n")}\n`;
}

export function renderJobSinkMetrics(rows: JobCountRow[]): string {
  const name = `${PREFIX}_jobsink_jobs_created_total`;
  const lines = [`# HELP ${name} Kubernetes Jobs created by each JobSink, one per event (the same event again creates none).`, `# TYPE ${name} counter`];
  for (const r of rows) lines.push(`${name}${labels({ namespace: r.namespace, jobsink: r.jobsink })} ${r.value}`);
  return `${lines.join("\n")}\n`;
}
