/**
 * Group commit: the writes asked for within one turn of an object are made together, by one call of
 * `write` (one transaction, and for the broker one log segment), and every caller is answered once it is
 * done. Requests that reach a busy object queue up meanwhile, so the busier the object, the more events
 * share a row. Durable Objects hold each response until the writes before it are durable, so an answer
 * given here still means stored.
 */
export class GroupCommit<T> {
  private batch: { item: T; resolve: () => void; reject: (e: unknown) => void }[] = [];

  private readonly write: (items: T[]) => void;
  private readonly schedule: () => void;

  /**
   * `schedule()` arranges a `flush` after the turn: a timer, not a microtask, so that requests already
   * waiting for the object get their turn first (the broker's write-behind, write-behind.ts).
   */
  constructor(write: (items: T[]) => void, schedule: () => void) {
    this.write = write;
    this.schedule = schedule;
  }

  /** Resolves when `item` is written; rejects with the write's error. */
  add(item: T): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.batch.length === 0) this.schedule();
      this.batch.push({ item, resolve, reject });
    });
  }

  /** Write what waits now (also before anything that must see it stored). */
  flush(): void {
    const batch = this.batch;
    if (batch.length === 0) return;
    this.batch = [];
    try {
      this.write(batch.map((b) => b.item));
    } catch (e) {
      for (const b of batch) b.reject(e);
      return;
    }
    for (const b of batch) b.resolve();
  }
}
