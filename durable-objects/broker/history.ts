/**
 * A broker partition's event history and replays (API.md §6), kept in its event log
 * (durable-objects/broker/event-log.ts). Retention costs no row of its own: the log's segments are kept for the
 * retention period instead of deleted once delivered, and the events' delivery histories live in one JSON
 * column of their segment's row (keyed by index), with no index. Attempts are gathered in memory and
 * written at most once per HISTORY_FLUSH_MS per segment, so the attempts of a segment's events cost one
 * row written together. (A crash loses at most that last second of attempt records, never an event or a
 * delivery.) An event with no record yet is pending for every trigger it matched (the log's metadata).
 *
 * A replay is a lane through the log, like a trigger's (shared/delivery/lane.ts): it scans retained events
 * in arrival order from its cursor into a window of (event, trigger) deliveries, and the pump
 * (dispatch.ts) starts them from there straight from the decoded segment, after every live event
 * and retry of the trigger in that turn and at most half the trigger's parallelism (at most REPLAY_BATCH)
 * at a time, so the other half is always free for live events; within that, the budget
 * (shared/delivery/replay-budget.ts) lets a replay have only as many in flight as keeps the partition's
 * live deliveries as fast as usual (the thread is one, and live work waits behind queued replay
 * completions), all of it when live traffic is quiet. A first attempt that succeeds writes
 * nothing; one that fails becomes a `deliveries` row marked with the replay's name (retries, dead-letter
 * sink), counted when the row ends. The cursor (the last position below which every delivery of the
 * replay ended or became a row) and the ended deliveries' counts are written together, one row, at most
 * once per REPLAY_PROGRESS_MS (the write-behind); a restart goes on from the stored cursor, so what was in
 * flight above it is sent again (at least once, as the lanes) and counted once. The log's segments and
 * the rows are read and written through their owners (event-log.ts, delivery-rows.ts); the `replays`
 * table is this module's (its `scanned` column is no longer read: a restart scans on from the cursor).
 */
import type { CloudEvent } from "../../shared/cloudevents/event.ts";
import type { Outcome, Verdict } from "../../shared/delivery/outcome.ts";
import { describeBody } from "../../shared/delivery/outcome.ts";
import type { HistoryQuery, PartitionPage, PartitionRow } from "../../shared/history/query.ts";
import {
  ATTEMPTS_KEPT,
  attemptFlags,
  type DeliveryState,
  eventRecord,
  initialHistory,
  keepLatest,
  type StoredAttempt,
  type StoredHistory,
  storedSegmentHistory,
} from "../../shared/history/record.ts";
import { compileReplayFilter, type ReplayPlan, type ReplayProgress, replayTargets } from "../../shared/history/replay.ts";
import type { CompiledFilter } from "../../shared/filters/knative.ts";
import { ReplayBudget } from "../../shared/delivery/replay-budget.ts";
import type { DeliveryRows } from "./delivery-rows.ts";
import { decodeSegment, type EventLog, type EventMeta, SEGMENT_EVENTS, segmentOf, type SegmentRow } from "./event-log.ts";
import type { MeteredSql, Table } from "../storage/metered-sql.ts";
import type { Writer } from "./write-behind.ts";

/** Attempt records wait in memory at most this long before they are written (and a failed write is tried again). */
export const HISTORY_FLUSH_MS = 1_000;
/** Most replay deliveries in flight at once per replay, trigger and partition (fewer when half the trigger's parallelism is less). */
export const REPLAY_BATCH = 100;
/** A running replay's cursor and counts are written at most this often while they move. */
export const REPLAY_PROGRESS_MS = 1_000;
/** Most deliveries a replay's window holds ahead of its cursor (the triggers that are slower hold it back). */
const WINDOW_ENTRIES = 1_024;
/** Segments read per step of a search or a replay. */
const SEGMENTS_PER_READ = 16;
/**
 * Characters of stored events one history search decodes per partition and call before it answers with
 * what it found and where it stopped (the next page goes on from there): a search that matches nothing
 * must not decode every retained segment in one call.
 */
