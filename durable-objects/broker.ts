/**
 * One broker's data plane (one object per namespace/broker). Ingest stores an event and one delivery row
 * per matching trigger in a single transaction before answering; dispatch claims due rows with a lease,
 * sends them through the trigger's dispatcher slots, and settles each outcome in SQLite. The retry
 * schedule lives in `deliveries.next_at` and an alarm always covers the earliest row, so nothing depends
 * on memory surviving an eviction or a deploy.
 */
import { DurableObject } from "cloudflare:workers";
import { decodeHttp, decodeStructured, encodeBinary, encodeStructured } from "../shared/cloudevents/index.ts";
import type { AttributeValue, CloudEvent } from "../shared/cloudevents/event.ts";
import { sameSecret } from "../shared/crypto.ts";
import { childTraceparent, isTraceparent } from "../shared/delivery/trace.ts";
import { decide, describeBody, type Outcome, type Verdict } from "../shared/delivery/outcome.ts";
import { type DeliveryPolicy, parseRetryAfter, resolvePolicy } from "../shared/delivery/policy.ts";
import { type CompiledFilter, compileTriggerFilter, type FilterScratch } from "../shared/filters/knative.ts";
import type { BrokerMetrics, CounterName, DeadLetter, LiveMessage } from "../shared/resources/broker-api.ts";
import type { Target } from "../shared/resources/destination.ts";
import { BROKER_ANNOTATIONS, type BrokerConfig, type TriggerConfig } from "../shared/resources/eventing.ts";
import { secretReader } from "../shared/secrets.ts";
import { type CompiledJsonata, compileJsonata, transformEvent } from "../shared/transforms/jsonata.ts";
import { BrokerCounters } from "./broker-counters.ts";
import { History } from "./history.ts";
import { KeyValueTable } from "./key-value.ts";
import { MeteredSql } from "./metered-sql.ts";
import { ingestInto, queuedAtEarlierOwner, seenByEarlierOwners } from "./routing.ts";
import { partitionOf } from "../shared/partitions.ts";
import type { HistoryQuery, PartitionRow } from "../shared/history/query.ts";
import { initialHistory } from "../shared/history/record.ts";
import type { ReplayPlan, ReplayProgress } from "../shared/history/replay.ts";
import { Connections, CONNECTIONS_PER_OBJECT, type OutboundRequest, type OutboundResult } from "./outbound.ts";
import { FlowControl } from "./flow-control.ts";

/** Knative's MAX_TTL: hops an event and its replies may make through brokers. */
export const MAX_TTL = 255;
/** When due rows wait only for free parallelism, completions drive dispatch; the alarm is a safety net. */
const SAFETY_WAKE_MS = 30_000;
/** Expired dedup entries are purged by the alarm no more often than this. */
const DEDUP_PURGE_INTERVAL_MS = 60_000;
/** Exhausted events kept for inspection and redelivery when no dead-letter sink took them. */
export const DEAD_KEEP = 10_000;
/** Retry-After a refused producer is told to wait when the backlog is full. */
const BACKLOG_RETRY_AFTER_S = 5;
/** How long a key that moved here by a growth waits before asking its earlier partition again. */
const ORDER_HOLD_MS = 500;

/** The queue: one row per event and trigger until it settles. */
const DELIVERIES_TABLE = `CREATE TABLE IF NOT EXISTS deliveries (
  id INTEGER PRIMARY KEY AUTOINCREMENT, event_seq INTEGER NOT NULL, trigger TEXT NOT NULL, pkey TEXT,
  phase TEXT NOT NULL DEFAULT 'subscriber', attempt INTEGER NOT NULL DEFAULT 0, next_at INTEGER NOT NULL, error TEXT)`;

export type IngestResult =
  | { status: 202; accepted: number; duplicates: number }
  | { status: 400; error: string; field?: string }
  | { status: 401 | 403 | 404 | 500; error: string }
  | { status: 429 | 503; error: string; retryAfterSeconds: number }
  /** Misdirected: the events' partition under this broker's partition count is another one. */
  | { status: 421; error: string };

interface DeliveryRow {
  id: number;
  event_seq: number;
  trigger: string;
  pkey: string | null;
  phase: "subscriber" | "deadletter";
  attempt: number;
  error: string | null;
  /** The Replay that queued this delivery, if one did. */
  replay: string | null;
  [key: string]: SqlStorageValue;
}

/** What sending an event to a target gave: an outcome, or success with the event the target replied. */
type Sent = Outcome | { ok: true; reply: CloudEvent };

interface Trigger {
  config: TriggerConfig;
  filter: CompiledFilter;
  policy: DeliveryPolicy;
  deadLetter?: Target;
}


