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
  private timer: ReturnType<typeof setTimeout> | null = null;
  private timerAt = Infinity;

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

  /** Wake at the earliest due write. */
  private arm(): void {
    let at = Infinity;
    for (const e of this.entries.values()) if (e.due !== null) at = Math.min(at, e.due);
    if (at >= this.timerAt) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = at === Infinity ? null : setTimeout(() => this.fire(), Math.max(at - Date.now(), 0));
  }

  private fire(): void {
    this.timer = null;
    this.timerAt = Infinity;
    const now = Date.now();
    for (const entry of this.entries.values()) if (entry.due !== null && entry.due <= now) this.write(entry);
    this.arm();
  }
}