export const SEARCH_BUDGET_CHARS = 8 * 1024 * 1024;
/** Characters of stored events a replay's dry run counts per partition; beyond, its count is a lower bound. */
export const COUNT_BUDGET_CHARS = 32 * 1024 * 1024;
/** While a replay runs the alarm comes back this soon, so a scan that found nothing yet goes on. */
const REPLAY_WAKE_MS = 1_000;

/**
 * One row per replay: its plan, its cursor through the log and its progress. `counted`: the last position
 * the count at its start reached (within COUNT_BUDGET_CHARS); NULL when that count was complete. Beyond
 * it, `matched` grows as the lane passes further deliveries.
 */
export const REPLAYS_TABLE: Table = {
  name: "replays",
  create: `CREATE TABLE IF NOT EXISTS replays (name TEXT PRIMARY KEY, plan TEXT NOT NULL, cursor INTEGER NOT NULL DEFAULT 0, scanned INTEGER NOT NULL DEFAULT 0,
      matched INTEGER NOT NULL, delivered INTEGER NOT NULL DEFAULT 0, failed INTEGER NOT NULL DEFAULT 0, done INTEGER NOT NULL DEFAULT 0, counted INTEGER) WITHOUT ROWID`,
  migrate(sql) {
    const old = sql.exec<{ sql: string }>("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'replays'").toArray()[0];
    if (old && !old.sql.includes("counted")) sql.exec("ALTER TABLE replays ADD COLUMN counted INTEGER");
  },
};

/** What the history needs from the broker it lives in. */
export interface HistoryHost {
  sql: MeteredSql;
  log: EventLog;
  rows: DeliveryRows;
  transaction(fn: () => void): void;
  /** This module's place in the broker's write-behind. */
  writer(name: "history" | "replays", everyMs: number, write: () => void): Writer;
  /** The partition key of an event for an ordered trigger; null otherwise. */
  keyOf(trigger: string, event: CloudEvent): string | null;
  /** The broker's current triggers: name -> parallelism. */
  triggers(): ReadonlyMap<string, number>;
}

/**
 * A running replay's lane through the log: the last position scanned, and a window of the deliveries
 * scanned and not yet folded into the stored cursor (waiting, in flight, or ended above a position still
 * open), in log order.
 */
interface Running {
  plan: ReplayPlan;
  filter: CompiledFilter;
  /** Every retained event in the plan's range has been scanned. */
  scanned: boolean;
  /** The last position scanned. */
  scanPos: number;
  /** The cursor as last written. */
  savedCursor: number;
  window: WindowEntry[];
  /** The window's first entry not folded. */
  head: number;
  /** Deliveries in flight from the window, by flightKey, and their count per trigger. */
  flying: Map<string, WindowEntry>;
  flyingPer: Map<string, number>;
  /** Deliveries folded below the cursor and not yet written; `matched`: those beyond `counted`. */
  unwritten: { delivered: number; failed: number; matched: number };
  /** The last position the start's count reached; null: it counted everything. */
  counted: number | null;
  /**
   * The segment being scanned and its stored histories (null: outside the plan's range, skipped). Its
   * events are read one at a time through the log's cache of decoded segments, which the sender reads too.
   */
  segment?: { seq: number; histories: SegmentHistory | null };
  /**
   * Segments this lane brought into the log's cache, in order. They leave it once the window is past
   * them: left to age out of the cache behind the replay's newer segments, their decoded events lived for
   * seconds, long enough for the isolate's garbage collector to copy them twice and promote them, and so
   * to be found only by a full collection (docs/BENCHMARKS.md, "Replays beside live traffic").
   */
  decoded: number[];
}

/** A logged event with its position and history. */
interface LoggedHistory {
  pos: number;
  event: CloudEvent;
  history: StoredHistory;
}

/** A segment's histories by event index. */
type SegmentHistory = Record<string, StoredHistory>;

