/**
 * A broker partition's event history and replays (API.md §6), kept beside its queue in the same SQLite.
 *
 * Storage is designed for few rows written: an event's row (written at ingest anyway) is kept after its
 * last delivery instead of deleted, and its delivery history lives in one JSON column of that row, with no
 * index. Attempts are gathered in memory and written at most once per HISTORY_FLUSH_MS per event, so the
 * attempts of an event's fan-out or of quick retries cost one row written together. (A crash loses at most
 * that last second of attempt records, never an event or a delivery: the queue is written before.)
 * Expiry deletes retained rows in bulk. The cap is a window of seqs (seqs grow with arrival), so keeping
 * it needs no count.
 *
 * A replay scans retained events in arrival order from a stored cursor and queues deliveries marked with
 * its name, a bounded batch at a time: at most half of its triggers' parallelism (and at most
 * REPLAY_BATCH) is replay deliveries, so the other half is always free for live events.
 * The cursor and the queued rows are written in one transaction, so a crash loses nothing and the replay
 * resumes from storage.
 */
import type { CloudEvent } from "../shared/cloudevents/event.ts";
import { decodeStructured } from "../shared/cloudevents/index.ts";
import type { Outcome, Verdict } from "../shared/delivery/outcome.ts";
import { describeBody } from "../shared/delivery/outcome.ts";
import type { HistoryQuery, PartitionRow } from "../shared/history/query.ts";
import { ATTEMPTS_KEPT, attemptFlags, type DeliveryState, eventRecord, type StoredAttempt, type StoredHistory } from "../shared/history/record.ts";
import { compileReplayFilter, type ReplayPlan, type ReplayProgress, replayTargets } from "../shared/history/replay.ts";
import type { CompiledFilter } from "../shared/filters/knative.ts";
import type { MeteredSql } from "./metered-sql.ts";

/** Attempt records wait in memory at most this long before they are written. */
export const HISTORY_FLUSH_MS = 1_000;
/**
 * Most replay deliveries queued at once per replay and partition (fewer when half its triggers'
 * parallelism is less); the next batch is queued when half are done.
 */
export const REPLAY_BATCH = 100;
/** Retained events a replay looks at per step before it yields (most may not be selected). */
const REPLAY_SCAN = 500;
/** Expiry runs no more often than this. */
const EXPIRY_INTERVAL_MS = 5_000;
/** Events evicted together once the cap is passed: a partition holds at most this many above its cap. */
const EVICT_BATCH = 100;
/** While a replay runs the alarm comes back this soon, so a step that queued nothing is followed by another. */
const REPLAY_WAKE_MS = 1_000;

/** What the history needs from the broker it lives in. */
export interface HistoryHost {
  sql: MeteredSql;
  transaction(fn: () => void): void;
  /** Queue a delivery of a stored event to a trigger, marked with a replay's name. */
  enqueue(seq: number, trigger: string, event: CloudEvent, now: number, replay: string): void;
  /** The broker's current triggers: name -> parallelism. */
  triggers(): ReadonlyMap<string, number>;
  /** Seqs of events with deliveries still queued (they are never expired or evicted). */
  queued(): Iterable<number>;
  evicted(n: number): void;
}

interface Running {
  plan: ReplayPlan;
  filter: CompiledFilter;
  /** Every retained event up to the cursor has been looked at. */
  scanned: boolean;
}

export class History {
  private retentionMs = 0;
  private limit = 0;
  /** Earliest time the next expiry is due (Infinity: nothing retained). */
  private nextExpiry = Infinity;
  /** The oldest stored event's seq (Infinity: none): the cap is a window of seqs above it. */
  private oldest = Infinity;
  /** The seq at which eviction was last tried (queued events cannot go: the next try waits a batch). */
  private triedAt = -Infinity;
  private readonly running = new Map<string, Running>();
  /** Histories changed since the last flush, by event seq. */
  private readonly dirty = new Map<number, StoredHistory>();
  private flushTimer: ReturnType<typeof setTimeout> | null = null;
  /** Replay deliveries queued and not settled, per replay. */
  private readonly outstanding = new Map<string, number>();

  private readonly host: HistoryHost;

  constructor(host: HistoryHost) {
    this.host = host;
  }

