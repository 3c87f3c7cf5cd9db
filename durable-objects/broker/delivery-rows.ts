/**
 * A broker partition's `deliveries` table: the deliveries that need a row of their own (a retry, the
 * dead-letter phase, ordering behind those, a redelivery, a replay delivery that failed its first
 * attempt); first attempts come from the lanes (the triggers' and the replays') and write nothing here. `next_at` is a row's schedule. Every index entry is a row written: only the
 * indexes the pump and the alarm read, and `pkey` is NULL for unordered triggers, outside the ordering
 * index. Ids are never reused (AUTOINCREMENT), so an attempt that outlived its row (trigger deleted)
 * cannot settle a newer one.
 */
import type { MeteredSql, Table } from "../storage/metered-sql.ts";

const TABLE = `CREATE TABLE IF NOT EXISTS deliveries (
  id INTEGER PRIMARY KEY AUTOINCREMENT, event_seq INTEGER NOT NULL, trigger TEXT NOT NULL, pkey TEXT,
  phase TEXT NOT NULL DEFAULT 'subscriber', attempt INTEGER NOT NULL DEFAULT 0, next_at INTEGER NOT NULL, error TEXT, replay TEXT)`;

/** One row per delivery that needs one, with only the indexes the pump and the alarm read. */
export const DELIVERIES_TABLE: Table = {
  name: "deliveries",
  create: `
    ${TABLE};
    CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (trigger, next_at);
    DROP INDEX IF EXISTS deliveries_key;
    CREATE INDEX IF NOT EXISTS deliveries_ordered ON deliveries (trigger, pkey, id) WHERE pkey IS NOT NULL;
    DROP INDEX IF EXISTS deliveries_event;
    DROP INDEX IF EXISTS deliveries_wake;`,
  /**
   * Objects created before the lease moved to memory have `lease_until` and a NOT NULL `pkey`: their queue
   * is copied into the current table once (ids kept, so AUTOINCREMENT goes on above them). Those created
   * before replays lack the `replay` column.
   */
  migrate(sql, transaction) {
    const old = sql.exec<{ sql: string }>("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'deliveries'").toArray()[0];
    if (old && !old.sql.includes("replay")) sql.exec("ALTER TABLE deliveries ADD COLUMN replay TEXT");
    if (old?.sql.includes("lease_until")) {
      transaction(() => {
        sql.exec("ALTER TABLE deliveries RENAME TO deliveries_old");
        sql.exec(TABLE);
        sql.exec(
          "INSERT INTO deliveries (id, event_seq, trigger, pkey, phase, attempt, next_at, error) SELECT id, event_seq, trigger, pkey, phase, attempt, next_at, error FROM deliveries_old",
        );
        sql.exec("DROP TABLE deliveries_old");
      });
    }
  },
};

/**
 * One delivery of a logged event (`event_seq` is its log position) to a trigger: a row, or (`id` null) a
 * first attempt straight from the trigger's lane.
 */
export interface DeliveryRow {
  id: number | null;
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

/** What a row's next attempt is. */
export type NextAttempt = Pick<DeliveryRow, "phase" | "attempt" | "error"> & { nextAt: number };

export class DeliveryRows {
  /** Rows in the table. */
  count = 0;

  private readonly sql: MeteredSql;

  constructor(sql: MeteredSql) {
    this.sql = sql;
  }

  /** Count the rows (at start). */
  recount(): void {
    this.count = this.sql.exec<{ n: number }>("SELECT count(*) AS n FROM deliveries").one().n;
  }

  /**
   * Up to `limit` due rows of a trigger, not in `busy`. Ordered: only the first row of each key, so one
   * key's retries (or its head in flight) hold that key back.
   */
  due(trigger: string, ordered: boolean, now: number, busy: Set<number>, limit: number): DeliveryRow[] {
    if (this.count === 0) return []; // the usual case: first attempts succeed and write no row
    const exclude = JSON.stringify([...busy]);
    return ordered
      ? this.sql
          .exec<DeliveryRow>(
            "SELECT * FROM deliveries d WHERE trigger = ? AND next_at <= ? AND id NOT IN (SELECT value FROM json_each(?)) AND (pkey IS NULL OR id = (SELECT min(id) FROM deliveries WHERE trigger = d.trigger AND pkey = d.pkey)) ORDER BY id LIMIT ?",
            trigger,
            now,
            exclude,
            limit,
          )
          .toArray()
      : this.sql
          .exec<DeliveryRow>(
            "SELECT * FROM deliveries WHERE trigger = ? AND next_at <= ? AND id NOT IN (SELECT value FROM json_each(?)) ORDER BY next_at, id LIMIT ?",
            trigger,
            now,
            exclude,
            limit,
          )
          .toArray();
  }