export class History {
  /** The replays' in-flight limit per trigger, which follows the live deliveries' latency (dispatch feeds it). */
  readonly budget = new ReplayBudget();
  private retentionMs = 0;
  private readonly running = new Map<string, Running>();
  /** Segment histories changed since the last flush, by segment seq. */
  private readonly dirty = new Map<number, SegmentHistory>();
  /** Replay deliveries waiting in `deliveries` rows (they failed a first attempt), per replay. */
  private readonly outstanding = new Map<string, number>();

  private readonly host: HistoryHost;
  private readonly writer: Writer;
  private readonly progressWriter: Writer;

  constructor(host: HistoryHost) {
    this.host = host;
    this.writer = host.writer("history", HISTORY_FLUSH_MS, () => this.write());
    this.progressWriter = host.writer("replays", REPLAY_PROGRESS_MS, () => this.writeProgress());
  }

  /** Load running replays (each goes on from its stored cursor) and count their queued rows. */
  load(): void {
    const { sql } = this.host;
    this.running.clear();
    for (const r of sql.exec<{ name: string; plan: string; cursor: number; counted: number | null }>(
      "SELECT name, plan, cursor, counted FROM replays WHERE done = 0",
    ))
      this.running.set(r.name, running(JSON.parse(r.plan) as ReplayPlan, r.cursor, r.counted));
    this.recount();
  }

  configure(retentionMs: number): void {
    this.retentionMs = retentionMs;
  }

  /** Replay deliveries still queued, from the table (at start, and after deliveries were dropped with their trigger). */
  recount(): void {
    this.outstanding.clear();
    for (const [name, n] of this.host.rows.countByReplay()) this.outstanding.set(name, n);
    for (const name of [...this.running.keys()]) this.finishIfDone(name);
  }

  /** Record an attempt's outcome in the event's history (nothing without retention: nobody can read it). */
  attempted(
    pos: number,
    trigger: string,
    verdict: Verdict,
    outcome: Outcome,
    startedAt: number,
    now: number,
    deadLetterSink: boolean,
    replay: string | null,
  ): void {
    if (this.retentionMs <= 0) return;
    const state = STATE_OF[verdict];
    const attempt: StoredAttempt = [
      startedAt,
      outcome.ok ? (outcome.status ?? null) : outcome.status,
      now - startedAt,
      outcome.ok ? null : describeBody(outcome.body),
    ];
    const flags = attemptFlags(deadLetterSink, replay);
    if (flags) attempt.push(flags);
    this.update(pos, (h) => {
      h[trigger] ??= { s: state, a: [] };
      const d = h[trigger];
      d.s = state;
      d.a.push(attempt);
      keepLatest(d, ATTEMPTS_KEPT);
    });
  }

  /**
   * Queued deliveries dropped with their trigger: shown as dropped, and a replay's counted as failed (its
   * rows' at once, those of its lane's window with its progress).
   */
  dropped(trigger: string, positions: number[], replays: string[]): void {
    for (const name of replays) if (this.running.has(name)) this.host.sql.exec("UPDATE replays SET failed = failed + 1 WHERE name = ?", name);
    const fromLanes: number[] = [];
    for (const r of this.running.values()) {
      for (let i = r.head; i < r.window.length; i++) {
        const e = r.window[i];
        if (e.trigger !== trigger || (e.state !== "waiting" && e.state !== "flying")) continue;
        if (e.state === "flying") r.flying.delete(flightKey(e.pos, trigger));
        e.state = "failed";
        fromLanes.push(e.pos);
      }
      r.flyingPer.delete(trigger);
      fold(r);
      this.releasePassed(r);
    }
    if (fromLanes.length > 0) this.progressWriter.soon();
    if (this.retentionMs <= 0) return;
    for (const pos of [...positions, ...fromLanes]) {
      this.update(pos, (h) => {
        if (h[trigger]) h[trigger].s = "dropped";
      });
    }
  }

