/**
 * Write-behind: what an object keeps in memory and writes to SQLite later, each kind at most once per its
 * interval after a change, so that many changes cost one row each (a broker's turn of accepted events,
 * the attempts recorded on a log segment, the lanes' cursors, the counters). One timer serves every
 * writer, and whenever several writes are due or asked for together they run in one declared order (the
 * log's rows before the attempts recorded on them, say), not in the order their callers happen to ask.
 */

/** One kind of pending write, as its owner sees it. */
export interface Writer {
  /** Something changed: write within this writer's interval. */
  soon(): void;
  /** Write now (a reader, or a change of configuration, needs it stored). */
  now(): void;
}

interface Entry {
  everyMs: number;
  write: () => void;
  /** When the pending write is due; null: nothing pending. */
  due: number | null;
}

export class WriteBehind<K extends string> {
  private readonly entries = new Map<K, Entry>();
  /**
   * When the armed timers fire. A write due sooner than all of them arms one more and leaves the others
   * armed (they find nothing due, or the later writes): a timer cleared and set again on every turn of
   * accepted events cost more CPU than the few that fire for nothing.
   */
  private armed: number[] = [];

  /** `order`: every writer's name, in the order their writes must reach storage. */
  constructor(order: readonly K[]) {
    for (const name of order) this.entries.set(name, { everyMs: 0, write: () => {}, due: null });
  }

  /** The writer `name`, writing with `write` at most `everyMs` after a change. */
  writer(name: K, everyMs: number, write: () => void): Writer {
    const entry = this.entries.get(name)!;
    entry.everyMs = everyMs;
    entry.write = write;
    return {
      soon: () => {
        if (entry.due !== null) return;
        entry.due = Date.now() + entry.everyMs;
        this.arm();
      },
      now: () => this.write(entry),
    };
  }

  /** Write what is pending now, in order: every writer up to and including `through` (all when omitted). */
  flush(through?: K): void {
    for (const [name, entry] of this.entries) {
      if (entry.due !== null) this.write(entry);
      if (name === through) return;
    }
  }

  private write(entry: Entry): void {
    entry.due = null;
    entry.write();
  }

  /** Wake at the earliest due write, unless a timer armed already comes no later. */
  private arm(): void {
    let at = Infinity;
    for (const e of this.entries.values()) if (e.due !== null) at = Math.min(at, e.due);
    if (at === Infinity || this.armed.some((t) => t <= at)) return;
    this.armed.push(at);
    setTimeout(() => this.fire(at), Math.max(at - Date.now(), 0));
  }

  private fire(armedAt: number): void {
    this.armed.splice(this.armed.indexOf(armedAt), 1);
    const now = Date.now();
    for (const entry of this.entries.values()) if (entry.due !== null && entry.due <= now) this.write(entry);
    this.arm();
  }
}
