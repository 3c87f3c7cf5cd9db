/**
 * A broker partition's event log: every event it accepted, in arrival order, in segments. The events
 * accepted together (one request's batch, or the requests of one turn: durable-objects/broker/group-commit.ts)
 * are one row, so storing an event costs a fraction of a row written, and deleting it later another.
 * An event's place is its position: segment seq * SEGMENT_EVENTS + index. Segments are kept while a
 * trigger's lane or a queued retry still needs one of their events, for the dedup window (deduplication
 * is answered from them), and for the retention period (their `history` column is the events' delivery
 * history, durable-objects/broker/history.ts).
 */
import type { CloudEvent } from "../../shared/cloudevents/event.ts";
import { valueLimitOf } from "../../shared/cloudevents/limits.ts";
import { decodeBatch } from "../../shared/cloudevents/structured.ts";
import type { MeteredSql, Table } from "../storage/metered-sql.ts";

/** Most events in one segment (positions leave room for this many per segment). */
export const SEGMENT_EVENTS = 4096;
/**
 * Most characters of events and their metadata in one segment, under SQLite's 2 MB row limit even at three
 * UTF-8 bytes a character (an event alone may be larger: ingress caps it at 1 MiB and its headers at 4 KiB).
 */
const SEGMENT_CHARS = 512 * 1024;
/** SQLite's limit on a row, the room kept for the rest of a segment's row, and the most its histories take. */
const ROW_BYTES = 2_000_000;
const ROW_MARGIN_BYTES = 16 * 1024;
const HISTORY_BYTES = 1024 * 1024;
/** Characters of decoded segments kept in memory for delivery (their objects take a few times that). */
const CACHE_CHARS = 4 * 1024 * 1024;

export const segmentOf = (pos: number): number => Math.floor(pos / SEGMENT_EVENTS);

/** One row per segment; `history` is its events' delivery histories (durable-objects/broker/history.ts). */
export const LOG_TABLE: Table = {
  name: "log",
  create:
    "CREATE TABLE IF NOT EXISTS log (seq INTEGER PRIMARY KEY, arrived_at INTEGER NOT NULL, n INTEGER NOT NULL, events TEXT NOT NULL, meta TEXT NOT NULL, history TEXT)",
};

/** What the log keeps beside an event's body: its dedup key, pass-through headers, matched triggers, partition key. */
export interface EventMeta {
  s: string;
  i: string;
  h?: Record<string, string>;
  m: string[];
  k?: string;
  /** Delivered through the retry table only, never the lanes (a redelivered dead letter, an event from before the log). */
  q?: 1;
}

export interface LogEntry {
  event: CloudEvent;
  /** The event's structured-mode JSON. */
  body: string;
  meta: EventMeta;
}

export interface LoggedEvent {
  event: CloudEvent;
  meta: EventMeta;
  arrivedAt: number;
}

/** A stored segment as the history and a restart read it. */
export interface SegmentRow {
  seq: number;
  arrived_at: number;
  events: string;
  meta: string;
  history: string | null;
  [key: string]: SqlStorageValue;
}

interface Segment {
  /** Characters of its events and metadata: their stored texts' together, less 2 at most. */
  chars: number;
  arrivedAt: number;
  events: CloudEvent[];
  meta: EventMeta[];
  /** Its `history` column when known without a read (undefined: read it), kept only while no longer than its events. */
  history?: string | null;
}

export class EventLog {
  private nextSeq = 1;
  /** Events held, for the retention cap. */
  private held = 0;
  /** Decoded segments, least recently used first. */
  private readonly cache = new Map<number, Segment>();
  private cachedChars = 0;

  private readonly sql: MeteredSql;

  constructor(sql: MeteredSql) {
    this.sql = sql;
  }

  /**
   * Re-read what memory holds of the table (at start, after a write that failed). `floor` is the highest
   * position anything stored points at (the triggers' cursors): seqs are never reused below it, even when
   * every segment was deleted.
   */
  reload(floor = this.end): void {
    this.cache.clear();
    this.cachedChars = 0;
    const row = this.sql.exec<{ seq: number | null; n: number | null }>("SELECT max(seq) AS seq, sum(n) AS n FROM log").one();
    this.nextSeq = Math.max((row.seq ?? 0) + 1, Math.ceil(floor / SEGMENT_EVENTS), 1);
    this.held = row.n ?? 0;
  }

  /** The position the next event gets. */
  get end(): number {
    return this.nextSeq * SEGMENT_EVENTS;
  }

  /** Events held now. */
  get size(): number {
    return this.held;
  }

