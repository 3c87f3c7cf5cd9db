/**
 * Group commit: the writes asked for within one turn of an object are made together, by one call of
 * `write` (one transaction, and for the broker one log segment), and every caller is answered once it is
 * done. Requests that reach a busy object queue up meanwhile, so the busier the object, the more events
 * share a row. Durable Objects hold each response until the writes before it are durable, so an answer
 * given here still means stored. `write` must be all or nothing (a transaction): a failed group is written
 * again caller by caller, so one caller's bad items fail that caller only.
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
      if (batch.length === 1) batch[0].reject(e);
      // One caller's items must not fail the others': each is written again on its own, and fails alone.
      else for (const b of batch) this.writeAlone(b);
      return;
    }
    for (const b of batch) b.resolve();
  }

  private writeAlone(b: { item: T; resolve: () => void; reject: (e: unknown) => void }): void {
    try {
      this.write([b.item]);
    } catch (e) {
      b.reject(e);
      return;
    }
    b.resolve();
  }
}
