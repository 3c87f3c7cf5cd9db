/**
 * A broker partition's storage: every table it keeps, listed once below with its owner, created and
 * upgraded here, and the write-behind that orders what reaches them later. Each table is read and
 * written through its owner's methods only: the log (event-log.ts), the lanes' cursors
 * (trigger-lanes.ts), the deliveries that need a row (delivery-rows.ts), replays (history.ts), kept dead
 * letters (dead-letters.ts), counters (broker/counters.ts) and the pushed configuration (key-value.ts).
 * Every statement goes through the meter (metered-sql.ts): rows written are the broker's storage bill.
 *
 * No table exists before the control plane first configures the broker: a request that reaches an
 * unknown broker (a stale routing table, a broker-to-broker target that was deleted) creates nothing.
 */
import { decodeStructured, encodeStructured } from "../../shared/cloudevents/index.ts";
import type { BrokerConfig } from "../../shared/resources/eventing.ts";
import { BrokerCounters, COUNTERS_TABLE } from "./counters.ts";
import { DEAD_TABLE, DeadLetters } from "./dead-letters.ts";
import { DELIVERIES_TABLE, DeliveryRows } from "./delivery-rows.ts";
import { EventLog, type EventMeta, LOG_TABLE, SEGMENT_EVENTS, segmentOf } from "./event-log.ts";
import { REPLAYS_TABLE } from "./history.ts";
import { KeyValueTable, keyValueSchema } from "../storage/key-value.ts";
import { MeteredSql, type Table } from "../storage/metered-sql.ts";
import { CURSORS_TABLE, TriggerLanes } from "./trigger-lanes.ts";
import { WriteBehind } from "./write-behind.ts";

/** The pushed configuration and its version. */
const CONFIG_TABLE: Table = { name: "config", create: keyValueSchema("config") };

/** Every table of a broker partition, in the order they are created. */
export const TABLES: readonly Table[] = [CONFIG_TABLE, LOG_TABLE, CURSORS_TABLE, DELIVERIES_TABLE, REPLAYS_TABLE, DEAD_TABLE, COUNTERS_TABLE];

/**
 * What the broker writes behind, in the order it must reach storage: the turn's accepted events (the
 * log), the attempts recorded on their segments, the lanes' cursors, the replays' cursors and counts, the
 * counters (which count the rows the others wrote).
 */
const WRITES = ["log", "history", "cursors", "replays", "counters"] as const;
export type WriteName = (typeof WRITES)[number];

/** The log's expiry runs no more often than this. */
const EXPIRY_INTERVAL_MS = 5_000;

export class BrokerStore {
  readonly sql: MeteredSql;
  readonly writes = new WriteBehind<WriteName>(WRITES);
  readonly log: EventLog;
  readonly lanes: TriggerLanes;
  readonly rows: DeliveryRows;
  readonly dead: DeadLetters;
  readonly counters: BrokerCounters;
  /** The pushed configuration and its version; null until the tables exist. */
  settings: KeyValueTable | null = null;
  /** When the log's expiry is due next (Infinity: the log is empty). */
  private nextExpiry = -Infinity;

  private readonly storage: DurableObjectStorage;

  constructor(storage: DurableObjectStorage) {
    this.storage = storage;
    this.sql = new MeteredSql(storage.sql);
    this.log = new EventLog(this.sql);
    this.lanes = new TriggerLanes(this.sql, (everyMs, write) => this.writes.writer("cursors", everyMs, write));
    this.rows = new DeliveryRows(this.sql);
    this.dead = new DeadLetters(this.sql);
    this.counters = new BrokerCounters(this.sql, (everyMs, write) => this.writes.writer("counters", everyMs, write));
  }

  /** Whether the broker was ever configured (its tables exist). */
  get exists(): boolean {
    return this.sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'config'").toArray().length > 0;
  }

  /** Create or upgrade every table, and load what memory holds of them. */
  open(): KeyValueTable {
    const transaction = (fn: () => void) => this.transaction(fn);
    for (const table of TABLES) {
      table.migrate?.(this.sql, transaction);
      this.sql.exec(table.create);
    }
    this.rows.recount();
    const cursors = this.lanes.load();
    this.log.reload(Math.max(0, ...cursors.values()));
    this.migrateEvents();
    this.settings = new KeyValueTable(this.sql, CONFIG_TABLE.name);
    return this.settings;
  }

  transaction(fn: () => void): void {
    this.storage.transactionSync(fn);
  }

  /** Segments were appended: the expiry looks at the log soon (at once when it is over the retention cap). */
  appended(now: number, config: BrokerConfig | null): void {
    if (this.nextExpiry === Infinity) this.nextExpiry = now + EXPIRY_INTERVAL_MS;
    const limit = config?.retentionLimit;
    if (limit !== undefined && (config?.retentionMs ?? 0) > 0 && this.log.size > limit) this.nextExpiry = Math.min(this.nextExpiry, now);
  }

  /** The configuration changed: a shorter retention or a lower cap applies at the next alarm. */
  expireSoon(): void {
    this.nextExpiry = -Infinity;
  }

  /** When the alarm must come for the expiry (Infinity: the log is empty). */
  expiryAt(now: number): number {
    return Math.max(this.nextExpiry, now);
  }

  /**
   * Delete the log segments nothing needs any more (event-log.ts): kept for the longer of the retention
   * and the dedup window, while a lane, a queued row or a replay's lane (`replaying`) needs them, and
   * within the retention cap.
   */
  expire(now: number, config: BrokerConfig | null, replaying: Set<number> = new Set()): void {
    if (!config || this.nextExpiry > now) return;
    this.writes.flush("history");
    const pinned = new Set([...this.rows.segments(SEGMENT_EVENTS), ...replaying]);
    const retention = config.retentionMs ?? 0;
    const r = this.log.expire(
      now,
      this.lanes.floor(this.log.end),
      pinned,
      Math.max(retention, config.dedupWindowMs),
      retention > 0 ? (config.retentionLimit ?? Infinity) : Infinity,
    );
    if (r.evicted > 0) this.counters.add("", "history_evicted", r.evicted);
    this.nextExpiry = r.next === Infinity ? Infinity : Math.max(r.next, now + EXPIRY_INTERVAL_MS);
  }

  /**
   * Objects created before the log kept a row per event (`events`) and a dedup table: their events move
   * into the log once, one segment each, and their queued rows follow them to their positions. (The old
   * dedup entries go: the events they stood for may be accepted again for the rest of their window.)
   */
  private migrateEvents(): void {
    if (this.sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'events'").toArray().length === 0) return;
    this.transaction(() => {
      const moved: [number, number][] = [];
      for (const r of this.sql
        .exec<{ seq: number; arrived_at: number; body: string; headers: string | null; history?: string | null }>("SELECT * FROM events ORDER BY seq")
        .toArray()) {
        const event = decodeStructured(r.body, false);
        if ("status" in event) continue; // never stored by the router: nothing to deliver
        const history = r.history ? JSON.parse(r.history) : {};
        const meta: EventMeta = {
          s: String(event.attributes.source),
          i: String(event.attributes.id),
          m: Object.keys(history),
          q: 1,
          ...(r.headers ? { h: JSON.parse(r.headers) } : {}),
        };
        const [pos] = this.log.append([{ event, body: encodeStructured(event), meta }], r.arrived_at);
        if (r.history) this.log.recordHistory(segmentOf(pos), JSON.stringify({ 0: history }));
        moved.push([r.seq, pos]);
      }
      this.rows.remap(moved);
      this.sql.exec("DROP TABLE events");
      this.sql.exec("DROP TABLE IF EXISTS dedup");
    });
  }
}
