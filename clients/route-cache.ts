/**
 * The routing table as an isolate keeps it, shared by the isolates of one location through the Cache API.
 * Before, every isolate asked the one ControlPlane object at least every 30 s and on misses (10,000
 * isolates: about 330 requests a second to one object). Now a location asks about once every 15 s for the
 * table, whatever its isolate count, and about once a second for misses (each isolate still waits for its
 * refresh slot, and takes the answer another isolate got after it asked).
 *
 * A cached table carries the time the control plane served it, and an isolate that adopts it ages it from
 * then, so a change still reaches every isolate within MAX_AGE_MS of the control plane having it, as
 * before. A change made through an isolate drops its own table and its location's, so its next request
 * sees it. Where the Cache API keeps nothing (a workers.dev host), every isolate asks the control plane,
 * as it did without it.
 */
import type { RoutingTable } from "../shared/contracts/routing.ts";
import { control } from "./stubs.ts";

/** Least time between two refreshes of one isolate's table. */
export const REFRESH_INTERVAL_MS = 1000;
/** A hit older than this refreshes too, so deletions and growth reach every isolate without a miss. */
const MAX_AGE_MS = 30_000;
/** A key no request can reach: the cache is keyed by URL, and this host is never routed to the Worker. */
const KEY = "https://routes.edge-eventing.internal/table";

interface Served {
  table: RoutingTable;
  /** When the control plane served it (epoch ms). */
  at: number;
}

export class IsolateRoutes {
  private table: RoutingTable | null = null;
  private fetchedAt = 0;
  private pending: Promise<RoutingTable> | null = null;
  /** Bumped by every refresh and by forget, so a refresh that a forget overtook changes nothing. */
  private generations = 0;
  /** The last forget: a shared table served before it may not know this isolate's change. */
  private forgottenAt = 0;

  async lookup<T>(env: Env, pick: (t: RoutingTable) => T | undefined): Promise<T | null> {
    // A new isolate, or a table past its age: the location's table does while it is younger than half the
    // age (so a location asks about every 15 s), and newer than this isolate's own.
    if (!this.table || Date.now() - this.fetchedAt >= MAX_AGE_MS) await this.adopt(Math.max(this.fetchedAt, this.forgottenAt, Date.now() - MAX_AGE_MS / 2));
    const hit = this.table && pick(this.table);
    if (hit && Date.now() - this.fetchedAt < MAX_AGE_MS) return hit;
    return pick(await this.refresh(env)) ?? null;
  }

  /**
   * A table fetched no earlier than the next refresh slot: concurrent callers share one fetch, and a
   * fetch starts at most once per REFRESH_INTERVAL_MS. One another isolate of the location got after this
   * refresh was asked for is as fresh, and is taken instead.
   */
  refresh(env: Env): Promise<RoutingTable> {
    if (this.pending) return this.pending;
    const generation = ++this.generations;
    this.pending = (async () => {
      const asked = Date.now();
      const wait = this.fetchedAt + REFRESH_INTERVAL_MS - asked;
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      let served = await shared(Math.max(asked, this.forgottenAt));
      try {
        if (!served) {
          served = { table: await control(env).routes(), at: Date.now() };
          await share(served);
        }
        if (generation === this.generations) this.table = served.table;
        return served.table;
      } finally {
        if (generation === this.generations) {
          this.fetchedAt = served?.at ?? Date.now();
          this.pending = null;
        }
      }
    })();
    return this.pending;
  }

  forget(): Promise<void> {
    this.table = null;
    this.fetchedAt = 0;
    this.pending = null;
    this.generations++;
    this.forgottenAt = Date.now();
    return caches.default.delete(KEY).then(
      () => {},
      () => {},
    );
  }

  private async adopt(notBefore: number): Promise<void> {
    const generation = this.generations;
    const served = await shared(notBefore);
    if (served && generation === this.generations) {
      this.table = served.table;
      this.fetchedAt = served.at;
    }
  }
}

/** The location's table when one is cached that the control plane served after `notBefore`; else null. */
async function shared(notBefore: number): Promise<Served | null> {
  try {
    const hit = await caches.default.match(KEY);
    const served = hit ? ((await hit.json()) as Served) : null;
    return served && served.at > notBefore ? served : null;
  } catch {
    return null;
  }
}

/** Kept for the table's whole age at most: no isolate adopts it older than that. */
async function share(served: Served): Promise<void> {
  const headers = { "content-type": "application/json", "cache-control": `max-age=${MAX_AGE_MS / 1000}` };
  await caches.default.put(KEY, new Response(JSON.stringify(served), { headers })).catch(() => {});
}
