/**
 * One broker partition's data plane (one object per namespace/broker/partition). Ingest appends accepted
 * events to the event log (durable-objects/event-log.ts) before it answers: the requests of one turn
 * share one transaction and one row (group commit). Each trigger has a lane through the log and one
 * stored cursor (durable-objects/trigger-lanes.ts), so a first attempt costs no row of its own; only an
 * event that needs more (a retry, the dead-letter sink, ordering behind a retry, a replay, a redelivery)
 * gets a row in `deliveries`, whose `next_at` holds its schedule. An alarm always covers the earliest
 * such row, so nothing depends on memory surviving an eviction or a deploy.
 */
import { DurableObject } from "cloudflare:workers";
import { decodeStructured, encodeStructured } from "../shared/cloudevents/index.ts";
import type { CloudEvent } from "../shared/cloudevents/event.ts";
import { sameSecret } from "../shared/crypto.ts";
import { DedupIndex } from "../shared/delivery/dedup-index.ts";
import { childTraceparent, isTraceparent } from "../shared/delivery/trace.ts";
import { decide, describeBody, type Outcome, type Verdict } from "../shared/delivery/outcome.ts";
import { type DeliveryPolicy, resolvePolicy } from "../shared/delivery/policy.ts";
import { type CompiledFilter, compileTriggerFilter, type FilterScratch } from "../shared/filters/knative.ts";
import type { BrokerMetrics, CounterName, DeadLetter } from "../shared/resources/broker-api.ts";
import type { Target } from "../shared/resources/destination.ts";
import { BROKER_ANNOTATIONS, type BrokerConfig, type TriggerConfig } from "../shared/resources/eventing.ts";
import { secretReader } from "../shared/secrets.ts";
import { BrokerCounters } from "./broker-counters.ts";
import { type DeliveryRow, DeliveryRows, type NextAttempt } from "./delivery-rows.ts";
import { Sender } from "./broker-sender.ts";
import { EventLog, type EventMeta, type LogEntry, SEGMENT_EVENTS, segmentOf } from "./event-log.ts";
import { GroupCommit } from "./group-commit.ts";
import { History } from "./history.ts";
import { KeyValueTable } from "./key-value.ts";
import { LiveFeed } from "./live-feed.ts";
import { MeteredSql } from "./metered-sql.ts";
import { ingestInto, queuedAtEarlierOwner, seenByEarlierOwners } from "./routing.ts";
import { TriggerLanes } from "./trigger-lanes.ts";
import { partitionOf } from "../shared/partitions.ts";
import type { HistoryQuery, PartitionRow } from "../shared/history/query.ts";
import type { ReplayPlan, ReplayProgress } from "../shared/history/replay.ts";
import { FlowControl } from "./flow-control.ts";
import { ActivatorGates } from "./activator-gates.ts";
import type { Gate } from "../shared/autoscaling/activator.ts";

/** Knative's MAX_TTL: hops an event and its replies may make through brokers. */
export const MAX_TTL = 255;
/** When due rows wait only for free parallelism, completions drive dispatch; the alarm is a safety net. */
const SAFETY_WAKE_MS = 30_000;
/** Exhausted events kept for inspection and redelivery when no dead-letter sink took them. */
export const DEAD_KEEP = 10_000;
/** Retry-After a refused producer is told to wait when the backlog is full. */
const BACKLOG_RETRY_AFTER_S = 5;
/** How long a key that moved here by a growth waits before asking its earlier partition again. */
const ORDER_HOLD_MS = 500;
/** The log's expiry runs no more often than this. */
const EXPIRY_INTERVAL_MS = 5_000;

