/**
 * The rate limit of one trigger of a partitioned broker, shared by all its partitions (one object per
 * broker and trigger uid). Partitions lease attempts from the current window in batches (a partition asks
 * when its own allowance runs out, at most a few times per window), so the limit costs requests per
 * window and partition, never per delivery. The window lives in memory only: no SQLite row is written per
 * lease. A restart of this object forgets the window it was in, so at most one window's count more can
 * start in that window (a limit of 10/s may start 20 in the second the object restarted).
 */
import { DurableObject } from "cloudflare:workers";
import { type Grant, type RateLimit, WindowQuota } from "../shared/delivery/rate-limit.ts";
import type { FlowLimiterRpc } from "../shared/contracts/sending.ts";

export class FlowLimiter extends DurableObject<Env> implements FlowLimiterRpc {
  private readonly quota = new WindowQuota();

  /** Up to `want` attempts of the current window for `partition`; the limit comes with every call. */
  take(partition: number, want: number, limit: RateLimit): Grant {
    return this.quota.take(partition, want, limit, Date.now());
  }
}