  private update(pos: number, change: (h: StoredHistory) => void): void {
    const seq = segmentOf(pos);
    const index = String(pos % SEGMENT_EVENTS);
    let segment = this.dirty.get(seq);
    if (!segment) {
      const stored = this.host.log.histories(seq);
      if (stored === undefined) return;
      segment = stored ? (JSON.parse(stored) as SegmentHistory) : {};
      this.dirty.set(seq, segment);
    }
    segment[index] ??= initialHistory(this.host.log.read(pos)?.meta.m ?? []);
    change(segment[index]);
    this.writer.soon();
  }

  /**
   * Write the gathered attempt records: one row per segment, each within its row's room (in a shorter form
   * when the full one does not fit: shared/history/record.ts). A segment leaves memory only once written;
   * one whose write failed stays and is tried again, so no record is lost and no exception escapes.
   */
  private write(): void {
    for (const [seq, histories] of [...this.dirty]) {
      try {
        const room = this.host.log.historyRoom(seq);
        if (room !== undefined) this.host.log.recordHistory(seq, storedSegmentHistory(histories, room));
        this.dirty.delete(seq);
      } catch (e) {
        console.log(JSON.stringify({ level: "error", msg: "history not written, kept to try again", seq, error: (e as Error).message }));
      }
    }
    if (this.dirty.size > 0) this.writer.soon();
  }

  /** The alarm's time for the replays' next look (Infinity: none running). */
  wakeAt(now: number): number {
    return this.running.size > 0 ? now + REPLAY_WAKE_MS : Infinity;
  }

  /**
   * This partition's retained events matching the query, newest first, below position `before` when given;
   * at most `limit`, and at most `budget` characters of segments read (then it says where it stopped).
   */
  search(q: HistoryQuery, before: number | null, limit: number, now: number, budget = SEARCH_BUDGET_CHARS): PartitionPage {
    if (this.retentionMs <= 0) return { rows: [] };
    this.writer.now();
    const out: PartitionRow[] = [];
    const since = Math.max(q.since ?? -Infinity, now - this.retentionMs);
    let below = before === null ? Infinity : Math.ceil(before / SEGMENT_EVENTS);
    let decoded = 0;
    for (;;) {
      const rows = this.host.log.segmentsBefore(below, SEGMENTS_PER_READ);
      for (const row of rows) {
        if (row.arrived_at < since) return { rows: out };
        // Every segment read counts, decoded or skipped by `until`.
        if (decoded >= budget) return { rows: out, stopped: { before: (row.seq + 1) * SEGMENT_EVENTS, at: row.arrived_at } };
        decoded += row.events.length;
        if (q.until !== undefined && row.arrived_at > q.until) continue;
        const events = JSON.parse(row.events) as Record<string, unknown>[];
        const meta = JSON.parse(row.meta) as EventMeta[];
        const histories = historiesOf(row);
        for (let i = events.length - 1; i >= 0; i--) {
          const pos = row.seq * SEGMENT_EVENTS + i;
          if (before !== null && pos >= before) continue;
          const e = events[i];
          if (
            (q.id !== undefined && e.id !== q.id) ||
            (q.source !== undefined && e.source !== q.source) ||
            (q.type !== undefined && e.type !== q.type) ||
            (q.subject !== undefined && e.subject !== q.subject)
          )
            continue;
          const history = histories[i] ?? initialHistory(meta[i].m);
          if (!matchesDelivery(history, q)) continue;
          out.push({ seq: pos, arrivedAt: row.arrived_at, record: eventRecord(e, row.arrived_at, history) });
          if (out.length === limit) return { rows: out };
        }
      }
      if (rows.length < SEGMENTS_PER_READ) return { rows: out };
      below = rows.at(-1)!.seq;
    }
  }