  /** Add the history's columns and table to a broker's storage (idempotent) and load running replays. */
  open(): void {
    const { sql } = this.host;
    const columns = (table: string) => sql.exec<{ name: string }>(`SELECT name FROM pragma_table_info('${table}')`).toArray().map((c) => c.name);
    if (!columns("events").includes("history")) sql.exec("ALTER TABLE events ADD COLUMN history TEXT");
    if (!columns("deliveries").includes("replay")) sql.exec("ALTER TABLE deliveries ADD COLUMN replay TEXT");
    sql.exec(`CREATE TABLE IF NOT EXISTS replays (name TEXT PRIMARY KEY, plan TEXT NOT NULL, cursor INTEGER NOT NULL DEFAULT 0, scanned INTEGER NOT NULL DEFAULT 0,
      matched INTEGER NOT NULL, delivered INTEGER NOT NULL DEFAULT 0, failed INTEGER NOT NULL DEFAULT 0, done INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID`);
    this.running.clear();
    for (const r of sql.exec<{ name: string; plan: string; scanned: number }>("SELECT name, plan, scanned FROM replays WHERE done = 0")) {
      const plan = JSON.parse(r.plan) as ReplayPlan;
      this.running.set(r.name, { plan, filter: compileReplayFilter(plan), scanned: r.scanned === 1 });
    }
    this.recount();
    this.nextExpiry = -Infinity; // unknown until the first expiry looks
    this.oldest = sql.exec<{ seq: number | null }>("SELECT min(seq) AS seq FROM events").one().seq ?? Infinity;
  }

  configure(retentionMs: number, limit: number): void {
    // A shorter retention or a lower cap applies at the next alarm, not when the old schedule comes.
    if (retentionMs < this.retentionMs || limit < this.limit) this.nextExpiry = -Infinity;
    this.retentionMs = retentionMs;
    this.limit = limit;
  }

  /** Replay deliveries still queued, from the table (at start, and after deliveries were dropped with their trigger). */
  recount(): void {
    this.outstanding.clear();
    for (const r of this.host.sql.exec<{ replay: string; n: number }>("SELECT replay, count(*) AS n FROM deliveries WHERE replay IS NOT NULL GROUP BY replay")) this.outstanding.set(r.replay, r.n);
    for (const name of [...this.running.keys()]) this.finishIfDone(name);
  }

  /** Whether delivered events are kept (the broker deletes them on their last delivery otherwise). */
  retains(): boolean {
    return this.retentionMs > 0;
  }

  /** After the broker stored an event row: evict the oldest once the partition holds more than its cap. */
  stored(seq: number, now: number): void {
    if (!this.retains()) return;
    if (this.nextExpiry === Infinity) this.nextExpiry = now + this.retentionMs;
    this.oldest = Math.min(this.oldest, seq);
    if (seq - this.oldest + 1 <= this.limit + EVICT_BATCH || seq < this.triedAt + EVICT_BATCH) return;
    this.triedAt = seq;
    this.evicted(this.deleteBelow(seq - this.limit + 1));
    // Events still queued are evicted once delivered, by the alarm.
    if (seq - this.oldest + 1 > this.limit) this.nextExpiry = Math.min(this.nextExpiry, now + EXPIRY_INTERVAL_MS);
  }

  private evicted(n: number): void {
    if (n > 0) this.host.evicted(n);
  }

  /** Record an attempt's outcome on the event's row. Skipped when the row is about to go (no retention). */
  attempted(seq: number, trigger: string, verdict: Verdict, outcome: Outcome, startedAt: number, now: number, deadLetterSink: boolean, replay: string | null): void {
    // Without retention the row goes with its last delivery (and its seq may be reused): nothing to record.
    if (!this.retains()) return;
    const state = STATE_OF[verdict];
    const attempt: StoredAttempt = [startedAt, outcome.ok ? (outcome.status ?? null) : outcome.status, now - startedAt, outcome.ok ? null : describeBody(outcome.body)];
    const flags = attemptFlags(deadLetterSink, replay);
    if (flags) attempt.push(flags);
    this.update(seq, (h) => {
      const d = (h[trigger] ??= { s: state, a: [] });
      d.s = state;
      d.a.push(attempt);
      if (d.a.length > ATTEMPTS_KEPT) d.a.splice(0, d.a.length - ATTEMPTS_KEPT);
    });
  }

  /** Queued deliveries dropped with their trigger: shown as dropped, and a replay's counted as failed. */
  dropped(rows: { event_seq: number; trigger: string; replay: string | null }[]): void {
    for (const r of rows) if (r.replay && this.running.has(r.replay)) this.host.sql.exec("UPDATE replays SET failed = failed + 1 WHERE name = ?", r.replay);
    if (!this.retains()) return;
    for (const r of rows) this.update(r.event_seq, (h) => h[r.trigger] && (h[r.trigger].s = "dropped"));
  }

  private update(seq: number, change: (h: StoredHistory) => unknown): void {
    let h = this.dirty.get(seq);
    if (!h) {
      const row = this.host.sql.exec<{ history: string | null }>("SELECT history FROM events WHERE seq = ?", seq).toArray()[0];
      if (!row) return;
      h = row.history ? (JSON.parse(row.history) as StoredHistory) : {};
      this.dirty.set(seq, h);
    }
    change(h);
    this.flushTimer ??= setTimeout(() => this.flush(), HISTORY_FLUSH_MS);
  }