export class Broker extends DurableObject<Env> {
  /** Every statement goes through the meter: rows written and read are the broker's storage bill. */
  private readonly sql = new MeteredSql(this.ctx.storage.sql);
  private readonly counters = new BrokerCounters(this.sql);
  /** Retained events, their delivery history, and replays (durable-objects/history.ts). */
  private readonly history = new History({
    sql: this.sql,
    transaction: (fn) => this.ctx.storage.transactionSync(fn),
    enqueue: (seq, trigger, event, now, replay) => this.enqueue(seq, trigger, event, now, replay),
    triggers: () => new Map([...this.triggers].map(([name, t]) => [name, t.config.parallelism])),
    queued: () => this.remaining.keys(),
    evicted: (n) => this.count("", "history_evicted", n),
  });
  /** The pushed configuration and its version (table `config`); null until the first configuration. */
  private settings: KeyValueTable | null = null;
  private config: BrokerConfig | null = null;
  private triggers = new Map<string, Trigger>();
  private transformers: Transformers = new Map();
  private backlog = 0;
  /**
   * Delivery ids in flight per trigger: the lease, in memory only. A restart has nothing in flight (the
   * runtime runs one instance of an object), so every stored row is due again then; no row is written to
   * take or release a lease.
   */
  private readonly leased = new Map<string, Set<number>>();
  /** Deliveries still queued per event (for events the queue holds): the event row goes with its last one. */
  private remaining = new Map<number, number>();
  private readonly slotLoad = new Map<string, number>();
  /** The broker's own outbound connections: the first 6 deliveries in flight skip the dispatcher hop. */
  private readonly connections = new Connections();
  /** Triggers that got new rows or a free slot since the last pump: only they need a look. */
  private readonly touched = new Set<string>();
  /**
   * The alarm time this object set last and that has not fired yet. setAlarm is a storage write on every
   * ingest and settle otherwise; an alarm that comes earlier than needed only pumps once more.
   */
  private armedAt: number | null = null;
  /** Ordered (trigger, key) pairs whose earlier partition had nothing queued any more (heldForOrder). */
  private readonly drained = new Set<string>();
  /** Pause and rate limit per trigger (durable-objects/flow-control.ts); its wake-ups pump the trigger. */
  private readonly flow = new FlowControl(this.env, (name) => {
    this.touched.add(name);
    this.ctx.waitUntil(this.pump("touched"));
  });

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    // No tables until the control plane configures this broker: a request that reaches an unknown broker
    // (a stale routing table, a broker-to-broker target that was deleted) creates nothing.
    if (this.sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'config'").toArray().length > 0) this.open();
  }

  /**
   * Create (or open) the broker's tables and load its configuration. Every index entry is a row written:
   * only the indexes the hot path reads. Event seqs may be reused (no AUTOINCREMENT): an event row outlives
   * all its deliveries. Delivery ids are never reused, so an attempt that outlived its row (trigger
   * deleted) cannot settle a newer one. `pkey` is NULL for unordered triggers, outside the ordering index.
   */
  private open(): KeyValueTable {
    this.migrateDeliveries();
    this.sql.exec(`
      CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY, arrived_at INTEGER NOT NULL, body TEXT NOT NULL, headers TEXT);
      ${DELIVERIES_TABLE};
      CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (trigger, next_at);
      DROP INDEX IF EXISTS deliveries_key;
      CREATE INDEX IF NOT EXISTS deliveries_ordered ON deliveries (trigger, pkey, id) WHERE pkey IS NOT NULL;
      DROP INDEX IF EXISTS deliveries_event;
      DROP INDEX IF EXISTS deliveries_wake;
      CREATE TABLE IF NOT EXISTS dedup (source TEXT NOT NULL, id TEXT NOT NULL, expires_at INTEGER NOT NULL, PRIMARY KEY (source, id)) WITHOUT ROWID;
      DROP INDEX IF EXISTS dedup_expiry;
      CREATE TABLE IF NOT EXISTS dead (id INTEGER PRIMARY KEY AUTOINCREMENT, trigger TEXT NOT NULL, at INTEGER NOT NULL, reason TEXT NOT NULL, body TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS counters (trigger TEXT NOT NULL, name TEXT NOT NULL, value INTEGER NOT NULL, PRIMARY KEY (trigger, name)) WITHOUT ROWID;`);
    this.history.open();
    this.settings = new KeyValueTable(this.sql, "config");
    this.apply(this.settings.getJson<BrokerConfig>("broker"));
    this.countQueue();
    return this.settings;
  }

  /**
   * The control plane's push, on every change and once a minute from the cron watchdog, which is why it
   * writes the alarm again (in case the platform lost it). `null`: the broker was deleted, its queue is
   * dropped (and counted). `version` orders pushes: one older than the last applied is ignored.
   */
  async configure(config: BrokerConfig | null, version: number): Promise<void> {
    if (!this.settings && config === null) return; // never configured: nothing to drop, nothing to create
    const settings = this.settings ?? this.open();
    this.armedAt = null;
    const text = JSON.stringify(config);
    // Pushes can overtake each other; an older one must not undo a newer (and drop its triggers' queues).
    if (Number(settings.get("version") ?? -1) > version) return;
    settings.put("version", String(version));
    if (settings.get("broker") !== text) {
      this.history.flush(); // before rows go: a seq that is reused must not get another event's history
      this.ctx.storage.transactionSync(() => {
        settings.put("broker", text);
        const keep = JSON.stringify(config?.triggers.map((t) => t.name) ?? []);
        const dropped = this.sql.exec<{ event_seq: number; trigger: string; replay: string | null }>("DELETE FROM deliveries WHERE trigger NOT IN (SELECT value FROM json_each(?)) RETURNING event_seq, trigger, replay", keep).toArray();
        this.history.dropped(dropped);
        // A deleted trigger's series leave /metrics with it; what its queue held is counted on the broker.
        if (dropped.length > 0) this.count("", "dropped", dropped.length);
        this.counters.forget(config?.triggers.map((t) => t.name) ?? []);
        // A deleted broker keeps no history; a retaining one keeps events past their deliveries.
        if (config === null || !this.history.retains()) this.sql.exec("DELETE FROM events WHERE seq NOT IN (SELECT event_seq FROM deliveries)");
      });
      this.countQueue();
      this.history.recount();
      this.apply(config);
    }
    await this.pump();
  }

  /**
   * Accept events from ingress: durable (event, deliveries, dedup) before this returns 202.
   * `headers` are the request's pass-through headers (shared/delivery/headers.ts), sent on with every
   * delivery; an event's own `traceparent` extension wins over the request's.
   */
  async ingest(events: CloudEvent[], headers: Record<string, string> = {}, producer?: { bearer: string | undefined }): Promise<IngestResult> {
    const refused = producer && (await this.refuseProducer(producer.bearer));
    if (refused) return refused;
    const result = await this.store(events, headers);
    if (result.status === 202 && result.accepted > 0) await this.pump("touched");
    return result;
  }

