/**
 * Flow control per trigger, on the broker's side (API.md §8): a paused trigger starts nothing, and a rate
 * limit decides how many of a trigger's due deliveries the pump may start now: at most n in any sliding
 * period (shared/delivery/rate-limit.ts). A broker of one partition holds the limit's n tokens itself; the
 * partitions of a partitioned broker lease tokens from the trigger's FlowLimiter object
 * (durable-objects/flow-limiter.ts) and give them back, with the ready times their attempts gave them, when
 * they renew or go idle (tokens in use stay with them). When the limit holds deliveries back, a timer wakes
 * the pump when the next token is ready, at the ready time itself; the broker's safety alarm covers a
 * timer lost to an eviction.
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
  /** The tokens this partition holds: ready at a time, or in use by its attempts in flight. */
  tokens: Tokens;
  /** The lease they belong to, and its end (a broker of one partition owns them for good: 0, Infinity). */
  lease: number;
  until: number;
  asking: boolean;
  /** No lease is asked for before this time (the limiter said when more can come). */
  askAfter: number;
  /** Due deliveries the limit held back at the last look. */
  held: number;
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
    // While asking, the limiter's answer decides what the partition holds.
    if (f.asking) {
      f.held = due;
      return 0;
    }
    // A lease's tokens may not be used from its end on: the limiter has taken them back.
    if (now >= f.until) f.tokens.drop();
    const start = f.tokens.use(due, now);
    f.held = due - start;
    if (f.held === 0) return start;
    const next = f.tokens.nextAt();
    const usable = next !== null && next < f.until ? next : null;
    if (usable !== null) f.timer.wakeAt(usable, now);
    // With tokens in use and none usable, the attempts' ends make some ready (and wake the pump then).
    if (partitioned && usable === null && f.tokens.inUse === 0) {
      if (now >= f.askAfter) void this.lease(config, t.name, f, this.wantOf(config, f));
      else f.timer.wakeAt(f.askAfter, now);
    }
    return start;
  }

  /**
   * A rate-limited attempt ended: its token is ready a period from now, and the pump wakes then if the
   * limit holds deliveries back. Counting from the pump's `now`, or letting the token go while its attempt
   * is in flight, is not enough: an attempt may reach the subscriber well after the pump started it (an
   * output gate held by a slow commit delays every fetch, a subscriber may take requests late), and the
   * next on its token would then arrive less than a period after it.
   */
  ended(trigger: string, now: number): void {
    const f = this.flows.get(trigger);
    const at = f?.tokens.ended(now, f.limit.periodMs);
    if (f && at != null && f.held > 0 && at < f.until) f.timer.wakeAt(at, now);
  }

  /** Of the attempts the last `allow` gave, `count` did not start (an ordered lane's key was busy). */
  unused(trigger: string, count: number, now: number): void {
    const f = this.flows.get(trigger);
    if (!f || count <= 0) return;
    f.tokens.unuse(count, now);
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
      // Attempts in flight on the old tokens still end: they release none of the new ones.
      const tokens = f?.uid === t.uid ? f.tokens : new Tokens();
      tokens.drop();
      if (!partitioned) tokens.add([[now, limit.count]]);
      f = {
        uid: t.uid,
        limit,
        tokens,
        lease: 0,
        until: partitioned ? 0 : Infinity,
        asking: false,
        askAfter: 0,
        held: 0,
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

  /**
   * Give back the ready tokens held (with their ready times) and lease up to `want` more (0: only give
   * back); those in use stay, and their attempts' ends make them ready while the request is out.
   */
  private async lease(config: BrokerConfig, name: string, f: TriggerFlow, want: number): Promise<void> {
    f.asking = true;
    const giveBack = f.lease > 0 && Date.now() < f.until ? { id: f.lease, tokens: f.tokens.takeAll(), inUse: f.tokens.inUse } : null;
    if (!giveBack) f.tokens.drop();
    try {
      const lease: Lease = await stub(this.env, "LIMITER", `${config.namespace}/${config.name}/${f.uid}`).lease(
        config.partition!.index,
        want,
        giveBack,
        f.limit,
      );
      if (this.flows.get(name) !== f) return;
      // The tokens in use when it asked (ready by now or still in use) stay if the limiter kept them.
      if (lease.kept === 0) f.tokens.drop();
      f.tokens.add(lease.tokens);
      f.lease = f.tokens.size + f.tokens.inUse > 0 ? lease.id : 0;
      f.until = lease.until;
      f.askAfter = lease.retryAt ?? 0;
      if (lease.retryAt !== null) f.timer.wakeAt(lease.retryAt, Date.now());
      // Renew before the lease ends, or give it back then if nothing waits.
      if (f.lease > 0) this.renewAt(config, name, f);
    } catch (e) {
      if (this.flows.get(name) !== f) return;
      console.log(
        JSON.stringify({
          level: "warn",
          msg: "rate limiter not reachable",
          broker: `${config.namespace}/${config.name}`,
          trigger: name,
          error: (e as Error).message,
        }),
      );
      // What it held went with the request (the limiter may have taken it back): the limit fails closed.
      f.tokens.drop();
      f.lease = 0;
      f.askAfter = Date.now() + UNREACHABLE_RETRY_MS;
      f.timer.wakeAt(f.askAfter, Date.now());
    } finally {
      f.asking = false;
    }
    // Start what was leased (deliveries may have come while it asked); with nothing leased the pump only
    // sets the timer for askAfter again.
    if (f.held > 0) this.wake(name);
  }

  /** Near the lease's end: renewed while deliveries are held back, else given back to the limiter (but for tokens in use). */
  private renewAt(config: BrokerConfig, name: string, f: TriggerFlow): void {
    const lease = f.lease;
    setTimeout(
      () => {
        if (this.flows.get(name) !== f || f.lease !== lease || f.asking) return;
        void this.lease(config, name, f, f.held > 0 ? this.wantOf(config, f) : 0);
      },
      Math.max(0, f.until - RENEW_BEFORE_MS - Date.now()),
    );
  }
}