  /**
   * How many (event, trigger) deliveries a replay with this plan sends from this partition, counted over at
   * most `budget` characters of segments: `complete` false when it ran out, `through` the last position it
   * counted then. It lets waiting requests run after each segment it decodes, so a long count is many
   * short turns, not one that holds up live deliveries.
   */
  async count(plan: ReplayPlan, budget = Infinity): Promise<{ matched: number; complete: boolean; through?: number }> {
    const filter = compileReplayFilter(plan);
    const triggers = this.host.triggers();
    let n = 0;
    let from = 0;
    let decoded = 0;
    for (;;) {
      const rows = this.inRange(from);
      for (const row of rows) {
        if (!inPlan(plan, row)) continue;
        if (decoded >= budget) return { matched: n, complete: false, through: row.seq * SEGMENT_EVENTS - 1 };
        decoded += row.events.length;
        for (const e of eventsOf(row)) if (e.pos > from) n += replayTargets(plan, filter, e.event, e.history, triggers).length;
        await nextTurn();
      }
      if (rows.length < SEGMENTS_PER_READ) return { matched: n, complete: true };
      from = (rows.at(-1)!.seq + 1) * SEGMENT_EVENTS - 1;
    }
  }

  /** Segments holding events after position `after`, in order, a read at a time. */
  private inRange(after: number): SegmentRow[] {
    this.writer.now();
    return this.host.log.segmentsFrom(segmentOf(after), SEGMENTS_PER_READ);
  }

  /**
   * Start a replay (again after a restart of the router: a replay of that name already stored goes on).
   * Its `matched` is counted within COUNT_BUDGET_CHARS, as a dry run's; past that, the lane counts the
   * rest as it goes (the status says `matchedIsLowerBound` until the replay is done).
   */
  async start(plan: ReplayPlan, budget = COUNT_BUDGET_CHARS): Promise<void> {
    const stored = () => this.host.sql.exec("SELECT 1 FROM replays WHERE name = ?", plan.name).toArray().length > 0;
    if (stored()) return;
    const { matched, through } = await this.count(plan, budget);
    if (stored()) return; // started by another call while this one counted
    const counted = through ?? null;
    this.host.sql.exec("INSERT INTO replays (name, plan, matched, counted) VALUES (?, ?, ?, ?)", plan.name, JSON.stringify(plan), matched, counted);
    this.running.set(plan.name, running(plan, 0, counted));
  }

  /** Stop and forget a replay: its queued deliveries are removed (those in flight finish uncounted). */
  stop(name: string): void {
    this.host.transaction(() => {
      this.host.sql.exec("DELETE FROM replays WHERE name = ?", name);
      this.host.rows.dropReplay(name);
    });
    this.running.delete(name);
    this.outstanding.delete(name);
  }

  progress(name: string): ReplayProgress | null {
    const row = this.host.sql
      .exec<{ matched: number; delivered: number; failed: number; done: number; counted: number | null }>(
        "SELECT matched, delivered, failed, done, counted FROM replays WHERE name = ?",
        name,
      )
      .toArray()[0];
    if (!row) return null;
    const r = this.running.get(name);
    const more = { delivered: 0, failed: 0, matched: 0, ...r?.unwritten };
    for (const e of r?.window.slice(r.head) ?? []) {
      if (e.state === "delivered" || e.state === "failed") more[e.state]++;
      if (r?.counted != null && e.pos > r.counted) more.matched++;
    }
    const lowerBound = row.done !== 1 && row.counted !== null ? { matchedIsLowerBound: true } : {};
    return {
      matched: row.matched + more.matched,
      delivered: row.delivered + more.delivered,
      failed: row.failed + more.failed,
      done: row.done === 1,
      ...lowerBound,
    };
  }

  /** Replay deliveries of a trigger in flight from the replays' lanes. */
  inflight(trigger: string): number {
    let n = 0;
    for (const r of this.running.values()) n += r.flyingPer.get(trigger) ?? 0;
    return n;
  }

  /** Whether a replay's lane has this (event, trigger) delivery in flight. */
  flies(name: string, pos: number, trigger: string): boolean {
    return !!this.running.get(name)?.flying.has(flightKey(pos, trigger));
  }

  /** How many replay deliveries a trigger could start now, at most (what the pump asks flow control for). */
  room(trigger: string): number {
    let n = 0;
    for (const r of this.running.values()) {
      if (r.plan.triggers && !r.plan.triggers.includes(trigger)) continue;
      n += Math.max(0, this.capOf(r.plan) - (r.flyingPer.get(trigger) ?? 0));
    }
    return n;
  }