  /**
   * Per the given triggers, by index lookups on (trigger, next_at), not a scan: the earliest future due
   * time, and whether any row is due now (rows in flight count: their completion pumps).
   */
  schedule(triggers: string[], now: number): { future: number | null; waiting: boolean } {
    if (this.count === 0) return { future: null, waiting: false };
    const row = this.sql
      .exec<{ future: number | null; waiting: number }>(
        `SELECT min(f) AS future, max(w) AS waiting FROM (SELECT
           (SELECT min(next_at) FROM deliveries WHERE trigger = t.value AND next_at > ?1) AS f,
           EXISTS (SELECT 1 FROM deliveries WHERE trigger = t.value AND next_at <= ?1) AS w FROM json_each(?2) t)`,
        now,
        JSON.stringify(triggers),
      )
      .one();
    return { future: row.future, waiting: row.waiting === 1 };
  }

  add(pos: number, trigger: string, pkey: string | null, next: NextAttempt, replay: string | null = null): void {
    this.sql.exec(
      "INSERT INTO deliveries (event_seq, trigger, pkey, phase, attempt, next_at, error, replay) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
      pos,
      trigger,
      pkey,
      next.phase,
      next.attempt,
      next.nextAt,
      next.error,
      replay,
    );
    this.count++;
  }

  update(id: number, next: NextAttempt): void {
    this.sql.exec("UPDATE deliveries SET phase = ?, attempt = ?, next_at = ?, error = ? WHERE id = ?", next.phase, next.attempt, next.nextAt, next.error, id);
  }

  /** Hold a row until `at` (it waits for its key elsewhere). */
  postpone(id: number, at: number): void {
    this.sql.exec("UPDATE deliveries SET next_at = ? WHERE id = ?", at, id);
  }

  remove(id: number): void {
    this.sql.exec("DELETE FROM deliveries WHERE id = ?", id);
    this.count--;
  }

  exists(id: number): boolean {
    return this.sql.exec("SELECT 1 FROM deliveries WHERE id = ?", id).toArray().length > 0;
  }

  /** Whether a trigger has rows of this key queued. */
  hasKey(trigger: string, pkey: string): boolean {
    return this.sql.exec("SELECT 1 FROM deliveries WHERE trigger = ? AND pkey = ? LIMIT 1", trigger, pkey).toArray().length > 0;
  }

  /** Delete the rows of triggers not in `keep`: what they held. */
  dropExcept(keep: string[]): { event_seq: number; trigger: string; replay: string | null }[] {
    const rows = this.sql
      .exec<{ event_seq: number; trigger: string; replay: string | null }>(
        "DELETE FROM deliveries WHERE trigger NOT IN (SELECT value FROM json_each(?)) RETURNING event_seq, trigger, replay",
        JSON.stringify(keep),
      )
      .toArray();
    this.count -= rows.length;
    return rows;
  }

  /** Rows queued by each replay. */
  countByReplay(): Map<string, number> {
    return new Map(
      this.sql
        .exec<{ replay: string; n: number }>("SELECT replay, count(*) AS n FROM deliveries WHERE replay IS NOT NULL GROUP BY replay")
        .toArray()
        .map((r) => [r.replay, r.n]),
    );
  }

  /** Delete the rows a replay queued (it was stopped). */
  dropReplay(name: string): void {
    this.count -= this.sql.exec("DELETE FROM deliveries WHERE replay = ? RETURNING id", name).toArray().length;
  }

  /** The log segments rows point into (they must stay). */
  segments(segmentEvents: number): Set<number> {
    return new Set(
      this.sql
        .exec<{ seq: number }>(`SELECT DISTINCT event_seq / ${segmentEvents} AS seq FROM deliveries`)
        .toArray()
        .map((r) => r.seq),
    );
  }

  /** Point rows at events' new positions ([old, new] pairs), after the events moved. */
  remap(moved: [number, number][]): void {
    this.sql.exec("UPDATE deliveries SET event_seq = j.value ->> 1 FROM json_each(?) j WHERE deliveries.event_seq = j.value ->> 0", JSON.stringify(moved));
  }
}

/**
 * The due rows of a trigger in the order the pump starts them: a replay's deliveries after the others
 * (retries, redeliveries), which the pump starts before its live events too. An ordered trigger keeps its
 * rows' order (a key's events, replayed or not, go in order).
 */
export function liveFirst(due: DeliveryRow[], ordered: boolean): { first: DeliveryRow[]; later: DeliveryRow[] } {
  return ordered ? { first: due, later: [] } : { first: due.filter((r) => r.replay === null), later: due.filter((r) => r.replay !== null) };
}