  /** Write the gathered attempt records: one statement, one row per event. */
  flush(): void {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    if (this.dirty.size === 0) return;
    const rows = JSON.stringify([...this.dirty].map(([seq, h]) => [seq, JSON.stringify(h)]));
    this.dirty.clear();
    this.host.sql.exec("UPDATE events SET history = j.value ->> 1 FROM json_each(?) j WHERE events.seq = j.value ->> 0", rows);
  }

  /** The alarm's time for the next expiry or replay step (Infinity: none). */
  wakeAt(now: number): number {
    const replay = this.running.size > 0 ? now + REPLAY_WAKE_MS : Infinity;
    return Math.min(replay, this.nextExpiry === Infinity ? Infinity : Math.max(this.nextExpiry, now));
  }

  /** From the alarm: delete what outlived the retention, and what a lowered cap no longer holds. */
  expire(now: number): void {
    if (this.nextExpiry > now) return;
    const { sql } = this.host;
    const cutoff = now - this.retentionMs;
    // Seqs grow with arrival: the expired events are those below the first one that has not expired.
    const first = sql.exec<{ seq: number }>("SELECT seq FROM events WHERE arrived_at > ? ORDER BY seq LIMIT 1", cutoff).toArray()[0]?.seq;
    const newest = sql.exec<{ seq: number | null }>("SELECT max(seq) AS seq FROM events").one().seq;
    if (newest === null) {
      this.nextExpiry = Infinity;
      return;
    }
    this.deleteBelow(first ?? newest + 1);
    if (this.retains()) this.evicted(this.deleteBelow(newest - this.limit + 1));
    const oldest = sql.exec<{ at: number }>("SELECT arrived_at AS at FROM events ORDER BY seq LIMIT 1").toArray()[0]?.at;
    const overCap = this.retains() && newest - this.oldest + 1 > this.limit;
    this.nextExpiry = oldest === undefined ? Infinity : Math.max(overCap ? now : oldest + this.retentionMs, now + EXPIRY_INTERVAL_MS);
  }

  /** Delete the events below `seq` that have no queued delivery; how many went. */
  private deleteBelow(seq: number): number {
    const { sql } = this.host;
    this.flush();
    const keep = [...this.host.queued()].filter((s) => s < seq);
    const deleted = sql.exec("DELETE FROM events WHERE seq < ? AND seq NOT IN (SELECT value FROM json_each(?))", seq, JSON.stringify(keep)).rowsWritten;
    this.oldest = sql.exec<{ seq: number | null }>("SELECT min(seq) AS seq FROM events").one().seq ?? Infinity;
    return deleted;
  }

  /** This partition's events matching the query, newest first, below `before` when given. */
  search(q: HistoryQuery, before: number | null, limit: number): PartitionRow[] {
    this.flush();
    return this.host.sql
      .exec<{ seq: number; arrived_at: number; body: string; history: string | null }>(
        `SELECT seq, arrived_at, body, history FROM events WHERE (?1 IS NULL OR seq < ?1)
           AND (?2 IS NULL OR body ->> '$.id' = ?2) AND (?3 IS NULL OR body ->> '$.source' = ?3)
           AND (?4 IS NULL OR body ->> '$.type' = ?4) AND (?5 IS NULL OR body ->> '$.subject' = ?5)
           AND (?6 IS NULL OR arrived_at >= ?6) AND (?7 IS NULL OR arrived_at <= ?7)
           AND ((?8 IS NULL AND ?9 IS NULL) OR EXISTS (SELECT 1 FROM json_each(history) h WHERE (?8 IS NULL OR h.key = ?8) AND (?9 IS NULL OR h.value ->> '$.s' = ?9)))
         ORDER BY seq DESC LIMIT ?10`,
        before, q.id ?? null, q.source ?? null, q.type ?? null, q.subject ?? null, q.since ?? null, q.until ?? null, q.trigger ?? null, q.state ?? null, limit,
      )
      .toArray()
      .map((r) => ({ seq: r.seq, arrivedAt: r.arrived_at, record: eventRecord(r.body, r.arrived_at, r.history) }));
  }

  /** How many (event, trigger) deliveries a replay with this plan sends from this partition. */
  count(plan: ReplayPlan): number {
    const filter = compileReplayFilter(plan);
    const triggers = this.host.triggers();
    let n = 0;
    for (const row of this.inRange(plan, 0, Infinity)) n += replayTargets(plan, filter, decodeStructured(row.body) as CloudEvent, JSON.parse(row.history ?? "{}"), triggers).length;
    return n;
  }

