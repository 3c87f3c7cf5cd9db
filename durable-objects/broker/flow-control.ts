/**
 * Flow control per trigger, on the broker's side (API.md §8): a paused trigger starts nothing, and a rate
 * limit decides how many of a trigger's due deliveries the pump may start now: at most n in any sliding
 * period (shared/delivery/rate-limit.ts). A broker of one partition holds the limit's n tokens itself; the
 * partitions of a partitioned broker lease tokens from the trigger's FlowLimiter object
 * (durable-objects/flow-limiter.ts) and give them back, with the ready times their starts gave them, when
 * they need others or go idle. When the limit holds deliveries back, a timer wakes the pump when the next
 * token is ready; the broker's safety alarm covers a timer lost to an eviction.
 */
import { type Lease, type RateLimit, sameLimit, Tokens } from "../../shared/delivery/rate-limit.ts";
import type { BrokerConfig, TriggerConfig } from "../../shared/resources/eventing.ts";
import { stub } from "../../clients/stubs.ts";
import { WakeTimer } from "./wake-timer.ts";

/** How long a partition waits before asking again after its limiter could not be reached. */
const UNREACHABLE_RETRY_MS = 1000;
/** A lease is renewed (or given back) this long before it ends, so the limiter has it back in time. */
const RENEW_BEFORE_MS = 100;

interface TriggerFlow {
  uid: string;
  limit: RateLimit;
  /** The tokens this partition may use, each with the time it is ready. */
  tokens: Tokens;
  /** The lease they belong to, and its end (a broker of one partition owns them for good: 0, Infinity). */
  lease: number;
  until: number;
  asking: boolean;
  /** No lease is asked for before this time (the limiter said when more can come). */
  askAfter: number;
  /** Due deliveries the limit held back at the last look. */
  held: number;
  /** Attempts started and not ended: a lease is given back only without any, so every token goes back with its true ready time. */
  inflight: number;
  /** The lease's end came while attempts were in flight: renew or give it back when the last ends. */
  renewWhenIdle: boolean;
  /** The broker's configuration at the last look (a partition's index and count). */
  config: BrokerConfig;
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