  /**
   * Public ingress (`producer` given) of a broker that requires a token: 401 without one, 403 with a wrong
   * one. Sources, replies and broker-to-broker deliveries are the router's own and pass no `producer`.
   */
  private async refuseProducer(bearer: string | undefined): Promise<IngestResult | null> {
    const name = this.config?.ingressTokenSecret;
    if (!name) return null;
    let expected: string;
    try {
      expected = secretReader(this.env)(name, `metadata.annotations.${BROKER_ANNOTATIONS.ingressTokenSecret}`);
    } catch (e) {
      return { status: 500, error: `the broker's ingress token cannot be read: ${(e as Error).message}` };
    }
    if (!bearer) return { status: 401, error: "this broker requires Authorization: Bearer <ingress token>" };
    return (await sameSecret(bearer, expected)) ? null : { status: 403, error: "the ingress token is not valid for this broker" };
  }

  /**
   * Objects created before the lease moved to memory have `lease_until` and a NOT NULL `pkey`: copy their
   * queue into the current table once (ids kept, so AUTOINCREMENT continues above them).
   */
  private migrateDeliveries(): void {
    const old = this.sql.exec<{ sql: string }>("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'deliveries'").toArray()[0];
    if (!old?.sql.includes("lease_until")) return;
    this.ctx.storage.transactionSync(() => {
      this.sql.exec("ALTER TABLE deliveries RENAME TO deliveries_old");
      this.sql.exec(DELIVERIES_TABLE);
      this.sql.exec("INSERT INTO deliveries (id, event_seq, trigger, pkey, phase, attempt, next_at, error) SELECT id, event_seq, trigger, pkey, phase, attempt, next_at, error FROM deliveries_old");
      this.sql.exec("DROP TABLE deliveries_old");
    });
  }

  /** Backlog and deliveries per event, from the table (a scan: at start and after a reconfiguration). */
  private countQueue(): void {
    const rows = this.sql.exec<{ seq: number; n: number }>("SELECT event_seq AS seq, count(*) AS n FROM deliveries GROUP BY event_seq").toArray();
    this.remaining = new Map(rows.map((r) => [r.seq, r.n]));
    this.backlog = rows.reduce((n, r) => n + r.n, 0);
  }

  override async alarm(): Promise<void> {
    if (!this.settings) return;
    this.armedAt = null;
    this.sql.exec("DELETE FROM dedup WHERE expires_at <= ?", Date.now());
    this.history.expire(Date.now());
    this.counters.flush();
    await this.pump();
  }

  /**
   * A live feed of this broker (WebSocket, hibernation API): every accepted event with the triggers it
   * matched, and every delivery outcome. The Worker authenticates before it forwards the upgrade.
   */
  override async fetch(request: Request): Promise<Response> {
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") return new Response("expected a WebSocket upgrade", { status: 426 });
    const pair = new WebSocketPair();
    this.ctx.acceptWebSocket(pair[1]);
    return new Response(null, { status: 101, webSocket: pair[0] });
  }

  override async webSocketClose(ws: WebSocket, code: number): Promise<void> {
    // 1005, 1006 and 1015 only report what happened; they may not be sent.
    ws.close([1005, 1006, 1015].includes(code) ? 1000 : code, "closing");
  }

  private watching(): boolean {
    return this.ctx.getWebSockets().length > 0;
  }

  private notify(message: LiveMessage): void {
    const text = JSON.stringify(message);
    for (const ws of this.ctx.getWebSockets()) {
      try {
        ws.send(text);
      } catch {
        // a socket closing under us: the runtime drops it
      }
    }
  }

  /** The broker's own connection budget, so tests can check the limit by design. */
  connectionStats(): { open: number; peak: number } {
    return this.connections.stats();
  }

  metrics(): BrokerMetrics {
    if (!this.settings) return { backlog: 0, inflight: {}, dead: 0, counters: [] };
    return {
      backlog: this.backlog,
      inflight: Object.fromEntries([...this.leased].map(([name, ids]) => [name, ids.size])),
      dead: this.sql.exec<{ n: number }>("SELECT count(*) AS n FROM dead").one().n,
      counters: this.counters.rows(),
      rateLimited: this.flow.held(),
    };
  }

  /** Events no sink took, newest first: what the dashboard lists for redelivery. */
  deadLetters(limit = 100): DeadLetter[] {
    if (!this.settings) return [];
    return this.sql
      .exec<{ id: number; trigger: string; at: number; reason: string; body: string }>("SELECT id, trigger, at, reason, body FROM dead ORDER BY id DESC LIMIT ?", limit)
      .toArray()
      .map((r) => ({ id: r.id, trigger: r.trigger, at: r.at, reason: r.reason, event: JSON.parse(r.body) }));
  }

  /** This partition's retained events matching `query`, newest first (the history API merges partitions). */
  searchHistory(query: HistoryQuery, before: number | null, limit: number): PartitionRow[] {
    return this.settings ? this.history.search(query, before, limit) : [];
  }

  /** How many deliveries a replay would send from this partition (a dry run). */
  countReplay(plan: ReplayPlan): number {
    return this.settings ? this.history.count(plan) : 0;
  }

  async startReplay(plan: ReplayPlan): Promise<void> {
    if (!this.settings) return;
    this.history.start(plan);
    await this.pump();
  }

  /** Deleting a Replay stops it: its queued deliveries go (those in flight finish). */
  stopReplay(name: string): void {
    if (!this.settings) return;
    this.history.stop(name);
    this.countQueue();
  }

  replayProgress(name: string): ReplayProgress | null {
    return this.settings ? this.history.progress(name) : null;
  }

