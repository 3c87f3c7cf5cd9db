/**
 * Tallies a Worker isolate keeps in memory and hands to the control plane at most once per FLUSH_MS, after
 * the response (waitUntil): a flood of requests costs the control plane one call per isolate per interval.
 * An isolate that dies mid-interval loses its last tallies, as a broker's counters may lose their last flush.
 */
import { waitUntil } from "cloudflare:workers";

export const FLUSH_MS = 1_000;

export function tally<T>(what: string, merge: (pending: Map<string, T>, key: string, value: T) => void, send: (batch: T[]) => Promise<void>): (key: string, value: T) => void {
  const pending = new Map<string, T>();
  let flushing: Promise<void> | null = null;
  let lastFlush = 0;
  async function flush(): Promise<void> {
    try {
      while (pending.size > 0) {
        const wait = lastFlush + FLUSH_MS - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        const batch = [...pending.values()];
        pending.clear();
        lastFlush = Date.now();
        try {
          await send(batch);
        } catch (e) {
          console.log(JSON.stringify({ level: "warn", msg: `${what} lost`, error: (e as Error).message }));
        }
      }
    } finally {
      flushing = null;
    }
  }
  return (key, value) => {
    merge(pending, key, value);
    flushing ??= flush();
    waitUntil(flushing);
  };
}