  /** Forget triggers that are gone, re-created (a new uid is a new trigger) or no longer limited. */
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
   * attempts); those it allows use a token each. Holding some back arranges a wake-up for when more may start.
   */
  allow(config: BrokerConfig, t: TriggerConfig, due: number, now: number): number {
    const limit = t.rateLimit;
    if (!limit || due === 0) {
      const f = this.flows.get(t.name);
      if (f) f.held = 0;
      return due;
    }
    const partitioned = (config.partition?.count ?? 1) > 1;
    const f = this.flowOf(config, t, limit, partitioned, now);
    f.config = config;
    // A lease's tokens may not be used from its end on: the limiter has taken them back.
    if (now >= f.until) f.tokens = new Tokens();
    const start = f.tokens.use(due, now, limit.periodMs);
    f.inflight += start;
    f.held = due - start;
    if (f.held === 0) return start;
    const next = f.tokens.nextAt();
    const usable = next !== null && next < f.until ? next : null;
    if (usable !== null) f.timer.wakeAt(usable, now);
    if (partitioned && (usable === null || now >= f.until - RENEW_BEFORE_MS)) {
      // With attempts in flight the pump asks again when they end (their tokens' ready times are known then).
      if (f.asking || f.inflight > 0) return start;
      if (now >= f.askAfter) void this.lease(config, t.name, f, this.wantOf(config, f));
      else f.timer.wakeAt(f.askAfter, now);
    }
    return start;
  }

  /**
   * A rate-limited attempt ended: its token counts from now. Counting from the pump's `now` is not enough:
   * an attempt may leave well after it (the first pump after a resume builds a queue of thousands first,
   * 70-200 ms here), and two on one token would then reach the subscriber less than a period apart.
   */
  ended(trigger: string, now: number): void {
    const f = this.flows.get(trigger);
    if (!f) return;
    f.tokens.ended(now, f.limit.periodMs);
    f.inflight = Math.max(0, f.inflight - 1);
    if (f.inflight === 0 && f.renewWhenIdle) {
      f.renewWhenIdle = false;
      void this.lease(f.config, trigger, f, f.held > 0 ? this.wantOf(f.config, f) : 0);
    }
  }

  /** Of the attempts the last `allow` gave, `count` did not start (an ordered lane's key was busy). */
  unused(trigger: string, count: number, now: number): void {
    const f = this.flows.get(trigger);
    if (!f || count <= 0) return;
    f.tokens.unuse(count, now, f.limit.periodMs);
    f.inflight = Math.max(0, f.inflight - count);
  }

  /** Due deliveries the limit holds back, per trigger (those with any). */
  held(): Record<string, number> {
    return Object.fromEntries([...this.flows].filter(([, f]) => f.held > 0).map(([name, f]) => [name, f.held]));
  }

  private flowOf(config: BrokerConfig, t: TriggerConfig, limit: RateLimit, partitioned: boolean, now: number): TriggerFlow {
    let f = this.flows.get(t.name);
    if (!f || f.uid !== t.uid || !sameLimit(f.limit, limit) || partitioned !== (f.until !== Infinity)) {
      f?.timer.clear();
      // A broker of one partition owns all n tokens, ready now; a partition starts with none and leases them.
      const tokens = new Tokens(partitioned ? [] : [[now, limit.count]]);
      f = {
        uid: t.uid,
        limit,
        tokens,
        lease: 0,
        until: partitioned ? 0 : Infinity,
        asking: false,
        askAfter: 0,
        held: 0,
        inflight: 0,
        renewWhenIdle: false,
        config,
        timer: new WakeTimer(() => this.wake(t.name)),
      };
      this.flows.set(t.name, f);
    }
    return f;
  }

  /** At least this partition's share, so that a trickle of events leases once per lease. */
  private wantOf(config: BrokerConfig, f: TriggerFlow): number {
    return Math.max(f.held, Math.floor(f.limit.count / config.partition!.count));
  }

  /** Give back the tokens held (with their ready times) and lease up to `want` (0: only give back). */
  private async lease(config: BrokerConfig, name: string, f: TriggerFlow, want: number): Promise<void> {
    f.asking = true;
    const giveBack = f.lease > 0 && Date.now() < f.until ? { id: f.lease, tokens: f.tokens.takeAll() } : null;
    f.tokens = new Tokens();
    try {
      const lease: Lease = await stub(this.env, "LIMITER", `${config.namespace}/${config.name}/${f.uid}`).lease(
        config.partition!.index,
        want,
        giveBack,
        f.limit,
      );
      if (this.flows.get(name) !== f) return;
      f.tokens = new Tokens(lease.tokens);
      f.lease = lease.tokens.length > 0 ? lease.id : 0;
      f.until = lease.until;
      f.askAfter = lease.retryAt ?? 0;
      if (lease.retryAt !== null) f.timer.wakeAt(lease.retryAt, Date.now());
      // Renew before the lease ends, or give it back then if nothing waits.
      if (f.lease > 0) this.renewAt(config, name, f);
    } catch (e) {
      console.log(
        JSON.stringify({
          level: "warn",
          msg: "rate limiter not reachable",
          broker: `${config.namespace}/${config.name}`,
          trigger: name,
          error: (e as Error).message,
        }),
      );
      f.askAfter = Date.now() + UNREACHABLE_RETRY_MS;
      f.timer.wakeAt(f.askAfter, Date.now());
    } finally {
      f.asking = false;
    }
    // Start what was leased; with nothing leased the pump only sets the timer for askAfter again.
    if (want > 0) this.wake(name);
  }

  /**
   * Near the lease's end: renewed while deliveries are held back, else given back to the limiter; with
   * attempts in flight, when the last of them ends.
   */
  private renewAt(config: BrokerConfig, name: string, f: TriggerFlow): void {
    const lease = f.lease;
    setTimeout(
      () => {
        if (this.flows.get(name) !== f || f.lease !== lease || f.asking) return;
        if (f.inflight > 0) f.renewWhenIdle = true;
        else void this.lease(config, name, f, f.held > 0 ? this.wantOf(config, f) : 0);
      },
      Math.max(0, f.until - RENEW_BEFORE_MS - Date.now()),
    );
  }
}
