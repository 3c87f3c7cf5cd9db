/**
 * The rate limit of one trigger of a partitioned broker, shared by all its partitions (one object per
 * broker and trigger uid): it keeps the limit's n tokens and leases them to partitions with their ready
 * times (shared/delivery/rate-limit.ts). A partition asks when it has deliveries waiting and no token it
 * can use or in use, giving back the ready tokens it held (those in use stay with it), so the limit costs
 * about a request per partition and period while a queue waits, never one per delivery. The tokens live in memory only: no SQLite row is written per lease.
 * A restart of this object forgets them, so in the period it restarted at most n more attempts can start
 * (a limit of 10/s may start 20 in the second after the restart).
 */
import { DurableObject } from "cloudflare:workers";
import { type GiveBack, type Lease, LeasePool, type RateLimit } from "../shared/delivery/rate-limit.ts";
import type { FlowLimiterRpc } from "../shared/contracts/sending.ts";

export class FlowLimiter extends DurableObject<Env> implements FlowLimiterRpc {
  private readonly pool = new LeasePool();

  /**
   * A lease of up to `want` tokens for `partition`, which gives back the lease it held (`giveBack`, null
   * when it held none) but for its tokens in use; `want` 0 only gives back. The limit comes with every call.
   */
  lease(partition: number, want: number, giveBack: GiveBack | null, limit: RateLimit): Lease {
    return this.pool.lease(partition, want, giveBack, limit, Date.now());
  }
}