  /** Queue a kept dead letter to its trigger again, from the first attempt. */
  async redeliver(id: number): Promise<boolean> {
    if (!this.settings) return false;
    const row = this.sql.exec<{ trigger: string; body: string }>("SELECT trigger, body FROM dead WHERE id = ?", id).toArray()[0];
    if (!row || !this.triggers.has(row.trigger)) return false;
    this.ctx.storage.transactionSync(() => {
      const event = decodeStructured(row.body) as CloudEvent;
      const seq = this.sql.exec<{ seq: number }>("INSERT INTO events (arrived_at, body, history) VALUES (?, ?, ?) RETURNING seq", Date.now(), row.body, initialHistory([row.trigger])).one().seq;
      this.enqueue(seq, row.trigger, event, Date.now());
      this.sql.exec("DELETE FROM dead WHERE id = ?", id);
    });
    await this.pump();
    return true;
  }

  private apply(config: BrokerConfig | null): void {
    this.config = config;
    this.transformers = compileTransformers(config);
    this.triggers = new Map();
    this.history.configure(config?.retentionMs ?? 0, config?.retentionLimit ?? 0);
    this.flow.configure(config?.triggers ?? []);
    for (const t of config?.triggers ?? []) {
      const compiled = compileTriggerFilter(t.filter);
      // Validated at apply time; a filter that no longer compiles (an upgrade changed a dialect) matches nothing.
      const filter: CompiledFilter = "filter" in compiled ? compiled.filter : () => "fail";
      this.triggers.set(t.name, { config: t, filter, policy: resolvePolicy(t.delivery, config!.delivery), deadLetter: t.deadLetter ?? config!.deadLetter });
    }
  }

  /**
   * A partition stores only the events it owns (421 for others: the sender's routing table is older than
   * a growth of the broker), and after a growth also asks their earlier owners whether they hold them.
   */
  private async store(events: CloudEvent[], headers: Record<string, string>): Promise<IngestResult> {
    const p = this.config?.partition;
    if (!p) return this.accept(events, headers);
    if (events.some((e) => partitionOf(e, p.count) !== p.index)) return { status: 421, error: `events of another partition: broker ${this.key()} has ${p.count} partitions, this is partition ${p.index}` };
    return this.accept(events, headers, await seenByEarlierOwners(this.env, this.config!, events));
  }

  /** Of these (source, id) pairs, which this broker holds in its dedup window. */
  seen(keys: { source: string; id: string }[]): boolean[] {
    if (!this.settings) return keys.map(() => false);
    const now = Date.now();
    return keys.map((k) => this.sql.exec("SELECT 1 FROM dedup WHERE source = ? AND id = ? AND expires_at > ?", k.source, k.id, now).toArray().length > 0);
  }

  private accept(events: CloudEvent[], headers: Record<string, string>, seenElsewhere = new Set<number>()): IngestResult {
    const config = this.config;
    if (!config) return { status: 404, error: "broker not found" };
    const now = Date.now();
    const arrival = new Date(now).toISOString();
    const prepared: CloudEvent[] = [];
    for (const [i, e] of events.entries()) {
      const ttl = nextTtl(e.attributes.knativebrokerttl);
      if (ttl <= 0) return { status: 400, error: "event TTL exhausted: it made more hops through brokers than knativebrokerttl allows", field: events.length > 1 ? `[${i}].knativebrokerttl` : "knativebrokerttl" };
      prepared.push({ attributes: { ...e.attributes, knativearrivaltime: arrival, knativebrokerttl: ttl }, data: e.data });
    }
    const fresh = this.unseen(prepared, now, config.dedupWindowMs).map((f, i) => f && !seenElsewhere.has(i));
    const matches = prepared.map((e, i) => {
      if (!fresh[i]) return [];
      const scratch = {}; // what one trigger's filter derives from this event, the next ones reuse
      return [...this.triggers.values()].filter((t) => safeMatch(t.filter, e, scratch));
    });
    const wanted = matches.reduce((n, m) => n + m.length, 0);
    if (this.backlog + wanted > config.backlogLimit) {
      return { status: 429, error: `broker backlog is full (${this.backlog} of ${config.backlogLimit} deliveries queued)`, retryAfterSeconds: BACKLOG_RETRY_AFTER_S };
    }
    let accepted = 0;
    let duplicates = 0;
    const matched = new Map<string, number>();
    this.ctx.storage.transactionSync(() => {
      prepared.forEach((event, i) => {
        if (!fresh[i]) {
          duplicates++;
          return;
        }
        if (config.dedupWindowMs > 0) {
          this.sql.exec("INSERT OR REPLACE INTO dedup (source, id, expires_at) VALUES (?, ?, ?)", String(event.attributes.source), String(event.attributes.id), now + config.dedupWindowMs);
        }
        accepted++;
        // Kept with retention even when no trigger matched: "where did my event go" has an answer then too.
        if (matches[i].length === 0 && !this.history.retains()) return;
        const own = event.attributes.traceparent;
        const forwarded = isTraceparent(own) ? { ...headers, traceparent: own } : headers;
        const stored = Object.keys(forwarded).length > 0 ? JSON.stringify(forwarded) : null;
        const history = initialHistory(matches[i].map((t) => t.config.name));
        const seq = this.sql.exec<{ seq: number }>("INSERT INTO events (arrived_at, body, headers, history) VALUES (?, ?, ?, ?) RETURNING seq", now, encodeStructured(event), stored, history).one().seq;
        this.history.stored(seq, now);
        for (const t of matches[i]) {
          this.enqueue(seq, t.config.name, event, now);
          matched.set(t.config.name, (matched.get(t.config.name) ?? 0) + 1);
          this.touched.add(t.config.name);
        }
      });
      if (this.watching()) {
        prepared.forEach((event, i) => this.notify({ kind: "event", at: now, id: String(event.attributes.id), source: String(event.attributes.source), type: String(event.attributes.type), matched: matches[i].map((t) => t.config.name) }));
      }
      this.count("", "accepted", accepted);
      if (duplicates > 0) this.count("", "duplicates", duplicates);
      for (const [trigger, n] of matched) this.count(trigger, "matched", n);
    });
    return { status: 202, accepted, duplicates };
  }