  /** Segments a replay's lane still needs (the log's expiry keeps them). */
  segments(): Set<number> {
    const out = new Set<number>();
    for (const r of this.running.values()) for (let i = r.head; i < r.window.length; i++) out.add(segmentOf(r.window[i].pos));
    return out;
  }

  /**
   * Up to `n` replay deliveries of `trigger` to start now, marked in flight: from each running replay's
   * window, scanned further through the log when it runs short (at most SEGMENTS_PER_READ segments per
   * call). Each replay keeps at most half the trigger's parallelism in flight (batchOf), and at most what
   * the budget allows (capOf). Ordered: one per
   * key, never a key already in flight here or `blocked` (queued live, or as a row), so a key's events go
   * in order. Nothing is written: the cursor moves in memory and reaches storage with the progress.
   */
  take(trigger: string, n: number, ordered: boolean, blocked: (key: string) => boolean): { pos: number; key: string | null; replay: string }[] {
    const out: { pos: number; key: string | null; replay: string }[] = [];
    for (const [name, r] of this.running) {
      let room = Math.min(n - out.length, this.capOf(r.plan) - (r.flyingPer.get(trigger) ?? 0));
      const passedKeys = new Set<string>();
      let reads = 0;
      for (let i = r.head; room > 0; i++) {
        if (i === r.window.length) {
          if (r.window.length - r.head >= WINDOW_ENTRIES) break;
          while (i === r.window.length && !r.scanned && reads < SEGMENTS_PER_READ) reads += this.scan(r);
          if (i === r.window.length) break; // nothing more in the log, or in this call's reads
        }
        const e = r.window[i];
        if (e.trigger !== trigger || e.state === "delivered" || e.state === "failed" || e.state === "handed") continue;
        if (ordered && e.key !== null) {
          const passed = passedKeys.has(e.key);
          passedKeys.add(e.key);
          if (passed || e.state === "flying" || blocked(e.key)) continue;
        }
        if (e.state === "flying") continue;
        e.state = "flying";
        r.flying.set(flightKey(e.pos, trigger), e);
        r.flyingPer.set(trigger, (r.flyingPer.get(trigger) ?? 0) + 1);
        out.push({ pos: e.pos, key: e.key, replay: name });
        room--;
      }
      this.finishIfDone(name);
      if (out.length === n) break;
    }
    return out;
  }

  /**
   * Move a replay with nothing in its window on through the log (from the pump, cheap when none): the
   * triggers that got replay deliveries to start, so that the pump looks at them. A replay whose triggers
   * are all gone, or whose range holds nothing more, ends here.
   */
  refill(): string[] {
    const touched = new Set<string>();
    for (const [name, r] of this.running) {
      if (r.head === r.window.length && !r.scanned) {
        for (let reads = 0; r.head === r.window.length && !r.scanned && reads < SEGMENTS_PER_READ; ) reads += this.scan(r);
        for (let i = r.head; i < r.window.length; i++) touched.add(r.window[i].trigger);
      }
      this.finishIfDone(name);
    }
    return [...touched];
  }

  /**
   * A replay delivery's attempt ended. From the replay's lane: done (counted in memory, written with the
   * progress), or handed to a `deliveries` row (it failed its first attempt: the row's end counts it). A
   * row's final end is counted at once (a row was written for it anyway).
   */
  settled(name: string, fromRow: boolean, pos: number, trigger: string, verdict: Verdict, now: number): void {
    const r = this.running.get(name);
    if (!r) return;
    const final = verdict === "delivered" || verdict === "deadlettered" || verdict === "failed";
    if (fromRow) {
      if (!final) return;
      this.host.sql.exec(`UPDATE replays SET ${verdict === "delivered" ? "delivered = delivered" : "failed = failed"} + 1 WHERE name = ?`, name);
      this.outstanding.set(name, Math.max((this.outstanding.get(name) ?? 1) - 1, 0));
    } else {
      const key = flightKey(pos, trigger);
      const e = r.flying.get(key);
      if (!e) return;
      r.flying.delete(key);
      r.flyingPer.set(trigger, (r.flyingPer.get(trigger) ?? 1) - 1);
      this.budget.replayed(this.batchOf(r.plan), now);
      e.state = !final ? "handed" : verdict === "delivered" ? "delivered" : "failed";
      if (!final) this.outstanding.set(name, (this.outstanding.get(name) ?? 0) + 1);
      fold(r);
      this.releasePassed(r);
      this.progressWriter.soon();
    }
    this.finishIfDone(name);
  }

