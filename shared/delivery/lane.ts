/**
 * One trigger's lane through a broker partition's event log: the log positions of the events it matched
 * and has not started yet, in order, and those in flight. Instead of a row per event and trigger, the
 * broker stores one cursor per trigger (the first position not handled yet, `cursor()`); after a restart
 * the lane is rebuilt from the log above it. An event leaves the lane when its first attempt ends: done,
 * or handed to the broker's retry table (a row only for the events that need one).
 */
export interface LaneEntry {
  pos: number;
  /** The partition key, for an ordered trigger; null otherwise. */
  key: string | null;
}

/** Entries an ordered lane looks at per take, so a key with many events waiting behind it costs bounded work. */
export const ORDERED_SCAN = 1_000;

export class Lane {
  /** Waiting entries in order; taken ones become null until the head passes them. */
  private entries: (LaneEntry | null)[] = [];
  private head = 0;
  private waitingCount = 0;
  private readonly flying = new Map<number, string | null>();
  /** Per key: entries waiting or in flight. */
  private readonly keys = new Map<string, number>();
  private readonly flyingKeys = new Map<string, number>();
  /** One past the last position pushed: the cursor once nothing waits or flies. */
  private passed: number;

  constructor(cursor: number) {
    this.passed = cursor;
  }

  /** Add the next position this trigger matched; one below the cursor (handled before a restart) is skipped. */
  push(entry: LaneEntry): void {
    if (entry.pos < this.passed) return;
    this.entries.push(entry);
    this.waitingCount++;
    this.passed = entry.pos + 1;
    if (entry.key !== null) bump(this.keys, entry.key, 1);
  }

  get waiting(): number {
    return this.waitingCount;
  }

  get inflight(): number {
    return this.flying.size;
  }

  /** Whether the event at `pos` is in flight from this lane. */
  flies(pos: number): boolean {
    return this.flying.has(pos);
  }

  /** Whether an event of this key waits or flies here. */
  holds(key: string): boolean {
    return this.keys.has(key);
  }

  /** The first position not handled yet: what is stored for a restart. */
  cursor(): number {
    this.skipTaken();
    let low = this.head < this.entries.length ? Math.min(this.passed, this.entries[this.head]!.pos) : this.passed;
    for (const pos of this.flying.keys()) low = Math.min(low, pos);
    return low;
  }

  /**
   * Up to `n` entries to start now, marked in flight. Unordered: from the head. Ordered: one per key, and
   * never a key already in flight or waiting further ahead; a key that `blocked` says is held elsewhere
   * (its earlier events wait in the retry table) is taken out as `held`, to queue behind them there.
   */
  take(n: number, ordered: boolean, blocked: (key: string) => boolean): { start: LaneEntry[]; held: LaneEntry[] } {
    const start: LaneEntry[] = [];
    const held: LaneEntry[] = [];
    const passedKeys = new Set<string>();
    const end = ordered ? Math.min(this.entries.length, this.head + ORDERED_SCAN) : this.entries.length;
    for (let i = this.head; i < end && start.length < n; i++) {
      const e = this.entries[i];
      if (!e) continue;
      if (ordered && e.key !== null) {
        if (passedKeys.has(e.key) || this.flyingKeys.has(e.key)) {
          passedKeys.add(e.key);
          continue;
        }
        passedKeys.add(e.key);
        if (blocked(e.key)) {
          this.remove(i);
          bump(this.keys, e.key, -1);
          held.push(e);
          continue;
        }
      }
      this.remove(i);
      this.flying.set(e.pos, e.key);
      if (e.key !== null) bump(this.flyingKeys, e.key, 1);
      start.push(e);
    }
    this.skipTaken();
    return { start, held };
  }

  /** An entry's first attempt ended. */
  settle(pos: number): void {
    if (!this.flying.has(pos)) return;
    const key = this.flying.get(pos)!;
    this.flying.delete(pos);
    if (key !== null) {
      bump(this.flyingKeys, key, -1);
      bump(this.keys, key, -1);
    }
  }

  /** Everything waiting and in flight (the trigger is gone): their positions. */
  clear(): number[] {
    const all = [
      ...this.entries
        .slice(this.head)
        .filter((e) => e !== null)
        .map((e) => e.pos),
      ...this.flying.keys(),
    ];
    this.entries = [];
    this.head = 0;
    this.waitingCount = 0;
    this.flying.clear();
    this.keys.clear();
    this.flyingKeys.clear();
    return all;
  }

  private remove(i: number): void {
    this.entries[i] = null;
    this.waitingCount--;
  }

  private skipTaken(): void {
    while (this.head < this.entries.length && this.entries[this.head] === null) this.head++;
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
  }
}

function bump(counts: Map<string, number>, key: string, by: number): void {
  const n = (counts.get(key) ?? 0) + by;
  if (n > 0) counts.set(key, n);
  else counts.delete(key);
}
