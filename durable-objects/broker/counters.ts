/**
 * A broker's counters and latency histogram, kept in memory and written to SQLite at most once per
 * FLUSH_MS: one row per (trigger, counter) that changed, instead of one row per counter per event. A crash
 * loses at most the last FLUSH_MS of counts, never an event (events and deliveries are written before the
 * 202). The rows the broker's statements wrote and read are counted here too, from the metered SQL.
 */
import type { CounterName, CounterRow } from "../../shared/resources/broker-api.ts";
import type { MeteredSql, Table } from "../storage/metered-sql.ts";
import type { Writer } from "./write-behind.ts";

/** Longest time counts stay in memory only. */
export const FLUSH_MS = 5_000;
/** Delivery latency histogram buckets, milliseconds (Prometheus `le`). */
export const LATENCY_BUCKETS_MS = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000];

/** One row per (trigger, counter); trigger "" holds the broker's own. */
export const COUNTERS_TABLE: Table = {
  name: "counters",
  create: "CREATE TABLE IF NOT EXISTS counters (trigger TEXT NOT NULL, name TEXT NOT NULL, value INTEGER NOT NULL, PRIMARY KEY (trigger, name)) WITHOUT ROWID",
};

export class BrokerCounters {
  private readonly pending = new Map<string, CounterRow>();
  /** Meter totals already added to the counters. */
  private metered = { rowsWritten: 0, rowsRead: 0 };

  private readonly sql: MeteredSql;
  private readonly writer: Writer;

  /** `writer(write)`: this table's place in the broker's write-behind. */
  constructor(sql: MeteredSql, writer: (everyMs: number, write: () => void) => Writer) {
    this.sql = sql;
    this.writer = writer(FLUSH_MS, () => this.write());
  }

  add(trigger: string, name: CounterName, n: number): void {
    this.tally(trigger, name, n);
    this.writer.soon();
  }

  observeLatency(trigger: string, ms: number): void {
    const bucket = LATENCY_BUCKETS_MS.find((b) => ms <= b);
    this.add(trigger, bucket === undefined ? "latency_le_inf" : `latency_le_${bucket}`, 1);
    this.add(trigger, "latency_sum_ms", ms);
  }

  /** Write what is pending now. */
  flush(): void {
    this.writer.now();
  }

  /** Write what is pending (the write's own rows are counted in the next one). */
  private write(): void {
    this.takeMeter();
    if (this.pending.size === 0) return;
    this.sql.exec(
      "INSERT INTO counters (trigger, name, value) SELECT value ->> 0, value ->> 1, value ->> 2 FROM json_each(?) WHERE true ON CONFLICT DO UPDATE SET value = value + excluded.value",
      JSON.stringify([...this.pending.values()].map((r) => [r.trigger, r.name, r.value])),
    );
    this.pending.clear();
  }

  /** Drop the series of triggers no longer configured (their counts leave /metrics with them). */
  forget(keep: string[]): void {
    this.flush();
    this.sql.exec("DELETE FROM counters WHERE trigger <> '' AND trigger NOT IN (SELECT value FROM json_each(?))", JSON.stringify(keep));
  }

  /** Stored counts plus what is pending. */
  rows(): CounterRow[] {
    this.takeMeter();
    const rows = new Map(
      this.sql
        .exec<{ trigger: string; name: string; value: number }>("SELECT trigger, name, value FROM counters")
        .toArray()
        .map((r) => [`${r.trigger}\n${r.name}`, { ...r } as CounterRow]),
    );
    for (const [key, p] of this.pending) {
      const row = rows.get(key);
      if (row) row.value += p.value;
      else rows.set(key, { ...p });
    }
    return [...rows.values()];
  }

  private takeMeter(): void {
    const now = this.sql.settle();
    const written = now.rowsWritten - this.metered.rowsWritten;
    const read = now.rowsRead - this.metered.rowsRead;
    this.metered = { ...now };
    // Without starting the timer: the flush's own rows alone never keep flushing.
    if (written > 0) this.tally("", "rows_written", written);
    if (read > 0) this.tally("", "rows_read", read);
  }

  private tally(trigger: string, name: CounterName, n: number): void {
    const key = `${trigger}\n${name}`;
    const row = this.pending.get(key);
    if (row) row.value += n;
    else this.pending.set(key, { trigger, name, value: n });
  }
}
