/**
 * One broker partition (one object per namespace/broker/partition, and per channel of the router): its
 * lifecycle (opening its storage, configuration pushes, the alarm, the live feed's WebSocket) and its
 * calls (shared/contracts/broker.ts), each handed to the part that owns it:
 * - storage: broker/store.ts (every table, their schema and migrations, the write-behind, the log's expiry);
 * - ingest: broker/ingest.ts (admission, TTL, dedup, backlog, the turn's group commit into the log);
 * - dispatch: broker/dispatch.ts (the pump, attempts, replies, settling, redelivery);
 * - history and replays: history.ts; the live feed: live-feed.ts;
 * - replies to the broker's RequestReplies: reply-handoff.ts.
 */
import { DurableObject } from "cloudflare:workers";
import type { CloudEvent } from "../shared/cloudevents/event.ts";
import type { Gate } from "../shared/autoscaling/activator.ts";
import type { BrokerRpc } from "../shared/contracts/broker.ts";
import type { IngestResult } from "../shared/contracts/ingest.ts";
import type { HistoryQuery, PartitionPage } from "../shared/history/query.ts";
import type { ReplayPlan, ReplayProgress } from "../shared/history/replay.ts";
import type { BrokerMetrics, DeadLetter } from "../shared/resources/broker-api.ts";
import type { BrokerConfig } from "../shared/resources/eventing.ts";
import { BrokerDispatch } from "./broker/dispatch.ts";
import { BrokerIngest } from "./broker/ingest.ts";
import { BrokerState } from "./broker/state.ts";
import { BrokerStore } from "./broker/store.ts";
import { COUNT_BUDGET_CHARS, History } from "./broker/history.ts";
import type { KeyValueTable } from "./storage/key-value.ts";
import { LiveFeed } from "./broker/live-feed.ts";
import { ReplyHandoff } from "./broker/reply-handoff.ts";

