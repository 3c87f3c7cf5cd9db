/**
 * A broker partition's event history and replays (API.md §6), kept in its event log
 * (durable-objects/broker/event-log.ts). Retention costs no row of its own: the log's segments are kept for the
 * retention period instead of deleted once delivered, and the events' delivery histories live in one JSON
 * column of their segment's row (keyed by index), with no index. Attempts are gathered in memory and
 * written at most once per HISTORY_FLUSH_MS per segment, so the attempts of a segment's events cost one
 * row written together. (A crash loses at most that last second of attempt records, never an event or a
 * delivery.) An event with no record yet is pending for every trigger it matched (the log's metadata).
 *
 * A replay scans retained events in arrival order from a stored cursor and queues deliveries marked with
 * its name, a bounded batch at a time: at most half of its triggers' parallelism (and at most
 * REPLAY_BATCH) is replay deliveries, so the other half is always free for live events.
 * The cursor and the queued rows are written in one transaction, so a crash loses nothing and the replay
 * resumes from storage. The log's segments and the queued rows are read and written through their owners
 * (event-log.ts, delivery-rows.ts); the `replays` table is this module's. A replay's delivered and failed
 * counts are kept in memory and written with its next step (a crash can leave the last batch's uncounted
 * in its status, never undelivered). A trigger's live events start before its replay deliveries in every
 * pump turn (broker/dispatch.ts), so a replay takes only what live traffic leaves of the parallelism.
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
import type { DeliveryRows } from "./delivery-rows.ts";
import { decodeSegment, type EventLog, type EventMeta, SEGMENT_EVENTS, segmentOf, type SegmentRow } from "./event-log.ts";
import type { MeteredSql, Table } from "../storage/metered-sql.ts";
import type { Writer } from "./write-behind.ts";

/** Attempt records wait in memory at most this long before they are written (and a failed write is tried again). */
export const HISTORY_FLUSH_MS = 1_000;
/**
 * Most replay deliveries queued at once per replay and partition (fewer when half its triggers'
 * parallelism is less); the next batch is queued when half are done.
 */
export const REPLAY_BATCH = 100;
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
/** While a replay runs the alarm comes back this soon, so a step that queued nothing is followed by another. */
const REPLAY_WAKE_MS = 1_000;

/** One row per replay: its plan, its cursor through the log and its progress. */
export const REPLAYS_TABLE: Table = {
  name: "replays",
  create: `CREATE TABLE IF NOT EXISTS replays (name TEXT PRIMARY KEY, plan TEXT NOT NULL, cursor INTEGER NOT NULL DEFAULT 0, scanned INTEGER NOT NULL DEFAULT 0,
      matched INTEGER NOT NULL, delivered INTEGER NOT NULL DEFAULT 0, failed INTEGER NOT NULL DEFAULT 0, done INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID`,
};

/** What the history needs from the broker it lives in. */
export interface HistoryHost {
  sql: MeteredSql;
  log: EventLog;
  rows: DeliveryRows;
  transaction(fn: () => void): void;
  /** This module's place in the broker's write-behind. */
  writer(everyMs: number, write: () => void): Writer;
  /** Queue a delivery of a logged event to a trigger, marked with a replay's name. */
  enqueue(pos: number, trigger: string, event: CloudEvent, now: number, replay: string): void;
  /** The broker's current triggers: name -> parallelism. */
  triggers(): ReadonlyMap<string, number>;
}

interface Running {
  plan: ReplayPlan;
  filter: CompiledFilter;
  /** Every retained event up to the cursor has been looked at. */
  scanned: boolean;
  /** The segment being replayed, decoded. */
  segment?: { seq: number; events: LoggedHistory[] };
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
  private retentionMs = 0;
  private readonly running = new Map<string, Running>();
  /** Segment histories changed since the last flush, by segment seq. */
  private readonly dirty = new Map<number, SegmentHistory>();
  /** Replay deliveries queued and not settled, per replay. */
  private readonly outstanding = new Map<string, number>();
  /** Replay deliveries settled and not yet counted in the replays table, per replay (written with the next step). */
  private readonly unwritten = new Map<string, { delivered: number; failed: number }>();

  private readonly host: HistoryHost;
  private readonly writer: Writer;

  constructor(host: HistoryHost) {
    this.host = host;
    this.writer = host.writer(HISTORY_FLUSH_MS, () => this.write());
  }

