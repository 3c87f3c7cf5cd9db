/**
 * Flow control per trigger, on the broker's side (API.md §8): a paused trigger starts nothing, and a rate
 * limit decides how many of a trigger's due deliveries the pump may start now. A broker of one partition
 * counts its windows itself; the partitions of a partitioned broker lease attempts from the trigger's
 * FlowLimiter object (durable-objects/flow-limiter.ts), keeping what a lease gave until its window ends.
 * When the limit holds deliveries back, a timer wakes the pump when the next attempts may start; the
 * broker's safety alarm covers a timer lost to an eviction.
 */
import { type RateLimit, WindowQuota, windowOf } from "../shared/delivery/rate-limit.ts";
import type { BrokerConfig, TriggerConfig } from "../shared/resources/eventing.ts";
import { stub } from "../clients/stubs.ts";
import { WakeTimer } from "./wake-timer.ts";

/** How long a partition waits before asking again after its limiter could not be reached. */
const UNREACHABLE_RETRY_MS = 1000;

interface TriggerFlow {
  uid: string;
  /** The window `left` belongs to. */
  window: number;
  /** Attempts leased for that window and not started yet. */
  left: number;
  /** A broker of one partition: its own count. */
  quota: WindowQuota;
  asking: boolean;
  /** No lease is asked for before this time (the limiter said when more can come). */
  askAfter: number;
  /** Due deliveries the limit held back at the last look. */
  held: number;
  timer: WakeTimer;
}

export class FlowControl {
  private readonly flows = new Map<string, TriggerFlow>();
  private readonly env: Env;
  private readonly wake: (trigger: string) => void;

  /** `wake(trigger)`: look at the trigger's due deliveries again (the pump). */
  constructor(env: Env, wake: (trigger: string) => void) {
    this.env = env;
    this.wake = wake;
  }

  /** Forget triggers that are gone or were re-created (a new uid is a new trigger). */
  configure(triggers: TriggerConfig[]): void {
    const keep = new Map(triggers.filter((t) => t.rateLimit).map((t) => [t.name, t.uid]));
    for (const [name, f] of this.flows) {
      if (keep.get(name) === f.uid) continue;
      f.timer.clear();
      this.flows.delete(name);
    }
  }

  /**
   * How many of `due` deliveries of the trigger may start now (retries and replays count like first
   * attempts). Holding some back arranges a wake-up for when more may start.
   */
  allow(config: BrokerConfig, t: TriggerConfig, due: number, now: number): number {
    const limit = t.rateLimit;
    if (!limit || due === 0) {
      const f = this.flows.get(t.name);
      if (f) f.held = 0;
      return due;
    }
    const f = this.flowOf(t);
    const w = windowOf(now, limit);
    if (f.window !== w) {
      f.window = w;
      f.left = 0;
    }
    let start = Math.min(f.left, due);
    f.left -= start;
    const partition = config.partition;
    if (start < due && (!partition || partition.count <= 1)) {
      const grant = f.quota.take(0, due - start, limit, now);
      start += grant.granted;
      if (grant.retryAt !== null) f.timer.wakeAt(grant.retryAt, now);
    } else if (start < due && !f.asking) {
      // Ask for at least this partition's share, so that a trickle of events leases once per window.
      if (now >= f.askAfter) void this.lease(config, t, limit, f, Math.max(due - start, Math.floor(limit.count / partition!.count)));
      else f.timer.wakeAt(f.askAfter, now);
    }
    f.held = due - start;
    return start;
  }

  /** Due deliveries the limit holds back, per trigger (those with any). */
  held(): Record<string, number> {
    return Object.fromEntries([...this.flows].filter(([, f]) => f.held > 0).map(([name, f]) => [name, f.held]));
  }

  private flowOf(t: TriggerConfig): TriggerFlow {
    let f = this.flows.get(t.name);
    if (!f || f.uid !== t.uid) {
      f?.timer.clear();
      f = { uid: t.uid, window: -1, left: 0, quota: new WindowQuota(), asking: false, askAfter: 0, held: 0, timer: new WakeTimer(() => this.wake(t.name)) };
      this.flows.set(t.name, f);
    }
    return f;
  }

  private async lease(config: BrokerConfig, t: TriggerConfig, limit: RateLimit, f: TriggerFlow, want: number): Promise<void> {
    f.asking = true;
    try {
      const grant = await stub(this.env, "LIMITER", `${config.namespace}/${config.name}/${t.uid}`).take(config.partition!.index, want, limit);
      if (grant.window > f.window) {
        f.window = grant.window;
        f.left = 0;
      }
      if (grant.window === f.window) f.left += grant.granted;
      f.askAfter = grant.retryAt ?? 0;
      if (grant.retryAt !== null) f.timer.wakeAt(grant.retryAt, Date.now());
    } catch (e) {
      console.log(JSON.stringify({ level: "warn", msg: "rate limiter not reachable", broker: `${config.namespace}/${config.name}`, trigger: t.name, error: (e as Error).message }));
      f.askAfter = Date.now() + UNREACHABLE_RETRY_MS;
      f.timer.wakeAt(f.askAfter, Date.now());
    } finally {
      f.asking = false;
    }
    // Start what was granted; with nothing granted the pump only sets the timer for askAfter again.
    this.wake(t.name);
  }
}