  /** Per event: not seen within the dedup window, neither stored before nor earlier in this request. */
  private unseen(events: CloudEvent[], now: number, windowMs: number): boolean[] {
    if (windowMs <= 0) return events.map(() => true);
    const inRequest = new Set<string>();
    return events.map((e) => {
      const source = String(e.attributes.source);
      const id = String(e.attributes.id);
      const key = JSON.stringify([source, id]);
      if (inRequest.has(key)) return false;
      inRequest.add(key);
      return this.sql.exec("SELECT 1 FROM dedup WHERE source = ? AND id = ? AND expires_at > ?", source, id, now).toArray().length === 0;
    });
  }

  private enqueue(seq: number, trigger: string, event: CloudEvent, now: number, replay: string | null = null): void {
    const pkey = this.triggers.get(trigger)?.config.ordered ? String(event.attributes.partitionkey ?? "") : null;
    this.sql.exec("INSERT INTO deliveries (event_seq, trigger, pkey, next_at, replay) VALUES (?, ?, ?, ?, ?)", seq, trigger, pkey, now, replay);
    this.remaining.set(seq, (this.remaining.get(seq) ?? 0) + 1);
    this.backlog++;
  }

  private count(trigger: string, name: CounterName, n: number): void {
    this.counters.add(trigger, name, n);
  }

  /**
   * Start every due delivery there is room for, then arm the alarm for the next one. `only: "touched"` looks
   * at just the triggers that got new rows or freed a slot (ingest and completions: the hot path); the
   * alarm and configuration changes look at all.
   */
  private async pump(only?: "touched"): Promise<void> {
    const now = Date.now();
    this.history.refill(now);
    const look = only ? [...this.touched].map((name) => this.triggers.get(name)).filter((t) => t !== undefined) : [...this.triggers.values()];
    this.touched.clear();
    for (const t of look) {
      // Flow control: a paused trigger starts nothing (its queue keeps filling within the backlog limit).
      if (t.config.paused) continue;
      const leased = this.leased.get(t.config.name) ?? new Set<number>();
      this.leased.set(t.config.name, leased);
      const free = t.config.parallelism - leased.size;
      if (free <= 0) continue;
      const busy = JSON.stringify([...leased]);
      // Ordered triggers take only the head of each partition key, so one key's retries (or its head in
      // flight) hold that key back.
      const rows = t.config.ordered
        ? this.sql.exec<DeliveryRow>(
            "SELECT * FROM deliveries d WHERE trigger = ? AND next_at <= ? AND id NOT IN (SELECT value FROM json_each(?)) AND (pkey IS NULL OR id = (SELECT min(id) FROM deliveries WHERE trigger = d.trigger AND pkey = d.pkey)) ORDER BY id LIMIT ?",
            t.config.name, now, busy, free)
        : this.sql.exec<DeliveryRow>("SELECT * FROM deliveries WHERE trigger = ? AND next_at <= ? AND id NOT IN (SELECT value FROM json_each(?)) ORDER BY next_at, id LIMIT ?", t.config.name, now, busy, free);
      // Flow control: the rate limit says how many of the due rows start now (it wakes the pump for the rest).
      const due = rows.toArray();
      for (const row of due.slice(0, this.flow.allow(this.config!, t.config, due.length, now))) {
        leased.add(row.id);
        this.ctx.waitUntil(this.deliver(row, t));
      }
    }
    await this.arm();
  }

  /**
   * Wake at the earliest future due time or lease expiry. Rows already due but not started wait for free
   * parallelism or their partition's head, which completions release; for them the alarm is a safety net.
   * Expired dedup entries are purged by the alarm too, batched at most once a minute.
   */
  private async arm(): Promise<void> {
    const now = Date.now();
    // Index lookups per trigger on (trigger, next_at), not a scan of the queue; rows in flight count as
    // waiting (their completion pumps). Dedup entries have no expiry index: a purge is a scan a minute.
    const row = this.sql
      .exec<{ future: number | null; waiting: number; dedup: number }>(
        `SELECT min(f) AS future, max(w) AS waiting, EXISTS (SELECT 1 FROM dedup) AS dedup FROM (SELECT
           (SELECT min(next_at) FROM deliveries WHERE trigger = t.value AND next_at > ?1) AS f,
           EXISTS (SELECT 1 FROM deliveries WHERE trigger = t.value AND next_at <= ?1) AS w FROM json_each(?2) t)`,
        now, JSON.stringify([...this.triggers.values()].filter((t) => !t.config.paused).map((t) => t.config.name)), // paused: nothing to wake for
      )
      .one();
    const at = Math.min(row.future ?? Infinity, row.waiting ? now + SAFETY_WAKE_MS : Infinity, row.dedup ? now + DEDUP_PURGE_INTERVAL_MS : Infinity, this.history.wakeAt(now));
    if (at === Infinity || (this.armedAt !== null && this.armedAt <= at)) return;
    this.armedAt = at;
    await this.ctx.storage.setAlarm(at);
  }