  /**
   * Write entries as one segment (more when they exceed a segment's bounds); their positions, in order.
   * A segment's size counts everything its row holds: the events and their metadata (pass-through headers
   * included, which every event of a request carries).
   */
  append(entries: LogEntry[], now: number): number[] {
    const positions: number[] = [];
    const metas = entries.map((e) => JSON.stringify(e.meta));
    const charsOf = (i: number) => entries[i].body.length + metas[i].length + 2;
    for (let from = 0; from < entries.length; ) {
      // A segment reads back as a batch, whose events share one specversion.
      const version = entries[from].event.attributes.specversion;
      let to = from + 1;
      let chars = charsOf(from);
      while (to < entries.length && to - from < SEGMENT_EVENTS && chars + charsOf(to) <= SEGMENT_CHARS && entries[to].event.attributes.specversion === version)
        chars += charsOf(to++);
      const chunk = entries.slice(from, to);
      const seq = this.nextSeq++;
      this.sql.exec(
        "INSERT INTO log (seq, arrived_at, n, events, meta) VALUES (?, ?, ?, ?, ?)",
        seq,
        now,
        chunk.length,
        `[${chunk.map((e) => e.body).join(",")}]`,
        `[${metas.slice(from, to).join(",")}]`,
      );
      this.remember(seq, { chars, arrivedAt: now, events: chunk.map((e) => e.event), meta: chunk.map((e) => e.meta), history: null });
      for (let i = 0; i < chunk.length; i++) positions.push(seq * SEGMENT_EVENTS + i);
      this.held += chunk.length;
      from = to;
    }
    return positions;
  }

  /** Delete every segment (a deleted broker keeps no events); positions start again at 0. */
  clear(): void {
    this.sql.exec("DELETE FROM log");
    this.reload(0);
  }

  /** A segment's stored histories (its `history` column), or undefined when the segment is gone. */
  histories(seq: number): string | null | undefined {
    const known = this.cache.get(seq)?.history;
    if (known !== undefined) return known;
    return this.sql.exec<{ history: string | null }>("SELECT history FROM log WHERE seq = ?", seq).toArray()[0]?.history;
  }

  /**
   * Bytes a segment's histories may take in its row (undefined when the segment is gone): SQLite's 2 MB
   * row less what the events and their metadata take and some room, and at most HISTORY_BYTES.
   */
  historyRoom(seq: number): number | undefined {
    // At most three UTF-8 bytes a character: a segment this small leaves all of HISTORY_BYTES, as a read would say.
    const cached = this.cache.get(seq);
    if (cached && 3 * (cached.chars + 2) <= ROW_BYTES - ROW_MARGIN_BYTES - HISTORY_BYTES) return HISTORY_BYTES;
    const row = this.sql
      .exec<{ used: number }>("SELECT length(CAST(events AS BLOB)) + length(CAST(meta AS BLOB)) AS used FROM log WHERE seq = ?", seq)
      .toArray()[0];
    return row && Math.min(HISTORY_BYTES, ROW_BYTES - ROW_MARGIN_BYTES - row.used);
  }

  /** Store a segment's histories (JSON within its historyRoom): one row. */
  recordHistory(seq: number, histories: string): void {
    this.sql.exec("UPDATE log SET history = ? WHERE seq = ?", histories, seq);
    const cached = this.cache.get(seq);
    if (cached) cached.history = histories.length <= cached.chars ? histories : undefined;
  }

  /** The event at `pos`, or null when its segment is gone. */
  read(pos: number): LoggedEvent | null {
    const segment = this.segment(segmentOf(pos));
    const i = pos % SEGMENT_EVENTS;
    return segment && i < segment.events.length ? { event: segment.events[i], meta: segment.meta[i], arrivedAt: segment.arrivedAt } : null;
  }

  /** Segments from seq `from` up, in order (a restart's scan, a replay's). */
  segmentsFrom(from: number, limit: number): SegmentRow[] {
    return this.sql.exec<SegmentRow>("SELECT seq, arrived_at, events, meta, history FROM log WHERE seq >= ? ORDER BY seq LIMIT ?", from, limit).toArray();
  }

  /**
   * The first segment from seq `from` up, without its events (a replay's scan reads those one at a time
   * through the cache, so a copy of the row's texts would be garbage at once).
   */
  segmentHeadFrom(from: number): { seq: number; arrived_at: number; history: string | null } | undefined {
    return this.sql
      .exec<{ seq: number; arrived_at: number; history: string | null }>("SELECT seq, arrived_at, history FROM log WHERE seq >= ? ORDER BY seq LIMIT 1", from)
      .toArray()[0];
  }

  /** Whether a segment is decoded in memory now. */
  isCached(seq: number): boolean {
    return this.cache.has(seq);
  }