export class Broker extends DurableObject<Env> implements BrokerRpc {
  private readonly store = new BrokerStore(this.ctx.storage);
  private readonly state = new BrokerState(this.env, this.ctx, this.store, new LiveFeed(this.ctx));
  /** Retained events, their delivery history, and replays. */
  private readonly history: History = new History({
    sql: this.store.sql,
    log: this.store.log,
    rows: this.store.rows,
    transaction: (fn) => this.store.transaction(fn),
    writer: (name, everyMs, write) => this.store.writes.writer(name, everyMs, write),
    keyOf: (trigger, event) => this.state.keyOf(trigger, event),
    triggers: () => new Map([...this.state.triggers].map(([name, t]) => [name, t.config.parallelism])),
  });
  private readonly dispatch: BrokerDispatch = new BrokerDispatch(this.state, this.history, (events, headers) => this.ingestion.store(events, headers));
  /** Replies to the broker's RequestReplies go to their waiting requests (reply-handoff.ts). */
  private readonly replies = new ReplyHandoff(this.env, this.ctx, (name) => this.state.count("", name, 1));
  private readonly ingestion: BrokerIngest = new BrokerIngest(
    this.state,
    (trigger) => this.dispatch.touch(trigger),
    (events, fresh) => this.replies.stored(events, fresh),
  );
  /** The pushed configuration and its version (table `config`); null until the first configuration. */
  private settings: KeyValueTable | null = null;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    if (this.store.exists) this.open();
  }

  /** Open the storage, take the stored configuration, and rebuild what memory holds (lanes, dedup index). */
  private open(): KeyValueTable {
    const settings = this.store.open();
    this.history.load();
    this.apply(settings.getJson<BrokerConfig>("broker"));
    this.ingestion.restore();
    this.settings = settings;
    return settings;
  }

  /**
   * The control plane's push, on every change and once a minute from the cron watchdog, which is why it
   * writes the alarm again (in case the platform lost it). `null`: the broker was deleted, its queue is
   * dropped (and counted). `version` orders pushes: one older than the last applied is ignored.
   */
  async configure(config: BrokerConfig | null, version: number): Promise<void> {
    if (!this.settings && config === null) return; // never configured: nothing to drop, nothing to create
    const settings = this.settings ?? this.open();
    this.dispatch.rearm();
    const text = JSON.stringify(config);
    // Pushes can overtake each other; an older one must not undo a newer (and drop its triggers' queues).
    if (Number(settings.get("version") ?? -1) > version) return;
    settings.put("version", String(version));
    if (settings.get("broker") !== text) {
      this.store.writes.flush("history"); // events accepted under the old triggers reach their lanes first
      const keep = config?.triggers.map((t) => t.name) ?? [];
      this.store.transaction(() => {
        settings.put("broker", text);
        const rows = this.store.rows.dropExcept(keep);
        const gone = this.apply(config);
        let dropped = rows.length;
        for (const trigger of new Set([...gone.keys(), ...rows.map((r) => r.trigger)])) {
          const mine = rows.filter((r) => r.trigger === trigger);
          const fromLane = gone.get(trigger)?.clear() ?? [];
          dropped += fromLane.length;
          this.history.dropped(
            trigger,
            [...fromLane, ...mine.map((r) => r.event_seq)],
            mine.flatMap((r) => (r.replay ? [r.replay] : [])),
          );
        }
        // A deleted trigger's series leave /metrics with it; what its queue held is counted on the broker.
        if (dropped > 0) this.state.count("", "dropped", dropped);
        this.store.counters.forget(keep);
        // A deleted broker keeps no events.
        if (config === null) this.store.log.clear();
      });
      if (config === null) this.ingestion.clear();
      this.history.recount();
      this.store.expireSoon();
    }
    await this.dispatch.pump();
  }

  /** Take a configuration: every part's view of it; the lanes of the triggers that went. */
  private apply(config: BrokerConfig | null) {
    this.state.apply(config);
    this.dispatch.deliverySender.configure(config);
    this.dispatch.flow.configure(config?.triggers ?? []);
    this.dispatch.gates.configure(config?.triggers ?? []);
    this.history.configure(config?.retentionMs ?? 0);
    this.replies.configure(config);
    return this.store.lanes.reconcile([...this.state.triggers.keys()], this.store.log.end);
  }

  async ingest(events: CloudEvent[], headers: Record<string, string> = {}, producer?: { bearer: string | undefined }): Promise<IngestResult> {
    const result = await this.ingestion.ingest(events, headers, producer);
    if (result.status === 202 && result.accepted > 0) await this.dispatch.pump("touched");
    return result;
  }

  override async alarm(): Promise<void> {
    if (!this.settings) return;
    this.dispatch.rearm();
    this.store.expire(Date.now(), this.state.config, this.history.segments());
    // The cursors now: a restart then finds above them only events waiting or in flight, which the alarm
    // this pump arms covers, not ones delivered since the last write that no alarm would wake for.
    this.store.writes.flush("cursors");
    this.store.counters.flush();
    await this.dispatch.pump();
  }

  /** The live feed's WebSocket upgrade (live-feed.ts). */
  override async fetch(request: Request): Promise<Response> {
    return this.state.live.open(request);
  }

  override async webSocketClose(ws: WebSocket, code: number): Promise<void> {
    // 1005, 1006 and 1015 only report what happened; they may not be sent.
    ws.close([1005, 1006, 1015].includes(code) ? 1000 : code, "closing");
  }

  connectionStats(): { open: number; peak: number } {
    return this.dispatch.deliverySender.connectionStats();
  }

  metrics(): BrokerMetrics {
    if (!this.settings) return { backlog: 0, inflight: {}, dead: 0, counters: [] };
    return {
      backlog: this.ingestion.backlog(),
      inflight: Object.fromEntries([...this.state.triggers.keys()].map((name) => [name, this.dispatch.inflight(name)])),
      dead: this.store.dead.count(),
      counters: this.store.counters.rows(),
      rateLimited: this.dispatch.flow.held(),
      ...this.dispatch.gates.stats((name) => this.dispatch.inflight(name)),
    };
  }

  gate(trigger: string, gate: Gate): void {
    if (this.settings) this.dispatch.gates.update(trigger, gate);
  }

  deadLetters(limit = 100): DeadLetter[] {
    return this.settings ? this.store.dead.list(limit) : [];
  }

  async redeliver(id: number): Promise<boolean> {
    if (!this.settings || !this.dispatch.redeliver(id)) return false;
    await this.dispatch.pump();
    return true;
  }

  searchHistory(query: HistoryQuery, before: number | null, limit: number): PartitionPage {
    if (!this.settings) return { rows: [] };
    this.ingestion.flush();
    return this.history.search(query, before, limit, Date.now());
  }

  async countReplay(plan: ReplayPlan): Promise<{ matched: number; complete: boolean }> {
    return this.settings ? await this.history.count(plan, COUNT_BUDGET_CHARS) : { matched: 0, complete: true };
  }

  async startReplay(plan: ReplayPlan): Promise<void> {
    if (!this.settings) return;
    this.ingestion.flush();
    await this.history.start(plan);
    await this.dispatch.pump();
  }

  /** Deleting a Replay stops it: its queued deliveries go (those in flight finish, uncounted). */
  stopReplay(name: string): void {
    if (this.settings) this.history.stop(name);
  }

  replayProgress(name: string): ReplayProgress | null {
    return this.settings ? this.history.progress(name) : null;
  }

  queued(trigger: string, pkey: string): boolean {
    return !!this.settings && this.dispatch.queued(trigger, pkey);
  }

  seen(keys: { source: string; id: string }[]): boolean[] {
    return this.settings ? this.ingestion.seen(keys) : keys.map(() => false);
  }
}
