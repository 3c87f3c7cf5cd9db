/**
 * A broker partition's kept dead letters (table `dead`): events that failed for good with no dead-letter
 * sink left to take them. They are kept, newest DEAD_KEEP of them, for inspection and redelivery
 * (docs/OPERATIONS.md), counted in /metrics, and never silently gone.
 */
import type { DeadLetter } from "../../shared/resources/broker-api.ts";
import type { MeteredSql, Table } from "../storage/metered-sql.ts";

/** Exhausted events kept for inspection and redelivery when no dead-letter sink took them. */
export const DEAD_KEEP = 10_000;

/** One row per kept event, in structured mode. */
export const DEAD_TABLE: Table = {
  name: "dead",
  create:
    "CREATE TABLE IF NOT EXISTS dead (id INTEGER PRIMARY KEY AUTOINCREMENT, trigger TEXT NOT NULL, at INTEGER NOT NULL, reason TEXT NOT NULL, body TEXT NOT NULL)",
};

export class DeadLetters {
  private readonly sql: MeteredSql;

  constructor(sql: MeteredSql) {
    this.sql = sql;
  }

  /** Keep an event (`body`: structured mode); the oldest beyond DEAD_KEEP go. */
  add(trigger: string, at: number, reason: string, body: string): void {
    this.sql.exec("INSERT INTO dead (trigger, at, reason, body) VALUES (?, ?, ?, ?)", trigger, at, reason, body);
    this.sql.exec("DELETE FROM dead WHERE id <= (SELECT max(id) FROM dead) - ?", DEAD_KEEP);
  }

  count(): number {
    return this.sql.exec<{ n: number }>("SELECT count(*) AS n FROM dead").one().n;
  }

  /** Newest first. */
  list(limit: number): DeadLetter[] {
    return this.sql
      .exec<{ id: number; trigger: string; at: number; reason: string; body: string }>(
        "SELECT id, trigger, at, reason, body FROM dead ORDER BY id DESC LIMIT ?",
        limit,
      )
      .toArray()
      .map((r) => ({ id: r.id, trigger: r.trigger, at: r.at, reason: r.reason, event: JSON.parse(r.body) }));
  }

  /** A kept event's trigger and body, or null when it is gone. */
  get(id: number): { trigger: string; body: string } | null {
    return this.sql.exec<{ trigger: string; body: string }>("SELECT trigger, body FROM dead WHERE id = ?", id).toArray()[0] ?? null;
  }

  remove(id: number): void {
    this.sql.exec("DELETE FROM dead WHERE id = ?", id);
  }
}