  /** Segments below seq `before`, newest first (the history API's pages). */
  segmentsBefore(before: number, limit: number): SegmentRow[] {
    return this.sql.exec<SegmentRow>("SELECT seq, arrived_at, events, meta, history FROM log WHERE seq < ? ORDER BY seq DESC LIMIT ?", before, limit).toArray();
  }

  /**
   * (source, id, accepted at) of every event accepted since `since`, oldest first: the dedup index after a
   * start, read row by row. Keys longer than ingress accepts now (stored before the limits) are left out:
   * such an event would be refused today, so nothing can be its duplicate.
   */
  keysSince(since: number): Iterable<{ s: string; i: string; at: number }> {
    return this.sql.exec<{ s: string; i: string; at: number }>(
      "SELECT s, i, at FROM (SELECT m.value ->> 's' AS s, m.value ->> 'i' AS i, l.arrived_at AS at, l.seq AS seq FROM log l, json_each(l.meta) m WHERE l.arrived_at > ?) WHERE length(s) <= ? AND length(i) <= ? ORDER BY seq",
      since,
      valueLimitOf("source"),
      valueLimitOf("id"),
    );
  }

  /**
   * Delete segments nothing needs: below `floor` (every lane is past them), not in `pinned` (a queued retry
   * points into them), older than `keepMs`; then, while more than `limit` events are held, the oldest
   * such ones whatever their age (whole segments: the cap holds to within one segment). Returns the events
   * deleted by the cap, and when to look again.
   */
  expire(now: number, floor: number, pinned: Set<number>, keepMs: number, limit: number): { evicted: number; next: number } {
    const below = segmentOf(floor);
    const pins = JSON.stringify([...pinned]);
    const old = this.sql
      .exec<{ seq: number; n: number }>(
        "DELETE FROM log WHERE seq < ? AND arrived_at <= ? AND seq NOT IN (SELECT value FROM json_each(?)) RETURNING seq, n",
        below,
        now - keepMs,
        pins,
      )
      .toArray();
    const gone = [...old];
    if (this.held - sum(old) > limit) {
      let over = this.held - sum(old) - limit;
      let last = -1;
      for (const r of this.sql.exec<{ seq: number; n: number }>("SELECT seq, n FROM log WHERE seq < ? ORDER BY seq", below)) {
        if (over <= 0) break;
        if (pinned.has(r.seq)) continue;
        last = r.seq;
        over -= r.n;
      }
      if (last >= 0)
        gone.push(
          ...this.sql
            .exec<{ seq: number; n: number }>("DELETE FROM log WHERE seq <= ? AND seq NOT IN (SELECT value FROM json_each(?)) RETURNING seq, n", last, pins)
            .toArray(),
        );
    }
    for (const r of gone) this.forget(r.seq);
    const evicted = sum(gone) - sum(old);
    this.held -= sum(gone);
    const oldest = this.sql.exec<{ at: number }>("SELECT arrived_at AS at FROM log ORDER BY seq LIMIT 1").toArray()[0]?.at;
    // Still over the cap: what a lane or a retry holds goes as soon as they let it.
    return { evicted, next: oldest === undefined ? Infinity : this.held > limit ? now : oldest + keepMs };
  }

  private segment(seq: number): Segment | null {
    const cached = this.cache.get(seq);
    if (cached) return cached;
    const row = this.sql
      .exec<{ seq: number; arrived_at: number; events: string; meta: string }>("SELECT seq, arrived_at, events, meta FROM log WHERE seq = ?", seq)
      .toArray()[0];
    if (!row) return null;
    return this.remember(seq, { chars: row.events.length + row.meta.length, arrivedAt: row.arrived_at, ...decodeSegment(row) });
  }

  private remember(seq: number, segment: Segment): Segment {
    this.forget(seq);
    this.cache.set(seq, segment);
    this.cachedChars += segment.chars;
    // The newest segment stays whatever its size: it is the one being read.
    while (this.cachedChars > CACHE_CHARS && this.cache.size > 1) this.forget(this.cache.keys().next().value!);
    return segment;
  }

  /** Drop a decoded segment from memory (a later read decodes it again). */
  forget(seq: number): void {
    const segment = this.cache.get(seq);
    if (!segment) return;
    this.cache.delete(seq);
    this.cachedChars -= segment.chars;
  }
}

/** A stored segment's events (read back as the batch they were written as) and their metadata. */
export function decodeSegment(row: { seq: number; events: string; meta: string }): { events: CloudEvent[]; meta: EventMeta[] } {
  const events = decodeBatch(row.events, SEGMENT_EVENTS, false);
  if (!Array.isArray(events)) throw new Error(`log segment ${row.seq} does not decode: ${events.error}`);
  return { events, meta: JSON.parse(row.meta) };
}

function sum(rows: { n: number }[]): number {
  return rows.reduce((n, r) => n + r.n, 0);
}