  /** What a replay may have in flight per trigger now: its batch, within the budget. */
  private capOf(plan: ReplayPlan): number {
    return this.budget.limit(this.batchOf(plan));
  }

  /** Half the smallest parallelism of the replay's triggers, within 1 to REPLAY_BATCH. */
  private batchOf(plan: ReplayPlan): number {
    const triggers = this.host.triggers();
    const parallelism = (plan.triggers ?? [...triggers.keys()]).map((t) => triggers.get(t) ?? Infinity);
    return Math.max(1, Math.min(REPLAY_BATCH, Math.floor(Math.min(...parallelism) / 2)));
  }

  /**
   * Put the next retained event's deliveries in the replay's window (positions without any skipped):
   * the segments read to find it (0 or 1). The segment being replayed stays decoded between calls.
   */
  private scan(r: Running): number {
    const triggers = this.host.triggers();
    for (let reads = 0; ; ) {
      const next = r.scanned ? -1 : r.scanPos + 1;
      if (next < 0) return reads;
      if (r.segment?.seq !== segmentOf(next)) {
        if (reads > 0) return reads;
        const row = this.host.log.segmentHeadFrom(segmentOf(next));
        reads++;
        // Segments are in arrival order: past the plan's end, or past the log's, nothing more is selected.
        if (!row || row.arrived_at > r.plan.to) {
          r.scanned = true;
          return reads;
        }
        r.segment = { seq: row.seq, histories: inPlan(r.plan, row) ? historiesOf(row) : null };
        if (r.segment.histories && !this.host.log.isCached(row.seq)) r.decoded.push(row.seq);
        r.scanPos = Math.max(r.scanPos, row.seq * SEGMENT_EVENTS - 1);
        continue;
      }
      // Positions in a segment are its seq's block, in order; past its last event, the next segment.
      const logged = r.segment.histories && this.host.log.read(next);
      if (!logged) {
        r.scanPos = (r.segment.seq + 1) * SEGMENT_EVENTS - 1;
        continue;
      }
      r.scanPos = next;
      const history = r.segment.histories![next % SEGMENT_EVENTS] ?? initialHistory(logged.meta.m);
      const targets = replayTargets(r.plan, r.filter, logged.event, history, triggers);
      for (const trigger of targets) r.window.push({ pos: next, trigger, key: this.host.keyOf(trigger, logged.event), state: "waiting" });
      if (targets.length > 0) return reads;
    }
  }

  /**
   * Write every running replay's progress that moved: its cursor (the last position below which every
   * delivery of it ended or was handed to a row) and the counts of those deliveries, in one row each.
   * A restart goes on from that cursor, so what was in flight above it is sent again (at least once).
   */
  private writeProgress(): void {
    for (const [name, r] of this.running) this.saveProgress(name, r);
  }

  private saveProgress(name: string, r: Running): void {
    fold(r);
    const cursor = laneCursor(r);
    const { delivered, failed, matched } = r.unwritten;
    if (cursor === r.savedCursor && delivered === 0 && failed === 0 && matched === 0) return;
    this.host.sql.exec(
      "UPDATE replays SET cursor = ?, delivered = delivered + ?, failed = failed + ?, matched = matched + ? WHERE name = ?",
      cursor,
      delivered,
      failed,
      matched,
      name,
    );
    r.savedCursor = cursor;
    r.unwritten = { delivered: 0, failed: 0, matched: 0 };
  }

