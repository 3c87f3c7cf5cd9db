/**
 * Requests an EventPolicy refused: logged, and counted per broker and status for /metrics. Each isolate
 * tallies in memory and hands its counts to the control plane at most once per FLUSH_MS (after the
 * response, through waitUntil), so a flood of refused requests costs the control plane one call per
 * isolate per interval. An isolate that dies mid-interval loses those counts, as a broker's counters may
 * lose their last flush.
 */
import { env, waitUntil } from "cloudflare:workers";
import type { IngestTarget, PolicyRefusal } from "../shared/contracts/ingest.ts";
import { control } from "./stubs.ts";

export const FLUSH_MS = 1_000;

const pending = new Map<string, number>();
let flushing: Promise<void> | null = null;
let lastFlush = 0;

/** Log and count a refusal; returns it. */
export function countRefusal(broker: IngestTarget, refusal: PolicyRefusal): PolicyRefusal {
  console.log(JSON.stringify({ level: "warn", msg: "ingress refused by EventPolicy", broker: `${broker.namespace}/${broker.name}`, status: refusal.status, reason: refusal.reason }));
  const key = JSON.stringify([broker.namespace, broker.name, refusal.status]);
  pending.set(key, (pending.get(key) ?? 0) + 1);
  flushing ??= flush();
  waitUntil(flushing);
  return refusal;
}

async function flush(): Promise<void> {
  try {
    while (pending.size > 0) {
      const wait = lastFlush + FLUSH_MS - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const batch = [...pending].map(([key, n]) => [...(JSON.parse(key) as [string, string, number]), n] as [string, string, number, number]);
      pending.clear();
      lastFlush = Date.now();
      try {
        await control(env as Env).countRefusals(batch);
      } catch (e) {
        console.log(JSON.stringify({ level: "warn", msg: "refusal counts lost", error: (e as Error).message }));
      }
    }
  } finally {
    flushing = null;
  }
}