  private inRange(plan: ReplayPlan, after: number, limit: number): { seq: number; body: string; history: string | null }[] {
    this.flush();
    return this.host.sql
      .exec<{ seq: number; body: string; history: string | null }>(
        "SELECT seq, body, history FROM events WHERE seq > ? AND arrived_at >= ? AND arrived_at <= ? AND history IS NOT NULL ORDER BY seq LIMIT ?",
        after, plan.from, plan.to, limit === Infinity ? -1 : limit,
      )
      .toArray();
  }

  /** Start a replay (again after a restart of the router: a replay of that name already stored goes on). */
  start(plan: ReplayPlan): void {
    if (this.host.sql.exec("SELECT 1 FROM replays WHERE name = ?", plan.name).toArray().length > 0) return;
    const matched = this.count(plan);
    this.host.sql.exec("INSERT INTO replays (name, plan, matched) VALUES (?, ?, ?)", plan.name, JSON.stringify(plan), matched);
    this.running.set(plan.name, { plan, filter: compileReplayFilter(plan), scanned: false });
  }

  /** Stop and forget a replay: its queued deliveries are removed (the broker recounts its queue after). */
  stop(name: string): void {
    this.host.transaction(() => {
      this.host.sql.exec("DELETE FROM replays WHERE name = ?", name);
      this.host.sql.exec("DELETE FROM deliveries WHERE replay = ?", name);
    });
    this.running.delete(name);
    this.outstanding.delete(name);
  }

  progress(name: string): ReplayProgress | null {
    const row = this.host.sql.exec<{ matched: number; delivered: number; failed: number; done: number }>("SELECT matched, delivered, failed, done FROM replays WHERE name = ?", name).toArray()[0];
    return row ? { matched: row.matched, delivered: row.delivered, failed: row.failed, done: row.done === 1 } : null;
  }

  /** A replay delivery reached its end: count it, and finish the replay when it was the last. */
  settled(name: string, verdict: Verdict): void {
    const column = verdict === "delivered" ? "delivered" : "failed";
    this.host.sql.exec(`UPDATE replays SET ${column} = ${column} + 1 WHERE name = ?`, name);
    this.outstanding.set(name, Math.max((this.outstanding.get(name) ?? 1) - 1, 0));
    this.finishIfDone(name);
  }

  /** Queue the next batch of every running replay that has room (from the broker's pump: cheap when none). */
  refill(now: number): void {
    for (const [name, r] of this.running) {
      const batch = this.batchOf(r.plan);
      if (r.scanned || (this.outstanding.get(name) ?? 0) > batch / 2) continue;
      this.host.transaction(() => this.step(name, r, now, batch));
      this.finishIfDone(name);
    }
  }

  /** Half the smallest parallelism of the replay's triggers, within 1 to REPLAY_BATCH. */
  private batchOf(plan: ReplayPlan): number {
    const triggers = this.host.triggers();
    const parallelism = (plan.triggers ?? [...triggers.keys()]).map((t) => triggers.get(t) ?? Infinity);
    return Math.max(1, Math.min(REPLAY_BATCH, Math.floor(Math.min(...parallelism) / 2)));
  }

  private step(name: string, r: Running, now: number, batch: number): void {
    const { sql } = this.host;
    let cursor = sql.exec<{ cursor: number }>("SELECT cursor FROM replays WHERE name = ?", name).one().cursor;
    const triggers = this.host.triggers();
    let queued = 0;
    const rows = this.inRange(r.plan, cursor, REPLAY_SCAN);
    for (const row of rows) {
      const event = decodeStructured(row.body) as CloudEvent;
      const targets = replayTargets(r.plan, r.filter, event, JSON.parse(row.history ?? "{}"), triggers);
      for (const trigger of targets) this.host.enqueue(row.seq, trigger, event, now, name);
      queued += targets.length;
      cursor = row.seq;
      if (queued >= batch) break;
    }
    this.outstanding.set(name, (this.outstanding.get(name) ?? 0) + queued);
    r.scanned = rows.length < REPLAY_SCAN && cursor === (rows.at(-1)?.seq ?? cursor);
    sql.exec("UPDATE replays SET cursor = ?, scanned = ? WHERE name = ?", cursor, r.scanned ? 1 : 0, name);
  }

  private finishIfDone(name: string): void {
    const r = this.running.get(name);
    if (!r?.scanned || (this.outstanding.get(name) ?? 0) > 0) return;
    this.host.sql.exec("UPDATE replays SET done = 1 WHERE name = ?", name);
    this.running.delete(name);
  }
}

const STATE_OF: Record<Verdict, DeliveryState> = {
  delivered: "delivered",
  deadlettered: "deadlettered",
  failed: "failed",
  retry: "retrying",
  "to-dead-letter-sink": "retrying",
};
