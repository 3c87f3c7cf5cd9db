/**
 * Which (source, id) pairs a broker partition accepted within its dedup window, in memory. It is answered
 * from the events the partition keeps anyway (its log holds every accepted event for at least the
 * window), so deduplication writes no row of its own: the index is rebuilt from the log on start.
 * Memory grows with the events accepted within the window (about 150 bytes each).
 */
export class DedupIndex {
  /** Key -> when it was accepted (epoch ms). */
  private readonly at = new Map<string, number>();
  /** Keys in the order they were added, for expiry from the front. */
  private order: { key: string; at: number }[] = [];
  private head = 0;

  static key(source: string, id: string): string {
    return `${source}\u0000${id}`;
  }

  /** Whether `key` was accepted after `now - windowMs`. */
  has(key: string, now: number, windowMs: number): boolean {
    const at = this.at.get(key);
    return at !== undefined && at > now - windowMs;
  }

  add(key: string, at: number): void {
    this.at.set(key, at);
    this.order.push({ key, at });
  }

  /** Forget a key added by a write that did not happen. */
  remove(key: string): void {
    this.at.delete(key);
  }

  /** Drop what the window no longer covers. */
  expire(now: number, windowMs: number): void {
    while (this.head < this.order.length && this.order[this.head].at <= now - windowMs) {
      const { key, at } = this.order[this.head++];
      if (this.at.get(key) === at) this.at.delete(key);
    }
    if (this.head > 1024 && this.head * 2 > this.order.length) {
      this.order = this.order.slice(this.head);
      this.head = 0;
    }
  }

  get size(): number {
    return this.at.size;
  }
}