  /** Load running replays and count their queued deliveries. */
  load(): void {
    const { sql } = this.host;
    this.running.clear();
    for (const r of sql.exec<{ name: string; plan: string; scanned: number }>("SELECT name, plan, scanned FROM replays WHERE done = 0")) {
      const plan = JSON.parse(r.plan) as ReplayPlan;
      this.running.set(r.name, { plan, filter: compileReplayFilter(plan), scanned: r.scanned === 1 });
    }
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

  /** Queued deliveries dropped with their trigger: shown as dropped, and a replay's counted as failed. */
  dropped(trigger: string, positions: number[], replays: string[]): void {
    for (const name of replays) if (this.running.has(name)) this.host.sql.exec("UPDATE replays SET failed = failed + 1 WHERE name = ?", name);
    if (this.retentionMs <= 0) return;
    for (const pos of positions) {
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

  /** The alarm's time for the next replay step (Infinity: none running). */
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
        const histories: SegmentHistory = row.history ? JSON.parse(row.history) : {};
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
   * How many (event, trigger) deliveries a replay with this plan sends from this partition; with `budget`,
   * counted over at most that many characters of segments (`complete` false when it ran out).
   */
  count(plan: ReplayPlan, budget = Infinity): { matched: number; complete: boolean } {
    const filter = compileReplayFilter(plan);
    const triggers = this.host.triggers();
    let n = 0;
    let from = 0;
    let decoded = 0;
    for (;;) {
      const rows = this.inRange(from);
      for (const row of rows) {
        if (!inPlan(plan, row)) continue;
        if (decoded >= budget) return { matched: n, complete: false };
        decoded += row.events.length;
        for (const e of eventsOf(row)) if (e.pos > from) n += replayTargets(plan, filter, e.event, e.history, triggers).length;
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

  /** Start a replay (again after a restart of the router: a replay of that name already stored goes on). */
  start(plan: ReplayPlan): void {
    if (this.host.sql.exec("SELECT 1 FROM replays WHERE name = ?", plan.name).toArray().length > 0) return;
    const { matched } = this.count(plan);
    this.host.sql.exec("INSERT INTO replays (name, plan, matched) VALUES (?, ?, ?)", plan.name, JSON.stringify(plan), matched);
    this.running.set(plan.name, { plan, filter: compileReplayFilter(plan), scanned: false });
  }

  /** Stop and forget a replay: its queued deliveries are removed. */
  stop(name: string): void {
    this.host.transaction(() => {
      this.host.sql.exec("DELETE FROM replays WHERE name = ?", name);
      this.host.rows.dropReplay(name);
    });
    this.running.delete(name);
    this.outstanding.delete(name);
    this.unwritten.delete(name);
  }

  progress(name: string): ReplayProgress | null {
    const row = this.host.sql
      .exec<{ matched: number; delivered: number; failed: number; done: number }>("SELECT matched, delivered, failed, done FROM replays WHERE name = ?", name)
      .toArray()[0];
    const more = this.unwritten.get(name) ?? { delivered: 0, failed: 0 };
    return row ? { matched: row.matched, delivered: row.delivered + more.delivered, failed: row.failed + more.failed, done: row.done === 1 } : null;
  }

  /**
   * A replay delivery reached its end: count it (in memory, written with the replay's next step or its
   * end, so a replay costs no row per delivery for its counts), and finish the replay when it was the last.
   */
  settled(name: string, verdict: Verdict): void {
    const counts = this.unwritten.get(name) ?? { delivered: 0, failed: 0 };
    counts[verdict === "delivered" ? "delivered" : "failed"]++;
    this.unwritten.set(name, counts);
    this.outstanding.set(name, Math.max((this.outstanding.get(name) ?? 1) - 1, 0));
    this.finishIfDone(name);
  }

  private writeCounts(name: string): void {
    const counts = this.unwritten.get(name);
    if (!counts) return;
    this.host.sql.exec("UPDATE replays SET delivered = delivered + ?, failed = failed + ? WHERE name = ?", counts.delivered, counts.failed, name);
    this.unwritten.delete(name);
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

  /**
   * Queue deliveries from the cursor on until a batch is queued, the log ends, or SEGMENTS_PER_READ
   * segments were read. The segment being replayed stays decoded between steps.
   */
  private step(name: string, r: Running, now: number, batch: number): void {
    const { sql } = this.host;
    let cursor = sql.exec<{ cursor: number }>("SELECT cursor FROM replays WHERE name = ?", name).one().cursor;
    const triggers = this.host.triggers();
    let queued = 0;
    for (let reads = 0; queued < batch && reads < SEGMENTS_PER_READ && !r.scanned; ) {
      if (r.segment?.seq !== segmentOf(cursor + 1)) {
        const [row] = this.host.log.segmentsFrom(segmentOf(cursor + 1), 1);
        reads++;
        // Segments are in arrival order: past the plan's end, or past the log's, nothing more is selected.
        if (!row || row.arrived_at > r.plan.to) {
          r.scanned = true;
          break;
        }
        r.segment = { seq: row.seq, events: inPlan(r.plan, row) ? eventsOf(row) : [] };
        cursor = Math.max(cursor, row.seq * SEGMENT_EVENTS - 1);
      }
      // Positions in a segment are its seq's block, in order: the next is at cursor + 1.
      const next = r.segment.events[cursor + 1 - r.segment.seq * SEGMENT_EVENTS];
      if (!next) {
        cursor = (r.segment.seq + 1) * SEGMENT_EVENTS - 1;
        continue;
      }
      const targets = replayTargets(r.plan, r.filter, next.event, next.history, triggers);
      for (const trigger of targets) this.host.enqueue(next.pos, trigger, next.event, now, name);
      queued += targets.length;
      cursor = next.pos;
    }
    this.outstanding.set(name, (this.outstanding.get(name) ?? 0) + queued);
    sql.exec("UPDATE replays SET cursor = ?, scanned = ? WHERE name = ?", cursor, r.scanned ? 1 : 0, name);
    this.writeCounts(name);
  }

  private finishIfDone(name: string): void {
    const r = this.running.get(name);
    if (!r?.scanned || (this.outstanding.get(name) ?? 0) > 0) return;
    this.writeCounts(name);
    this.host.sql.exec("UPDATE replays SET done = 1 WHERE name = ?", name);
    this.running.delete(name);
  }
}

/** A stored segment's events with their positions and histories. */
function eventsOf(row: SegmentRow): LoggedHistory[] {
  const { events, meta } = decodeSegment(row);
  const histories: SegmentHistory = row.history ? JSON.parse(row.history) : {};
  return events.map((event, i) => ({ pos: row.seq * SEGMENT_EVENTS + i, event, history: histories[i] ?? initialHistory(meta[i].m) }));
}

/** Whether a segment arrived within the replay's time range. */
function inPlan(plan: ReplayPlan, row: SegmentRow): boolean {
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