  private async deliver(row: DeliveryRow, t: Trigger): Promise<void> {
    if (await this.heldForOrder(row, t)) {
      this.sql.exec("UPDATE deliveries SET next_at = ? WHERE id = ?", Date.now() + ORDER_HOLD_MS, row.id);
      this.leased.get(t.config.name)?.delete(row.id);
      return this.arm();
    }
    let outcome: Outcome;
    const started = Date.now();
    try {
      outcome = await this.attempt(row, t);
    } catch (e) {
      outcome = { ok: false, status: null, body: `dispatch error: ${(e as Error).message}`, retryAfterMs: null };
    }
    this.leased.get(t.config.name)?.delete(row.id);
    this.settle(row, t, outcome, started);
    this.touched.add(t.config.name);
    await this.pump("touched");
  }

  /**
   * Per-key order across a growth of the broker: a key that moved here waits, on an ordered trigger, until
   * its earlier partition has no queued event of it left. Once drained it stays drained (that partition
   * refuses the key's new events), so each key is asked about until then only.
   */
  private async heldForOrder(row: DeliveryRow, t: Trigger): Promise<boolean> {
    const key = `${t.config.name}\u0000${row.pkey}`;
    // A row queued while the trigger was unordered (pkey NULL) has no key to hold.
    if (!t.config.ordered || row.pkey === null || !this.config?.partition?.previous.length || this.drained.has(key)) return false;
    try {
      if (await queuedAtEarlierOwner(this.env, this.config, t.config.name, String(row.pkey))) return true;
    } catch {
      return true; // not known: ask again after the hold
    }
    this.drained.add(key);
    return false;
  }

  /** Whether this partition has queued deliveries of `pkey` for an ordered trigger. */
  queued(trigger: string, pkey: string): boolean {
    if (!this.settings) return false;
    return this.sql.exec("SELECT 1 FROM deliveries WHERE trigger = ? AND pkey = ? LIMIT 1", trigger, pkey).toArray().length > 0;
  }

  private async attempt(row: DeliveryRow, t: Trigger): Promise<Outcome> {
    const stored = this.sql.exec<{ body: string; headers: string | null }>("SELECT body, headers FROM events WHERE seq = ?", row.event_seq).one();
    const event = decodeStructured(stored.body) as CloudEvent;
    const forwarded: Record<string, string> = stored.headers ? JSON.parse(stored.headers) : {};
    forwarded.traceparent = childTraceparent(forwarded.traceparent);
    const toSubscriber = row.phase === "subscriber";
    const target = toSubscriber ? t.config.subscriber : t.deadLetter!;
    const { knativebrokerttl: ttl, ...rest } = event.attributes;
    const attributes = toSubscriber ? rest : { ...rest, ...JSON.parse(row.error ?? "{}") };
    // A replayed event is the original with one extension naming the Replay (API.md §6).
    const outgoing: CloudEvent = { attributes: row.replay ? { ...attributes, replay: row.replay } : attributes, data: event.data };
    const sent = await this.sendTo(target, outgoing, ttl, t, toSubscriber, forwarded);
    return "reply" in sent ? (toSubscriber ? this.reply(sent.reply, ttl, forwarded, t) : { ok: true }) : sent;
  }

  /**
   * One event to one target; what came back. A broker target keeps the TTL so that loops through brokers
   * end; other sinks never see it (Knative).
   */
  private async sendTo(target: Target, event: CloudEvent, ttl: AttributeValue | undefined, t: Trigger, toSubscriber: boolean, forwarded: Record<string, string>): Promise<Sent> {
    switch (target.kind) {
      // In-router targets get the same per-attempt timeout as URLs; one answering late only repeats an
      // event the target broker deduplicates on (source, id).
      case "broker": {
        const outgoing = ttl === undefined ? event : { attributes: { ...event.attributes, knativebrokerttl: ttl }, data: event.data };
        const r = await withTimeout(ingestInto(this.env, target, [outgoing], forwarded), t.policy.timeoutMs);
        if (r === null) return { ok: false, status: null, body: `dispatch error: broker ${target.namespace}/${target.name} did not answer within ${t.policy.timeoutMs} ms`, retryAfterMs: null };
        return r.status === 202 ? { ok: true, status: 202 } : { ok: false, status: r.status, body: r.error, retryAfterMs: "retryAfterSeconds" in r ? r.retryAfterSeconds * 1000 : null };
      }
      case "display": {
        const done = await withTimeout(this.env.DISPLAY.getByName(`${target.namespace}/${target.name}`).record(encodeStructured(event)).then(() => true), t.policy.timeoutMs);
        return done ? { ok: true } : { ok: false, status: null, body: "dispatch error: the event display did not answer in time", retryAfterMs: null };
      }
      case "transform":
        return this.transform(target, event, ttl, t, toSubscriber, forwarded);
      case "url": {
        const result = await this.send(target.url, event, t, toSubscriber, forwarded);
        if ("error" in result) return { ok: false, status: null, body: `dispatch error: ${result.error}`, retryAfterMs: null };
        if (result.status < 200 || result.status >= 300) {
          const retryAfter = result.headers.find(([k]) => k === "retry-after")?.[1] ?? null;
          return { ok: false, status: result.status, body: result.body, retryAfterMs: parseRetryAfter(retryAfter, Date.now()) };
        }
        // A 200 carrying an event (a body, or binary-mode ce- headers for an event without data) is a reply.
        const carriesEvent = result.body.length > 0 || result.headers.some(([k]) => k === "ce-specversion");
        return toSubscriber && result.status === 200 && carriesEvent ? replyOf(result) : { ok: true, status: result.status };
      }
    }
  }

