/**
 * The broker partition's lanes (shared/delivery/lane.ts), one per trigger, and their stored cursors: one
 * row per trigger, written at most once per CURSOR_FLUSH_MS while it moves. After a crash every lane
 * starts again from its stored cursor, so what was delivered in the last CURSOR_FLUSH_MS may be
 * delivered again (delivery is at least once), and nothing is lost.
 */
import { Lane } from "../../shared/delivery/lane.ts";
import type { EventMeta } from "./event-log.ts";
import type { MeteredSql, Table } from "../storage/metered-sql.ts";
import type { Writer } from "./write-behind.ts";

/** Longest time a lane's cursor moves in memory only. */
export const CURSOR_FLUSH_MS = 1_000;

/** One row per trigger: the log position below which every event of its lane is handled. */
export const CURSORS_TABLE: Table = {
  name: "cursors",
  create: "CREATE TABLE IF NOT EXISTS cursors (trigger TEXT PRIMARY KEY, pos INTEGER NOT NULL) WITHOUT ROWID",
};

export class TriggerLanes {
  private readonly lanes = new Map<string, Lane>();
  private readonly saved = new Map<string, number>();

  private readonly sql: MeteredSql;
  private readonly writer: Writer;

  /** `writer(write)`: this table's place in the broker's write-behind. */
  constructor(sql: MeteredSql, writer: (everyMs: number, write: () => void) => Writer) {
    this.sql = sql;
    this.writer = writer(CURSOR_FLUSH_MS, () => this.write());
  }

  /** The stored cursors, by trigger (lanes are made by `reconcile`). */
  load(): Map<string, number> {
    this.lanes.clear();
    this.saved.clear();
    for (const r of this.sql.exec<{ trigger: string; pos: number }>("SELECT trigger, pos FROM cursors")) this.saved.set(r.trigger, r.pos);
    return new Map(this.saved);
  }

  get(trigger: string): Lane | undefined {
    return this.lanes.get(trigger);
  }

  /** Make the lanes those of `triggers`: new ones start at `end` (new events only); the others' lanes go, returned. */
  reconcile(triggers: string[], end: number): Map<string, Lane> {
    const gone = new Map<string, Lane>();
    for (const [name, lane] of this.lanes) {
      if (triggers.includes(name)) continue;
      gone.set(name, lane);
      this.lanes.delete(name);
      this.saved.delete(name);
    }
    if (gone.size > 0) this.sql.exec("DELETE FROM cursors WHERE trigger IN (SELECT value FROM json_each(?))", JSON.stringify([...gone.keys()]));
    for (const name of triggers) if (!this.lanes.has(name)) this.lanes.set(name, new Lane(this.saved.get(name) ?? end));
    this.writer.now(); // a new trigger's cursor at once: after a crash it must not start later than it did
    return gone;
  }

  /**
   * Put a logged event in the lanes of the triggers it matched (`ordered`: whether a trigger keeps the
   * order of its partition key); the names of the triggers that got it.
   */
  push(pos: number, meta: EventMeta, ordered: (trigger: string) => boolean): string[] {
    if (meta.q) return [];
    return meta.m.filter((name) => {
      const lane = this.lanes.get(name);
      if (!lane) return false;
      lane.push({ pos, key: ordered(name) ? (meta.k ?? "") : null });
      return true;
    });
  }

  /** Waiting and in flight, all lanes. */
  get size(): number {
    let n = 0;
    for (const lane of this.lanes.values()) n += lane.waiting + lane.inflight;
    return n;
  }

  /** The lowest cursor: no segment at or above it may go. */
  floor(end: number): number {
    let low = end;
    for (const lane of this.lanes.values()) low = Math.min(low, lane.cursor());
    return low;
  }

  /** A lane moved: store its cursor soon. */
  moved(): void {
    this.writer.soon();
  }

  /** Store the cursors that moved: one statement, one row per trigger. */
  private write(): void {
    const changed = [...this.lanes].map(([name, lane]) => [name, lane.cursor()] as const).filter(([name, pos]) => this.saved.get(name) !== pos);
    if (changed.length === 0) return;
    this.sql.exec(
      "INSERT INTO cursors (trigger, pos) SELECT value ->> 0, value ->> 1 FROM json_each(?) WHERE true ON CONFLICT DO UPDATE SET pos = excluded.pos",
      JSON.stringify(changed),
    );
    for (const [name, pos] of changed) this.saved.set(name, pos);
  }
}
