/**
 * Counts that isolates hand to the control plane (refused ingress requests and Jobs created by JobSinks
 * for /metrics, refused management requests for the audit trail). Each isolate tallies in memory and flushes at most once per FLUSH_MS (after the response,
 * through waitUntil), so a flood costs the control plane one call per isolate per interval. An isolate
 * that dies mid-interval loses those counts, as a broker's counters may lose their last flush.
 */
import { waitUntil } from "cloudflare:workers";

export const FLUSH_MS = 1_000;

export class Tally<K extends readonly (string | number)[]> {
  readonly #pending = new Map<string, number>();
  #flushing: Promise<void> | null = null;
  #lastFlush = 0;
  readonly #flushTo: (batch: [...K, number][]) => Promise<void>;
  readonly #what: string;

  /** `flushTo` stores a batch of [...key, count]; `what` names the counts in the warning when one is lost. */
  constructor(flushTo: (batch: [...K, number][]) => Promise<void>, what: string) {
    this.#flushTo = flushTo;
    this.#what = what;
  }

  /** Keys waiting for the next flush (a caller bounds its memory by it). */
  get size(): number {
    return this.#pending.size;
  }

  add(key: K): void {
    const k = JSON.stringify(key);
    this.#pending.set(k, (this.#pending.get(k) ?? 0) + 1);
    this.#flushing ??= this.#flush();
    waitUntil(this.#flushing);
  }

  async #flush(): Promise<void> {
    try {
      while (this.#pending.size > 0) {
        const wait = this.#lastFlush + FLUSH_MS - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        const batch = [...this.#pending].map(([key, n]) => [...(JSON.parse(key) as K), n] as [...K, number]);
        this.#pending.clear();
        this.#lastFlush = Date.now();
        try {
          await this.#flushTo(batch);
        } catch (e) {
          console.log(JSON.stringify({ level: "warn", msg: `${this.#what} lost`, error: (e as Error).message }));
        }
      }
    } finally {
      this.#flushing = null;
    }
  }
}