  /**
   * An EventTransform (compiled when this configuration was applied): its result is the reply, or goes to
   * its sink, whose reply `spec.reply` reshapes or discards. An expression that fails or gives no
   * CloudEvent fails the delivery for good (422: not retried), so it goes to the dead-letter sink.
   */
  private async transform(target: Extract<Target, { kind: "transform" }>, event: CloudEvent, ttl: AttributeValue | undefined, t: Trigger, toSubscriber: boolean, forwarded: Record<string, string>): Promise<Sent> {
    const what = `EventTransform ${target.namespace}/${target.name}`;
    const compiled = this.transformers.get(transformKey(target));
    if (!target.spec || !compiled) return { ok: false, status: 404, body: `${what} does not exist`, retryAfterMs: null };
    if ("error" in compiled) return { ok: false, status: 422, body: `${what}: ${compiled.error}`, retryAfterMs: null };
    const out = await transformEvent(compiled.request, event);
    if ("error" in out) return { ok: false, status: 422, body: `${what}: ${out.error}`, retryAfterMs: null };
    const sink = target.spec.sink;
    if (!sink) return { ok: true, reply: out };
    const sent = await this.sendTo(sink, out, ttl, t, toSubscriber, forwarded);
    if (!("reply" in sent) || !target.spec.reply) return sent;
    if (!compiled.reply) return { ok: true }; // discard: true
    const shaped = await transformEvent(compiled.reply, sent.reply);
    return "error" in shaped ? { ok: false, status: 422, body: `${what} (reply): ${shaped.error}`, retryAfterMs: null } : { ok: true, reply: shaped };
  }

  /** Encode and send: from this object while it has a connection free, else through a dispatcher slot. */
  private async send(url: string, event: CloudEvent, t: Trigger, toSubscriber: boolean, forwarded: Record<string, string>): Promise<OutboundResult> {
    const ns = this.config!.namespace;
    let headers: Headers;
    let body: Uint8Array | null;
    if (t.policy.format === "json") {
      headers = new Headers({ "content-type": "application/cloudevents+json" });
      body = new TextEncoder().encode(encodeStructured(event));
    } else {
      ({ headers, body } = encodeBinary(event));
    }
    for (const [k, v] of Object.entries(forwarded)) headers.set(k, v);
    headers.set("kn-namespace", ns);
    if (toSubscriber) headers.set("prefer", "reply");
    const req: OutboundRequest = { url, headers: [...headers], body, timeoutMs: t.policy.timeoutMs };
    return this.connections.free ? this.connections.send(req) : this.sendThroughSlot(req, t);
  }

  /** The least-loaded of the trigger's ceil(parallelism / 6) dispatcher slots. */
  private async sendThroughSlot(req: OutboundRequest, t: Trigger): Promise<OutboundResult> {
    const slots = Math.ceil(t.config.parallelism / CONNECTIONS_PER_OBJECT);
    let slot = 0;
    for (let i = 1; i < slots; i++) if ((this.slotLoad.get(`${t.config.name}#${i}`) ?? 0) < (this.slotLoad.get(`${t.config.name}#${slot}`) ?? 0)) slot = i;
    const key = `${t.config.name}#${slot}`;
    this.slotLoad.set(key, (this.slotLoad.get(key) ?? 0) + 1);
    try {
      const stub = this.env.DISPATCHER.getByName(`${this.config!.namespace}/${this.config!.name}/${t.config.uid}/${slot}`);
      return (await stub.send(req)) as OutboundResult;
    } finally {
      this.slotLoad.set(key, (this.slotLoad.get(key) ?? 1) - 1);
    }
  }

  /**
   * A reply re-enters this broker with the delivered event's TTL, or goes where the trigger's `reply` says
   * (a flow's next channel), or nowhere.
   */
  private async reply(reply: CloudEvent, ttl: unknown, forwarded: Record<string, string>, t: Trigger): Promise<Outcome> {
    const to = t.config.reply;
    if (to === null) return { ok: true };
    reply.attributes.knativebrokerttl = ttl as number;
    const p = this.config!.partition;
    // A partition keeps the replies it owns; others go to their owner like any event.
    const here = to === undefined && (!p || partitionOf(reply, p.count) === p.index);
    const r = here ? await this.store([reply], forwarded) : await ingestInto(this.env, to ?? this.config!, [reply], forwarded);
    if (r.status === 202) {
      this.count("", "replies", 1);
      return { ok: true, status: 200 }; // a reply is a 200 with an event (a transform's result counts as one)
    }
    if (r.status === 400) {
      // The reply chain used up its hops: the loop ends here, visibly.
      this.count("", "dropped", 1);
      console.log(JSON.stringify({ level: "warn", msg: "reply dropped: TTL exhausted", broker: this.key(), id: reply.attributes.id }));
      return { ok: true };
    }
    return { ok: false, status: 503, body: `reply not stored: ${r.error}`, retryAfterMs: r.status === 429 ? r.retryAfterSeconds * 1000 : null };
  }

  private settle(row: DeliveryRow, t: Trigger, outcome: Outcome, started: number): void {
    const name = t.config.name;
    // The row is gone when its trigger was deleted (and maybe re-created) while this attempt was in flight.
    if (!this.triggers.has(name) || this.sql.exec("SELECT 1 FROM deliveries WHERE id = ?", row.id).toArray().length === 0) return;
    // Everything but a plain success is logged, with the event's id (read now: settling may delete the event).
    const id = outcome.ok && row.phase === "subscriber" ? undefined : this.sql.exec<{ id: string }>("SELECT json_extract(body, '$.id') AS id FROM events WHERE seq = ?", row.event_seq).one().id;
    const verdict = this.record(row, t, outcome, started);
    if (verdict !== "delivered") {
      const level = verdict === "failed" ? "error" : verdict === "retry" ? "warn" : "info";
      const failure = outcome.ok ? {} : { status: outcome.status, error: describeBody(outcome.body) };
      console.log(JSON.stringify({ level, msg: `delivery ${verdict}`, broker: this.key(), trigger: name, id, phase: row.phase, attempt: row.attempt + 1, ...failure }));
    }
    if (this.watching()) this.notify({ kind: "delivery", at: Date.now(), trigger: name, eventSeq: row.event_seq, phase: row.phase, attempt: row.attempt + 1, verdict, status: outcome.ok ? null : outcome.status });
  }

