/**
 * How many deliveries a replay may have in flight per trigger in a broker partition, adapted to the
 * latency of the partition's live deliveries (additive increase, multiplicative decrease, as TCP's window).
 *
 * Why: a partition is one thread. A replay's completions queue on it like any work, and a live event
 * (its ingest, its delivery, its completion) waits behind every replay completion queued ahead of it, so
 * the replay's in-flight count is the queue it may put in front of live traffic. Past what keeps the
 * thread busy, more in flight adds that queue and no throughput; against a slow subscriber it is what
 * throughput needs. So the replay's in-flight limit follows the live events' latency, the figure it hurts:
 * - Live deliveries as fast as usual (within RATIO of their trigger's floor, +SLACK_MS for the clock's
 *   milliseconds): one more in flight per live delivery. RATIO is issue 27's goal (live p99 within 1.5x
 *   of idle) applied to each delivery against the fastest one, which is stricter than the goal.
 * - A live delivery slower than that: half as many, at most once per generation (only a live event that
 *   arrived after the last decrease can show that one was not enough, as TCP halves once per round trip).
 * - Live traffic that starts again after QUIET_MS without any: the limit drops to 1 at once (the queue
 *   was grown for nobody; the first live events must not wait for it to be halved away), and grows back
 *   one per live delivery that stays fast (and that a replay completion preceded: a limit raised while
 *   no replay used it would only be a queue waiting for the next one).
 * - No live delivery for QUIET_MS: the broker is idle for live traffic and the replay runs at full speed
 *   (the limit doubles per window of replay completions, up to the caller's maximum).
 * The floor of a trigger is its fastest recent live delivery, drifting up slowly (FLOOR_DRIFT) so that a
 * subscriber that became slower for good does not hold the replay at 1 forever (LEDBAT's base delay,
 * RFC 6817, the same idea for background transfers that yield to foreground traffic). A live delivery's
 * latency is measured from its event's arrival in the log to its end, so it includes the subscriber's
 * time: a subscriber slower than usual for its own reasons also holds the replay back (live first).
 */

/** Live deliveries up to this multiple of their floor (plus SLACK_MS) count as unhurt. */
export const RATIO = 1.5;
export const SLACK_MS = 2;
/** This long without a live delivery, the partition is idle for live traffic. */
export const QUIET_MS = 1_000;
/** A slower sample moves the floor up by 1/FLOOR_DRIFT of the difference. */
const FLOOR_DRIFT = 64;

export class ReplayBudget {
  /** The limit (fractional after a cut: `limit` rounds it down). */
  private window = 1;
  /** When the last live delivery ended (-Infinity: none yet). */
  private lastLive = -Infinity;
  /** When the limit was last cut: live events that arrived before then ran under the old limit. */
  private cutAt = -Infinity;
  /**
   * A replay delivery ended since the last live one: the limit was in use. Only then does a fast live
   * delivery raise it (a limit nobody used proves nothing, and would be a queue for the next replay).
   */
  private used = false;
  /** Each trigger's fastest recent live delivery (ms from arrival to its end). */
  private readonly floors = new Map<string, number>();

  /** Replay deliveries a trigger may have in flight, within 1 to `max`. */
  limit(max: number): number {
    return Math.max(1, Math.min(max, Math.floor(this.window)));
  }

  /** A live event's first delivery to `trigger` ended at `now`; it arrived at `arrivedAt`. */
  live(trigger: string, arrivedAt: number, now: number): void {
    const ms = now - arrivedAt;
    const before = this.floors.get(trigger);
    const floor = before === undefined || ms < before ? ms : before + (ms - before) / FLOOR_DRIFT;
    this.floors.set(trigger, floor);
    const quiet = now - this.lastLive >= QUIET_MS;
    this.lastLive = now;
    const used = this.used;
    this.used = false;
    if (quiet) this.cut(now, 1);
    else if (ms > floor * RATIO + SLACK_MS) {
      if (arrivedAt >= this.cutAt) this.cut(now, this.window / 2);
    } else if (used) this.window += 1;
  }

  /** A replay delivery ended at `now`, its trigger's maximum being `max`: when live traffic is quiet, the replay speeds up. */
  replayed(max: number, now: number): void {
    this.used = true;
    if (now - this.lastLive >= QUIET_MS) this.window = Math.min(max, this.window + 1);
    else this.window = Math.min(this.window, max);
  }

  private cut(now: number, to: number): void {
    this.window = Math.max(1, to);
    this.cutAt = now;
  }
}
