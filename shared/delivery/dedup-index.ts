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
/** What one key costs beside its characters: the map entry, its place in the order and its time. */
const ENTRY_BYTES = 96;

/**
 * One entry per accepted event, kept for minutes, so each entry is as few heap objects as can be: the key
 * string, its map slot (holding a small integer) and a slot in two arrays (the times packed as doubles).
 * Objects that live this long are what a full garbage collection marks, in the same isolate as delivery.
 */
export class DedupIndex {
  /** Key -> its number in the order of adds (the latest add of it). */
  private readonly seqOf = new Map<string, number>();
  /** Keys and when they were accepted (epoch ms), in the order they were added, from `head` on. */
  private keys: string[] = [];
  private ats: number[] = [];
  private head = 0;
  /** The number in the order of adds of `keys[0]`. */
  private base = 0;
  /** Estimated bytes of what the order (and the map) hold from `head` on. */
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
    const seq = this.seqOf.get(key);
    return seq !== undefined && this.ats[seq - this.base] > now - windowMs;
  }

  /** Add `key`; over the byte budget, the oldest keys go first. */
  add(key: string, at: number): void {
    this.seqOf.set(key, this.base + this.keys.length);
    this.keys.push(key);
    this.ats.push(at);
    this.held += costOf(key);
    while (this.held > this.maxBytes && this.head < this.keys.length - 1) this.dropOldest();
    this.compact();
  }

  /** Forget a key added by a write that did not happen. */
  remove(key: string): void {
    this.seqOf.delete(key);
  }

  /** Drop what the window no longer covers. */
  expire(now: number, windowMs: number): void {
    while (this.head < this.keys.length && this.ats[this.head] <= now - windowMs) this.dropOldest();
    this.compact();
  }

  get size(): number {
    return this.seqOf.size;
  }

  /** Estimated bytes held. */
  get bytes(): number {
    return this.held;
  }

  private dropOldest(): void {
    const key = this.keys[this.head];
    // A key added again since stays, under its later number.
    if (this.seqOf.get(key) === this.base + this.head) this.seqOf.delete(key);
    this.head++;
    this.held -= costOf(key);
  }

  private compact(): void {
    if (this.head > 1024 && this.head * 2 > this.keys.length) {
      this.keys = this.keys.slice(this.head);
      this.ats = this.ats.slice(this.head);
      this.base += this.head;
      this.head = 0;
    }
  }
}

/** UTF-16 code units take two bytes at most. */
function costOf(key: string): number {
  return ENTRY_BYTES + 2 * key.length;
}