  /** Write an attempt's outcome as decided: done, retry later, move to the dead-letter sink, or keep as failed. */
  private record(row: DeliveryRow, t: Trigger, outcome: Outcome, started: number): Verdict {
    const now = Date.now();
    const name = t.config.name;
    const d = decide({ phase: row.phase, attempt: row.attempt, policy: t.policy, hasDeadLetterSink: t.deadLetter !== undefined, subscriberUri: t.config.subscriberUri }, outcome);
    this.history.attempted(row.event_seq, name, d.verdict, outcome, started, now, row.phase === "deadletter", row.replay);
    if (row.replay && (d.verdict === "delivered" || d.verdict === "deadlettered" || d.verdict === "failed")) this.history.settled(row.replay, d.verdict);
    switch (d.verdict) {
      case "delivered": {
        const arrived = this.sql.exec<{ arrived_at: number }>("SELECT arrived_at FROM events WHERE seq = ?", row.event_seq).one().arrived_at;
        this.counters.observeLatency(name, now - arrived);
        this.finish(row, name, d.verdict);
        break;
      }
      case "deadlettered":
        this.finish(row, name, d.verdict);
        break;
      case "retry":
        this.sql.exec("UPDATE deliveries SET attempt = attempt + 1, next_at = ? WHERE id = ?", now + d.delayMs, row.id);
        this.count(name, "retried", 1);
        break;
      case "to-dead-letter-sink":
        this.sql.exec("UPDATE deliveries SET phase = 'deadletter', attempt = 0, next_at = ?, error = ? WHERE id = ?", now, JSON.stringify(d.extensions), row.id);
        break;
      case "failed": {
        // Kept (bounded), counted, logged: never silently gone.
        const body = this.sql.exec<{ body: string }>("SELECT body FROM events WHERE seq = ?", row.event_seq).one().body;
        this.sql.exec("INSERT INTO dead (trigger, at, reason, body) VALUES (?, ?, ?, ?)", name, now, d.reason, body);
        this.sql.exec("DELETE FROM dead WHERE id <= (SELECT max(id) FROM dead) - ?", DEAD_KEEP);
        this.finish(row, name, "failed");
      }
    }
    return d.verdict;
  }

  private finish(row: DeliveryRow, trigger: string, counter: CounterName): void {
    this.sql.exec("DELETE FROM deliveries WHERE id = ?", row.id);
    const left = (this.remaining.get(row.event_seq) ?? 1) - 1;
    if (left > 0) this.remaining.set(row.event_seq, left);
    else {
      this.remaining.delete(row.event_seq);
      if (!this.history.retains()) this.sql.exec("DELETE FROM events WHERE seq = ?", row.event_seq);
    }
    this.backlog--;
    this.count(trigger, counter, 1);
  }

  private key(): string {
    return `${this.config?.namespace}/${this.config?.name}`;
  }
}

/** A 200 with a body must be a CloudEvent. */
function replyOf(result: Extract<OutboundResult, { status: number }>): Sent {
  const decoded = result.truncated ? null : decodeHttp(new Headers(result.headers), result.body, { maxBatchEvents: 0 });
  if (!decoded || "error" in decoded || decoded.mode === "batch" || decoded.events.length !== 1) {
    const why = decoded && "error" in decoded ? decoded.error : "not a single CloudEvent";
    return { ok: false, status: 502, body: `subscriber replied with a body that is not a CloudEvent: ${why}`, retryAfterMs: null };
  }
  return { ok: true, reply: decoded.events[0] };
}

/** The compiled expressions of a broker's EventTransform targets, by target. */
type Transformers = Map<string, { request: CompiledJsonata; reply?: CompiledJsonata } | { error: string }>;

function transformKey(target: { namespace: string; name: string }): string {
  return `${target.namespace}/${target.name}`;
}

/** Compile each EventTransform the broker delivers to (subscribers, dead-letter sinks), once per configuration. */
function compileTransformers(config: BrokerConfig | null): Transformers {
  const out: Transformers = new Map();
  for (const target of [config?.deadLetter, ...(config?.triggers ?? []).flatMap((t) => [t.subscriber, t.deadLetter])]) {
    if (target?.kind !== "transform" || !target.spec || out.has(transformKey(target))) continue;
    const request = compileJsonata(target.spec.expression);
    const replyExpression = target.spec.reply && "expression" in target.spec.reply ? compileJsonata(target.spec.reply.expression) : undefined;
    // Validated at apply time; one that no longer compiles (an upgrade of the library) fails its deliveries.
    const broken = "error" in request ? request.error : replyExpression && "error" in replyExpression ? replyExpression.error : null;
    out.set(transformKey(target), broken ? { error: `the expression does not compile: ${broken.message}` } : { request: request as CompiledJsonata, reply: replyExpression as CompiledJsonata | undefined });
  }
  return out;
}

/** The promise's value, or null when it has not settled within `ms`. */
async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | null> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<null>((resolve) => {
    timer = setTimeout(() => resolve(null), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}


/** Knative's TTL rule: absent or not an integer -> MAX_TTL; otherwise one hop less, never above MAX_TTL. */
function nextTtl(raw: unknown): number {
  if (raw === undefined || !/^-?\d{1,10}$/.test(String(raw))) return MAX_TTL;
  return Math.min(Math.max(Number(raw) - 1, 0), MAX_TTL);
}

function safeMatch(filter: CompiledFilter, event: CloudEvent, scratch: FilterScratch): boolean {
  try {
    return filter(event, scratch) !== "fail";
  } catch {
    return false;
  }
}