export type IngestResult =
  | { status: 202; accepted: number; duplicates: number }
  | { status: 400; error: string; field?: string }
  | { status: 401 | 403 | 404 | 500; error: string }
  | { status: 429 | 503; error: string; retryAfterSeconds: number }
  /** Misdirected: the events' partition under this broker's partition count is another one. */
  | { status: 421; error: string };

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
  private readonly log = new EventLog(this.sql);
  private readonly lanes = new TriggerLanes(this.sql);
  private dedup = new DedupIndex();
  /** Accepted events wait here for the turn's group commit. */
  private readonly commits = new GroupCommit<LogEntry[]>((batches) => this.commit(batches.flat()));
  /** Retained events, their delivery history, and replays (durable-objects/history.ts). */
  private readonly history = new History({
    sql: this.sql,
    log: this.log,
    transaction: (fn) => this.ctx.storage.transactionSync(fn),
    enqueue: (pos, trigger, event, now, replay) => this.enqueue(pos, trigger, this.keyOf(trigger, event), now, replay),
    triggers: () => new Map([...this.triggers].map(([name, t]) => [name, t.config.parallelism])),
  });
  /** The pushed configuration and its version (table `config`); null until the first configuration. */
  private settings: KeyValueTable | null = null;
  private config: BrokerConfig | null = null;
  private triggers = new Map<string, Trigger>();
  private readonly rows = new DeliveryRows(this.sql);
  /** Deliveries of events accepted and not yet committed (they count against the backlog limit already). */
  private committing = 0;
  /**
   * Delivery ids in flight per trigger: the lease, in memory only. A restart has nothing in flight (the
   * runtime runs one instance of an object), so every stored row is due again then; no row is written to
   * take or release a lease.
   */
  private readonly leased = new Map<string, Set<number>>();
  private readonly sender = new Sender(this.env);
  private readonly live = new LiveFeed(this.ctx);
  /** Triggers that got new events or a free slot since the last pump: only they need a look. */
  private readonly touched = new Set<string>();
  /**
   * The alarm time this object set last and that has not fired yet. setAlarm is a storage write on every
   * ingest and settle otherwise; an alarm that comes earlier than needed only pumps once more.
   */
  private armedAt: number | null = null;
  /** When the log's expiry is due next (Infinity: the log is empty). */
  private nextExpiry = -Infinity;
  /** Ordered (trigger, key) pairs whose earlier partition had nothing queued any more (heldForOrder). */
  private readonly drained = new Set<string>();
  /** Pause and rate limit per trigger (durable-objects/flow-control.ts); its wake-ups pump the trigger. */
  private readonly flow = new FlowControl(this.env, (name) => {
    this.touched.add(name);
    this.ctx.waitUntil(this.pump("touched"));
  });
  /** Triggers a ScaledObject scales from wait for its target (durable-objects/activator-gates.ts); its wake-ups pump the trigger. */
  private readonly gates = new ActivatorGates(this.env, (name) => {
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
   * Create (or open) the broker's tables, load its configuration and rebuild what memory holds: the lanes
   * from the log above their cursors, the dedup index from the log within its window.
   */
  private open(): KeyValueTable {
    this.rows.open((fn) => this.ctx.storage.transactionSync(fn));
    this.sql.exec(`
      CREATE TABLE IF NOT EXISTS dead (id INTEGER PRIMARY KEY AUTOINCREMENT, trigger TEXT NOT NULL, at INTEGER NOT NULL, reason TEXT NOT NULL, body TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS counters (trigger TEXT NOT NULL, name TEXT NOT NULL, value INTEGER NOT NULL, PRIMARY KEY (trigger, name)) WITHOUT ROWID;`);
    const cursors = this.lanes.open();
    this.log.open(Math.max(0, ...cursors.values()));
    this.migrateEvents();
    this.history.open();
    this.settings = new KeyValueTable(this.sql, "config");
    this.apply(this.settings.getJson<BrokerConfig>("broker"));
    this.rebuild();
    return this.settings;
  }

  /** After a start: each lane gets the logged events it matched above its cursor; the dedup index its window. */
  private rebuild(): void {
    const now = Date.now();
    this.dedup = new DedupIndex();
    for (const k of this.log.keysSince(now - (this.config?.dedupWindowMs ?? 0))) this.dedup.add(DedupIndex.key(k.s, k.i), k.at);
    for (let from = segmentOf(this.lanes.floor(this.log.end)); ; ) {
      const rows = this.log.segmentsFrom(from, 64);
      for (const row of rows) (JSON.parse(row.meta) as EventMeta[]).forEach((meta, i) => this.toLanes(row.seq * SEGMENT_EVENTS + i, meta));
      if (rows.length < 64) break;
      from = rows.at(-1)!.seq + 1;
    }
  }

  /** Put a logged event in the lanes of the triggers it matched; the trigger names that got it. */
  private toLanes(pos: number, meta: EventMeta): string[] {
    if (meta.q) return [];
    return meta.m.filter((name) => {
      const lane = this.lanes.get(name);
      if (!lane) return false;
      lane.push({ pos, key: this.triggers.get(name)!.config.ordered ? (meta.k ?? "") : null });
      return true;
    });
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
      this.commits.flush(); // events accepted under the old triggers reach their lanes first
      this.history.flush();
      this.ctx.storage.transactionSync(() => {
        settings.put("broker", text);
        const rows = this.rows.dropExcept(config?.triggers.map((t) => t.name) ?? []);
        const gone = this.apply(config);
        let dropped = rows.length;
        for (const trigger of new Set([...gone.keys(), ...rows.map((r) => r.trigger)])) {
          const mine = rows.filter((r) => r.trigger === trigger);
          const fromLane = gone.get(trigger)?.clear() ?? [];
          dropped += fromLane.length;
          this.history.dropped(trigger, [...fromLane, ...mine.map((r) => r.event_seq)], mine.flatMap((r) => (r.replay ? [r.replay] : [])));
        }
        // A deleted trigger's series leave /metrics with it; what its queue held is counted on the broker.
        if (dropped > 0) this.count("", "dropped", dropped);
        this.counters.forget(config?.triggers.map((t) => t.name) ?? []);
        // A deleted broker keeps no events.
        if (config === null) this.sql.exec("DELETE FROM log");
      });
      if (config === null) {
        this.log.reload(0);
        this.dedup = new DedupIndex();
      }
      this.history.recount();
      this.nextExpiry = -Infinity; // a shorter retention or a lower cap applies at the next alarm
    }
    await this.pump();
  }

  /**
   * Accept events from ingress: durable (in the log, with their lanes' positions) before this returns 202.
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
   * Objects created before the log kept a row per event (`events`) and a dedup table: their events move
   * into the log once, one segment each, and their queued rows follow them to their positions. (The old
   * dedup entries go: the events they stood for may be accepted again for the rest of their window.)
   */
  private migrateEvents(): void {
    if (this.sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'events'").toArray().length === 0) return;
    this.ctx.storage.transactionSync(() => {
      const moved: [number, number][] = [];
      for (const r of this.sql.exec<{ seq: number; arrived_at: number; body: string; headers: string | null; history?: string | null }>("SELECT * FROM events ORDER BY seq").toArray()) {
        const event = decodeStructured(r.body);
        if ("status" in event) continue; // never stored by the router: nothing to deliver
        const history = r.history ? JSON.parse(r.history) : {};
        const meta: EventMeta = { s: String(event.attributes.source), i: String(event.attributes.id), m: Object.keys(history), q: 1, ...(r.headers ? { h: JSON.parse(r.headers) } : {}) };
        const [pos] = this.log.append([{ event, body: encodeStructured(event), meta }], r.arrived_at);
        if (r.history) this.sql.exec("UPDATE log SET history = ? WHERE seq = ?", JSON.stringify({ 0: history }), segmentOf(pos));
        moved.push([r.seq, pos]);
      }
      this.rows.remap(moved);
      this.sql.exec("DROP TABLE events");
      this.sql.exec("DROP TABLE IF EXISTS dedup");
    });
  }

  /** Deliveries queued: the lanes', the rows', and those of events being committed. */
  private backlog(): number {
    return this.lanes.size + this.rows.count + this.committing;
  }

  override async alarm(): Promise<void> {
    if (!this.settings) return;
    this.armedAt = null;
    this.expire(Date.now());
    this.counters.flush();
    await this.pump();
  }

  /**
   * Delete the log segments nothing needs any more (durable-objects/event-log.ts): kept for the longer of
   * the retention and the dedup window, while a lane or a queued row needs them, and within the
   * retention cap.
   */
  private expire(now: number): void {
    const config = this.config;
    if (!config || this.nextExpiry > now) return;
    this.commits.flush();
    this.history.flush();
    const pinned = this.rows.segments(SEGMENT_EVENTS);
    const retention = config.retentionMs ?? 0;
    const r = this.log.expire(now, this.lanes.floor(this.log.end), pinned, Math.max(retention, config.dedupWindowMs), retention > 0 ? (config.retentionLimit ?? Infinity) : Infinity);
    if (r.evicted > 0) this.count("", "history_evicted", r.evicted);
    this.nextExpiry = r.next === Infinity ? Infinity : Math.max(r.next, now + EXPIRY_INTERVAL_MS);
  }

  /** The live feed's WebSocket upgrade (durable-objects/live-feed.ts). */
  override async fetch(request: Request): Promise<Response> {
    return this.live.open(request);
  }

  override async webSocketClose(ws: WebSocket, code: number): Promise<void> {
    // 1005, 1006 and 1015 only report what happened; they may not be sent.
    ws.close([1005, 1006, 1015].includes(code) ? 1000 : code, "closing");
  }

  /** The broker's own connection budget, so tests can check the limit by design. */
  connectionStats(): { open: number; peak: number } {
    return this.sender.connectionStats();
  }

  metrics(): BrokerMetrics {
    if (!this.settings) return { backlog: 0, inflight: {}, dead: 0, counters: [] };
    return {
      backlog: this.backlog(),
      inflight: Object.fromEntries([...this.triggers.keys()].map((name) => [name, (this.leased.get(name)?.size ?? 0) + (this.lanes.get(name)?.inflight ?? 0)])),
      dead: this.sql.exec<{ n: number }>("SELECT count(*) AS n FROM dead").one().n,
      counters: this.counters.rows(),
      rateLimited: this.flow.held(),
      ...this.gates.stats((name) => (this.leased.get(name)?.size ?? 0) + (this.lanes.get(name)?.inflight ?? 0)),
    };
  }

  /** The Autoscaler object's push of a gated trigger's gate (durable-objects/activator-gates.ts). */
  gate(trigger: string, gate: Gate): void {
    if (this.settings) this.gates.update(trigger, gate);
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
    if (!this.settings) return [];
    this.commits.flush();
    return this.history.search(query, before, limit, Date.now());
  }

  /** How many deliveries a replay would send from this partition (a dry run). */
  countReplay(plan: ReplayPlan): number {
    return this.settings ? this.history.count(plan) : 0;
  }

  async startReplay(plan: ReplayPlan): Promise<void> {
    if (!this.settings) return;
    this.commits.flush();
    this.history.start(plan);
    await this.pump();
  }

  /** Deleting a Replay stops it: its queued deliveries go (those in flight finish). */
  stopReplay(name: string): void {
    if (!this.settings) return;
    this.history.stop(name);
    this.rows.recount();
  }

  replayProgress(name: string): ReplayProgress | null {
    return this.settings ? this.history.progress(name) : null;
  }

  /** Queue a kept dead letter to its trigger again, from the first attempt: logged anew, delivered through a row. */
  async redeliver(id: number): Promise<boolean> {
    if (!this.settings) return false;
    const row = this.sql.exec<{ trigger: string; body: string }>("SELECT trigger, body FROM dead WHERE id = ?", id).toArray()[0];
    if (!row || !this.triggers.has(row.trigger)) return false;
    this.ctx.storage.transactionSync(() => {
      const event = decodeStructured(row.body) as CloudEvent;
      const now = Date.now();
      const [pos] = this.log.append([{ event, body: row.body, meta: { s: String(event.attributes.source), i: String(event.attributes.id), m: [row.trigger], q: 1 } }], now);
      this.enqueue(pos, row.trigger, this.keyOf(row.trigger, event), now);
      this.sql.exec("DELETE FROM dead WHERE id = ?", id);
    });
    this.nextExpiry = Math.min(this.nextExpiry, Date.now() + EXPIRY_INTERVAL_MS);
    await this.pump();
    return true;
  }

  /** Take a configuration: compile its triggers, make the lanes theirs; the lanes of triggers that went. */
  private apply(config: BrokerConfig | null): ReturnType<TriggerLanes["reconcile"]> {
    this.config = config;
    this.sender.configure(config);
    this.triggers = new Map();
    this.history.configure(config?.retentionMs ?? 0);
    this.flow.configure(config?.triggers ?? []);
    this.gates.configure(config?.triggers ?? []);
    for (const t of config?.triggers ?? []) {
      const compiled = compileTriggerFilter(t.filter);
      // Validated at apply time; a filter that no longer compiles (an upgrade changed a dialect) matches nothing.
      const filter: CompiledFilter = "filter" in compiled ? compiled.filter : () => "fail";
      this.triggers.set(t.name, { config: t, filter, policy: resolvePolicy(t.delivery, config!.delivery), deadLetter: t.deadLetter ?? config!.deadLetter });
    }
    return this.lanes.reconcile([...this.triggers.keys()], this.log.end);
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
    if (!this.settings || !this.config) return keys.map(() => false);
    const now = Date.now();
    return keys.map((k) => this.dedup.has(DedupIndex.key(k.source, k.id), now, this.config!.dedupWindowMs));
  }

  /**
   * Check, filter and log events; answered once the turn's group commit has written them. Their dedup
   * keys and backlog count are taken at once, so the requests of the same turn see them.
   */
  private async accept(events: CloudEvent[], headers: Record<string, string>, seenElsewhere = new Set<number>()): Promise<IngestResult> {
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
    this.dedup.expire(now, config.dedupWindowMs);
    const fresh = this.unseen(prepared, now, config.dedupWindowMs).map((f, i) => f && !seenElsewhere.has(i));
    const matches = prepared.map((e, i) => {
      if (!fresh[i]) return [];
      const scratch = {}; // what one trigger's filter derives from this event, the next ones reuse
      return [...this.triggers.values()].filter((t) => safeMatch(t.filter, e, scratch));
    });
    const wanted = matches.reduce((n, m) => n + m.length, 0);
    const backlog = this.backlog();
    if (backlog + wanted > config.backlogLimit) {
      return { status: 429, error: `broker backlog is full (${backlog} of ${config.backlogLimit} deliveries queued)`, retryAfterSeconds: BACKLOG_RETRY_AFTER_S };
    }
    // Kept even when no trigger matched: for dedup, and with retention "where did my event go" has an answer too.
    const keep = config.dedupWindowMs > 0 || (config.retentionMs ?? 0) > 0;
    const entries: LogEntry[] = [];
    const keys: string[] = [];
    prepared.forEach((event, i) => {
      if (!fresh[i] || (matches[i].length === 0 && !keep)) return;
      const own = event.attributes.traceparent;
      const forwarded = isTraceparent(own) ? { ...headers, traceparent: own } : headers;
      const meta: EventMeta = { s: String(event.attributes.source), i: String(event.attributes.id), m: matches[i].map((t) => t.config.name) };
      if (Object.keys(forwarded).length > 0) meta.h = forwarded;
      if (event.attributes.partitionkey !== undefined) meta.k = String(event.attributes.partitionkey);
      entries.push({ event, body: encodeStructured(event), meta });
      keys.push(DedupIndex.key(meta.s, meta.i));
    });
    if (config.dedupWindowMs > 0) for (const key of keys) this.dedup.add(key, now);
    this.committing += wanted;
    try {
      if (entries.length > 0) await this.commits.add(entries);
    } catch (e) {
      for (const key of keys) this.dedup.remove(key);
      this.log.reload();
      return { status: 500, error: `events not stored: ${(e as Error).message}` };
    } finally {
      this.committing -= wanted;
    }
    const accepted = fresh.filter(Boolean).length;
    const duplicates = prepared.length - accepted;
    this.live.send(() => prepared.map((event, i) => ({ kind: "event", at: now, id: String(event.attributes.id), source: String(event.attributes.source), type: String(event.attributes.type), matched: matches[i].map((t) => t.config.name) })));
    this.count("", "accepted", accepted);
    if (duplicates > 0) this.count("", "duplicates", duplicates);
    return { status: 202, accepted, duplicates };
  }

  /** The turn's group commit: one log segment (and one transaction) for every event accepted in it. */
  private commit(entries: LogEntry[]): void {
    const now = Date.now();
    const matched = new Map<string, number>();
    this.ctx.storage.transactionSync(() => {
      const positions = this.log.append(entries, now);
      entries.forEach((e, i) => {
        for (const name of this.toLanes(positions[i], e.meta)) {
          matched.set(name, (matched.get(name) ?? 0) + 1);
          this.touched.add(name);
        }
      });
    });
    for (const [trigger, n] of matched) this.count(trigger, "matched", n);
    if (this.nextExpiry === Infinity) this.nextExpiry = now + EXPIRY_INTERVAL_MS;
    const limit = this.config?.retentionLimit;
    if (limit !== undefined && (this.config?.retentionMs ?? 0) > 0 && this.log.size > limit) this.nextExpiry = Math.min(this.nextExpiry, now);
  }

  /** Per event: not seen within the dedup window, neither stored before nor earlier in this request. */
  private unseen(events: CloudEvent[], now: number, windowMs: number): boolean[] {
    if (windowMs <= 0) return events.map(() => true);
    const inRequest = new Set<string>();
    return events.map((e) => {
      const key = DedupIndex.key(String(e.attributes.source), String(e.attributes.id));
      if (inRequest.has(key)) return false;
      inRequest.add(key);
      return !this.dedup.has(key, now, windowMs);
    });
  }

  /** Queue a delivery as a row (a replay's, a redelivery's, one held for order). */
  private enqueue(pos: number, trigger: string, pkey: string | null, now: number, replay: string | null = null): void {
    this.rows.add(pos, trigger, pkey, { phase: "subscriber", attempt: 0, error: null, nextAt: now }, replay);
  }

  /** The key an ordered trigger keeps an event's order by (events without `partitionkey` share one); null when unordered. */
  private keyOf(trigger: string, event: CloudEvent): string | null {
    return this.triggers.get(trigger)?.config.ordered ? String(event.attributes.partitionkey ?? "") : null;
  }

  private count(trigger: string, name: CounterName, n: number): void {
    this.counters.add(trigger, name, n);
  }

  /**
   * Start every due delivery there is room for, then arm the alarm for the next one: due rows first (they
   * are older than anything in the lane), then the lane. `only: "touched"` looks at just the triggers that
   * got new events or freed a slot (ingest and completions: the hot path); the alarm and configuration
   * changes look at all.
   */
  private async pump(only?: "touched"): Promise<void> {
    const now = Date.now();
    this.history.refill(now);
    const look = only ? [...this.touched].map((name) => this.triggers.get(name)).filter((t) => t !== undefined) : [...this.triggers.values()];
    this.touched.clear();
    for (const t of look) {
      // Flow control: a paused trigger starts nothing (its queue keeps filling within the backlog limit).
      if (t.config.paused) continue;
      const name = t.config.name;
      const leased = this.leased.get(name) ?? new Set<number>();
      this.leased.set(name, leased);
      const lane = this.lanes.get(name);
      let free = t.config.parallelism - leased.size - (lane?.inflight ?? 0);
      if (free <= 0) continue;
      const due = this.rows.due(name, t.config.ordered, now, leased, free);
      const inFlight = leased.size + (lane?.inflight ?? 0);
      // The activator: a gated trigger's deliveries wait for a ready replica and within the target's capacity.
      free = this.gates.allow(this.config!, t.config, inFlight, due.length + Math.min(lane?.waiting ?? 0, free - due.length), due.length + (lane?.waiting ?? 0), now);
      // Flow control: the rate limit says how many of the due rows and lane events start now (it wakes the
      // pump for the rest). An ordered lane may start fewer than it was granted: the rest of the grant is unused.
      free = this.flow.allow(this.config!, t.config, free, now);
      for (const row of due.slice(0, free)) {
        leased.add(row.id!);
        free--;
        this.ctx.waitUntil(this.deliver(row, t));
      }
      if (free <= 0 || !lane?.waiting) continue;
      // A key with rows queued goes behind them, as a row too (its order is theirs); so does a key that may
      // still be queued at its earlier partition after a growth (the row's delivery asks).
      const { start, held } = lane.take(free, t.config.ordered, (key) => this.rows.hasKey(name, key) || this.mayBeQueuedEarlier(t, key));
      if (held.length > 0) this.ctx.storage.transactionSync(() => held.forEach((e) => this.enqueue(e.pos, name, e.key, now)));
      for (const e of start) this.ctx.waitUntil(this.deliver({ id: null, event_seq: e.pos, trigger: name, pkey: e.key, phase: "subscriber", attempt: 0, error: null, replay: null }, t));
    }
    await this.arm();
  }

  /**
   * Wake at the earliest future due time, and for the log's expiry and running replays. Rows and lane
   * events already due but not started wait for free parallelism or their partition's head, which
   * completions release; for them the alarm is a safety net.
   */
  private async arm(): Promise<void> {
    const now = Date.now();
    // Paused triggers have nothing to wake for.
    const running = [...this.triggers.values()].filter((t) => !t.config.paused).map((t) => t.config.name);
    const row = this.rows.schedule(running, now);
    const waiting = row.waiting || running.some((name) => (this.lanes.get(name)?.waiting ?? 0) > 0);
    const at = Math.min(row.future ?? Infinity, waiting ? now + SAFETY_WAKE_MS : Infinity, Math.max(this.nextExpiry, now), this.history.wakeAt(now));
    if (at === Infinity || (this.armedAt !== null && this.armedAt <= at)) return;
    this.armedAt = at;
    await this.ctx.storage.setAlarm(at);
  }

  private async deliver(row: DeliveryRow, t: Trigger): Promise<void> {
    const name = t.config.name;
    if (row.id !== null && (await this.heldForOrder(row, t))) {
      this.rows.postpone(row.id, Date.now() + ORDER_HOLD_MS);
      this.leased.get(name)?.delete(row.id);
      return this.arm();
    }
    let outcome: Outcome;
    const started = Date.now();
    try {
      outcome = await this.attempt(row, t);
    } catch (e) {
      outcome = { ok: false, status: null, body: `dispatch error: ${(e as Error).message}`, retryAfterMs: null };
    }
    this.settle(row, t, outcome, started);
    if (row.id === null) {
      this.lanes.get(name)?.settle(row.event_seq);
      this.lanes.moved();
    } else this.leased.get(name)?.delete(row.id);
    this.touched.add(name);
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
    if (row.pkey === null || !this.mayBeQueuedEarlier(t, row.pkey)) return false;
    try {
      if (await queuedAtEarlierOwner(this.env, this.config!, t.config.name, String(row.pkey))) return true;
    } catch {
      return true; // not known: ask again after the hold
    }
    this.drained.add(key);
    return false;
  }

  /** An ordered trigger's key that an earlier partition (before a growth) may still hold events of. */
  private mayBeQueuedEarlier(t: Trigger, pkey: string): boolean {
    return t.config.ordered && !!this.config?.partition?.previous.length && !this.drained.has(`${t.config.name}\u0000${pkey}`);
  }

  /** Whether this partition has queued deliveries of `pkey` for an ordered trigger. */
  queued(trigger: string, pkey: string): boolean {
    if (!this.settings) return false;
    return !!this.lanes.get(trigger)?.holds(pkey) || this.rows.hasKey(trigger, pkey);
  }

  private async attempt(row: DeliveryRow, t: Trigger): Promise<Outcome> {
    const logged = this.log.read(row.event_seq);
    if (!logged) return { ok: false, status: null, body: `the event at log position ${row.event_seq} is no longer stored`, retryAfterMs: null };
    const { event } = logged;
    const forwarded: Record<string, string> = { ...logged.meta.h };
    forwarded.traceparent = childTraceparent(forwarded.traceparent);
    const toSubscriber = row.phase === "subscriber";
    const target = toSubscriber ? t.config.subscriber : t.deadLetter!;
    const { knativebrokerttl: ttl, ...rest } = event.attributes;
    const attributes = toSubscriber ? rest : { ...rest, ...JSON.parse(row.error ?? "{}") };
    // A replayed event is the original with one extension naming the Replay (API.md §6).
    const outgoing: CloudEvent = { attributes: row.replay ? { ...attributes, replay: row.replay } : attributes, data: event.data };
    const sent = await this.sender.sendTo(target, outgoing, ttl, t, toSubscriber, forwarded);
    return "reply" in sent ? (toSubscriber ? this.reply(sent.reply, ttl, forwarded, t) : { ok: true }) : sent;
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
    // The delivery is gone when its trigger was deleted (and maybe re-created) while this attempt was in flight.
    const current = row.id === null ? !!this.lanes.get(name)?.flies(row.event_seq) : this.rows.exists(row.id);
    if (!this.triggers.has(name) || !current) return;
    const verdict = this.record(row, t, outcome, started);
    // Everything but a plain success is logged, with the event's id.
    if (verdict !== "delivered") {
      const level = verdict === "failed" ? "error" : verdict === "retry" ? "warn" : "info";
      const failure = outcome.ok ? {} : { status: outcome.status, error: describeBody(outcome.body) };
      console.log(JSON.stringify({ level, msg: `delivery ${verdict}`, broker: this.key(), trigger: name, id: this.log.read(row.event_seq)?.meta.i, phase: row.phase, attempt: row.attempt + 1, ...failure }));
    }
    this.live.send(() => [{ kind: "delivery", at: Date.now(), trigger: name, eventSeq: row.event_seq, phase: row.phase, attempt: row.attempt + 1, verdict, status: outcome.ok ? null : outcome.status }]);
  }

  /**
   * Write an attempt's outcome as decided: done, retry later, move to the dead-letter sink, or keep as
   * failed. A first attempt from the lane that needs more becomes a row here.
   */
  private record(row: DeliveryRow, t: Trigger, outcome: Outcome, started: number): Verdict {
    const now = Date.now();
    const name = t.config.name;
    const d = decide({ phase: row.phase, attempt: row.attempt, policy: t.policy, hasDeadLetterSink: t.deadLetter !== undefined, subscriberUri: t.config.subscriberUri }, outcome);
    this.history.attempted(row.event_seq, name, d.verdict, outcome, started, now, row.phase === "deadletter", row.replay);
    if (row.replay && (d.verdict === "delivered" || d.verdict === "deadlettered" || d.verdict === "failed")) this.history.settled(row.replay, d.verdict);
    switch (d.verdict) {
      case "delivered":
        this.counters.observeLatency(name, now - (this.log.read(row.event_seq)?.arrivedAt ?? now));
        this.finish(row, name, d.verdict);
        break;
      case "deadlettered":
        this.finish(row, name, d.verdict);
        break;
      case "retry":
        this.requeue(row, { phase: row.phase, attempt: row.attempt + 1, nextAt: now + d.delayMs, error: row.error });
        this.count(name, "retried", 1);
        break;
      case "to-dead-letter-sink":
        this.requeue(row, { phase: "deadletter", attempt: 0, nextAt: now, error: JSON.stringify(d.extensions) });
        break;
      case "failed": {
        // Kept (bounded), counted, logged: never silently gone.
        const logged = this.log.read(row.event_seq);
        if (logged) {
          this.sql.exec("INSERT INTO dead (trigger, at, reason, body) VALUES (?, ?, ?, ?)", name, now, d.reason, encodeStructured(logged.event));
          this.sql.exec("DELETE FROM dead WHERE id <= (SELECT max(id) FROM dead) - ?", DEAD_KEEP);
        }
        this.finish(row, name, "failed");
      }
    }
    return d.verdict;
  }

  /** The delivery's next attempt: its row updated, or (a first attempt from the lane) written. */
  private requeue(row: DeliveryRow, next: NextAttempt): void {
    if (row.id !== null) this.rows.update(row.id, next);
    else this.rows.add(row.event_seq, row.trigger, row.pkey, next);
  }

  private finish(row: DeliveryRow, trigger: string, counter: CounterName): void {
    if (row.id !== null) this.rows.remove(row.id);
    this.count(trigger, counter, 1);
  }

  private key(): string {
    return `${this.config?.namespace}/${this.config?.name}`;
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
