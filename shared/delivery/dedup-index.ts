/**
 * Which (source, id) pairs a broker partition accepted within its dedup window, in memory. It is answered
 * from the events the partition keeps anyway (its log holds every accepted event for at least the
 * window), so deduplication writes no row of its own: the index is rebuilt from the log on start.
 * Memory grows with the events accepted within the window (about 150 bytes each), up to a byte budget:
 * beyond it the oldest keys are forgotten first, so under a flood the window is shorter, never the
 * isolate out of memory (docs/SECURITY.md).
 */

/** Default budget: about 160,000 keys of typical size (a 20-character source, a UUID id), 10 minutes at 265 events/s. */
export const DEDUP_INDEX_BYTES = 32 * 1024 * 1024;
/** What one key costs beside its characters: the map entry, the order entry and their numbers. */
const ENTRY_BYTES = 96;

export class DedupIndex {
  /** Key -> when it was accepted (epoch ms). */
  private readonly at = new Map<string, number>();
  /** Keys in the order they were added, for expiry from the front. */
  private order: { key: string; at: number }[] = [];
  private head = 0;
  /** Estimated bytes of what `order` (and the map) hold from `head` on. */
  private held = 0;

  private readonly maxBytes: number;

  constructor(maxBytes = DEDUP_INDEX_BYTES) {
    this.maxBytes = maxBytes;
  }

  static key(source: string, id: string): string {
    return `${source}\u0000${id}`;
  }

  /** Whether `key` was accepted after `now - windowMs`. */
  has(key: string, now: number, windowMs: number): boolean {
    const at = this.at.get(key);
    return at !== undefined && at > now - windowMs;
  }

  /** Add `key`; over the byte budget, the oldest keys go first. */
  add(key: string, at: number): void {
    this.at.set(key, at);
    this.order.push({ key, at });
    this.held += costOf(key);
    while (this.held > this.maxBytes && this.head < this.order.length - 1) this.dropOldest();
    this.compact();
  }

  /** Forget a key added by a write that did not happen. */
  remove(key: string): void {
    this.at.delete(key);
  }

  /** Drop what the window no longer covers. */
  expire(now: number, windowMs: number): void {
    while (this.head < this.order.length && this.order[this.head].at <= now - windowMs) this.dropOldest();
    this.compact();
  }

  get size(): number {
    return this.at.size;
  }

  /** Estimated bytes held. */
  get bytes(): number {
    return this.held;
  }

  private dropOldest(): void {
    const { key, at } = this.order[this.head++];
    if (this.at.get(key) === at) this.at.delete(key);
    this.held -= costOf(key);
  }

  private compact(): void {
    if (this.head > 1024 && this.head * 2 > this.order.length) {
      this.order = this.order.slice(this.head);
      this.head = 0;
    }
  }
}

/** UTF-16 code units take two bytes at most. */
function costOf(key: string): number {
  return ENTRY_BYTES + 2 * key.length;
}