  private finishIfDone(name: string): void {
    const r = this.running.get(name);
    if (!r?.scanned || r.head < r.window.length || (this.outstanding.get(name) ?? 0) > 0) return;
    this.saveProgress(name, r);
    this.host.sql.exec("UPDATE replays SET done = 1 WHERE name = ?", name);
    this.running.delete(name);
    for (const seq of r.decoded) this.host.log.forget(seq);
  }

  /** Let the segments the lane decoded and its window passed leave the log's cache (`Running.decoded`). */
  private releasePassed(r: Running): void {
    const open = r.head < r.window.length ? segmentOf(r.window[r.head].pos) : (r.segment?.seq ?? Infinity);
    while (r.decoded.length > 0 && r.decoded[0] < open) this.host.log.forget(r.decoded.shift()!);
  }
}

/** A replay delivery in its lane's window: waiting, in flight, ended, or handed to a row. */
interface WindowEntry {
  pos: number;
  trigger: string;
  /** The partition key, for an ordered trigger; null otherwise. */
  key: string | null;
  state: "waiting" | "flying" | "delivered" | "failed" | "handed";
}

const flightKey = (pos: number, trigger: string) => `${pos}\u0000${trigger}`;

function running(plan: ReplayPlan, cursor: number, counted: number | null): Running {
  return {
    plan,
    filter: compileReplayFilter(plan),
    scanned: false,
    scanPos: cursor,
    savedCursor: cursor,
    window: [],
    head: 0,
    flying: new Map(),
    flyingPer: new Map(),
    unwritten: { delivered: 0, failed: 0, matched: 0 },
    counted,
    decoded: [],
  };
}

/**
 * Move a window's head past every position whose deliveries all ended, counting them as unwritten
 * progress: a position with one delivery still in flight or waiting stops it, so the stored cursor never
 * passes a delivery that may yet be lost.
 */
function fold(r: Running): void {
  const w = r.window;
  while (r.head < w.length) {
    const pos = w[r.head].pos;
    let j = r.head;
    while (j < w.length && w[j].pos === pos && w[j].state !== "waiting" && w[j].state !== "flying") j++;
    if (j < w.length && w[j].pos === pos) break;
    for (let i = r.head; i < j; i++) {
      const s = w[i].state;
      if (s === "delivered" || s === "failed") r.unwritten[s]++;
      if (r.counted !== null && pos > r.counted) r.unwritten.matched++;
    }
    r.head = j;
  }
  if (r.head > 1024 && r.head * 2 > w.length) {
    r.window = w.slice(r.head);
    r.head = 0;
  }
}

/** The replay's cursor: below its window's first open position, or all it scanned when the window is empty. */
function laneCursor(r: Running): number {
  return r.head < r.window.length ? r.window[r.head].pos - 1 : r.scanPos;
}

/** A stored segment's events with their positions and histories. */
function eventsOf(row: SegmentRow): LoggedHistory[] {
  const { events, meta } = decodeSegment(row);
  const histories = historiesOf(row);
  return events.map((event, i) => ({ pos: row.seq * SEGMENT_EVENTS + i, event, history: histories[i] ?? initialHistory(meta[i].m) }));
}

function historiesOf(row: { history: string | null }): SegmentHistory {
  return row.history ? JSON.parse(row.history) : {};
}

/** Let the requests and timers waiting on this object run before going on. */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** Whether a segment arrived within the replay's time range. */
function inPlan(plan: ReplayPlan, row: { arrived_at: number }): boolean {
  return row.arrived_at >= plan.from && row.arrived_at <= plan.to;
}

/** The query's trigger and state: some delivery of the event must have both. */
function matchesDelivery(history: StoredHistory, q: HistoryQuery): boolean {
  if (q.trigger === undefined && q.state === undefined) return true;
  return Object.entries(history).some(([trigger, d]) => (q.trigger === undefined || trigger === q.trigger) && (q.state === undefined || d.s === q.state));
}

const STATE_OF: Record<Verdict, DeliveryState> = {
  delivered: "delivered",
  deadlettered: "deadlettered",
  failed: "failed",
  retry: "retrying",
  "to-dead-letter-sink": "retrying",
};
