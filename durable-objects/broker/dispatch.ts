/**
 * A broker partition's dispatch: the pump that starts due deliveries (the rows of `deliveries` first,
 * then each trigger's lane) up to every trigger's parallelism and rate limit, the attempt through the
 * DeliverySender (broker/sender.ts), replies, and settling each outcome as `decide` says (done, retry,
 * dead-letter sink, kept as failed). The alarm always covers the earliest due row, so nothing depends on
 * memory surviving an eviction or a deploy.
 */
import type { CloudEvent } from "../../shared/cloudevents/event.ts";
import { decodeStructured, encodeStructured } from "../../shared/cloudevents/index.ts";
import type { IngestResult } from "../../shared/contracts/ingest.ts";
import { decide, describeBody, type Outcome, type Verdict } from "../../shared/delivery/outcome.ts";
import { childTraceparent } from "../../shared/delivery/trace.ts";
import { partitionOf } from "../../shared/partitions.ts";
import type { CounterName } from "../../shared/resources/broker-api.ts";
import { ingestInto } from "../../clients/ingest.ts";
import { queuedAtEarlierOwner } from "../../clients/partitions.ts";
import { DeliverySender } from "./sender.ts";
import type { BrokerState, Trigger } from "./state.ts";
import type { History } from "./history.ts";
import { type DeliveryRow, liveFirst, type NextAttempt } from "./delivery-rows.ts";
import { FlowControl } from "./flow-control.ts";
import { ActivatorGates } from "./activator-gates.ts";

/**
 * When due rows wait only for free parallelism, completions drive dispatch; the alarm is a safety net.
 * It is also what brings back a lane's events after a crash (below): the longest they wait for it then.
 */
export const SAFETY_WAKE_MS = 30_000;
/** How long a key that moved here by a growth waits before asking its earlier partition again. */
const ORDER_HOLD_MS = 500;

export class BrokerDispatch {
  readonly deliverySender: DeliverySender;
  /** Pause and rate limit per trigger (flow-control.ts); its wake-ups pump the trigger. */
  readonly flow: FlowControl;
  /** Triggers a ScaledObject scales from wait for its target (activator-gates.ts); its wake-ups pump the trigger. */
  readonly gates: ActivatorGates;
  /**
   * Delivery ids in flight per trigger: the lease, in memory only. A restart has nothing in flight (the
   * runtime runs one instance of an object), so every stored row is due again then; no row is written to
   * take or release a lease.
   */
  private readonly leased = new Map<string, Set<number>>();
  /** Triggers that got new events or a free slot since the last pump: only they need a look. */
  private readonly touched = new Set<string>();
  /**
   * The alarm time this object set last and that has not fired yet. setAlarm is a storage write on every
   * ingest and settle otherwise; an alarm that comes earlier than needed only pumps once more.
   */
  private armedAt: number | null = null;
  /** Logged events as sent to subscribers (`outgoing`), by logged event. Weak: they go with the log's segments. */
  private readonly sent = new WeakMap<CloudEvent, CloudEvent>();
  /** Ordered (trigger, key) pairs whose earlier partition had nothing queued any more (heldForOrder). */
  private readonly drained = new Set<string>();

  private readonly state: BrokerState;
  private readonly history: History;
  private readonly store: (events: CloudEvent[], headers: Record<string, string>) => Promise<IngestResult>;

  /** `store(events, headers)`: this partition's own ingest, for the replies it keeps. */
  constructor(state: BrokerState, history: History, store: (events: CloudEvent[], headers: Record<string, string>) => Promise<IngestResult>) {
    this.state = state;
    this.history = history;
    this.store = store;
    this.deliverySender = new DeliverySender(state.env);
    const wake = (name: string) => {
      this.touch(name);
      state.ctx.waitUntil(this.pump("touched"));
    };
    this.flow = new FlowControl(state.env, wake);
    this.gates = new ActivatorGates(state.env, wake);
  }

  /** The trigger got events or a free slot: the next `pump("touched")` looks at it. */
  touch(trigger: string): void {
    this.touched.add(trigger);
  }

  /** The alarm fired or the configuration changed: arm again whatever was armed. */
  rearm(): void {
    this.armedAt = null;
  }

  /** Deliveries of a trigger in flight: rows leased, lane events started, replay deliveries started. */
  inflight(trigger: string): number {
    return (this.leased.get(trigger)?.size ?? 0) + (this.state.store.lanes.get(trigger)?.inflight ?? 0) + this.history.inflight(trigger);
  }

  /** Whether this partition has queued deliveries of `pkey` for an ordered trigger. */
  queued(trigger: string, pkey: string): boolean {
    return !!this.state.store.lanes.get(trigger)?.holds(pkey) || this.state.store.rows.hasKey(trigger, pkey);
  }

  /** Queue a delivery as a row (a redelivery's, one held for order). */
  enqueue(pos: number, trigger: string, pkey: string | null, now: number): void {
    this.state.store.rows.add(pos, trigger, pkey, { phase: "subscriber", attempt: 0, error: null, nextAt: now });
  }

  /**
   * Queue a kept dead letter to its trigger again, from the first attempt: logged anew, delivered through a
   * row. False when it is gone, or its trigger is.
   */
  redeliver(id: number): boolean {
    const { store } = this.state;
    const row = store.dead.get(id);
    if (!row || !this.state.triggers.has(row.trigger)) return false;
    const now = Date.now();
    store.transaction(() => {
      const event = decodeStructured(row.body, false) as CloudEvent;
      const [pos] = store.log.append(
        [{ event, body: row.body, meta: { s: String(event.attributes.source), i: String(event.attributes.id), m: [row.trigger], q: 1 } }],
        now,
      );
      this.enqueue(pos, row.trigger, this.state.keyOf(row.trigger, event), now);
      store.dead.remove(id);
    });
    store.appended(now, this.state.config);
    return true;
  }

  /**
   * Start every due delivery there is room for, then arm the alarm for the next one: due rows first (they
   * are older than anything in the lane), then the lane, then a replay's rows, then the replays' lanes
   * (history.ts). `only: "touched"` looks at just the triggers that
   * got new events or freed a slot (ingest and completions: the hot path); the alarm and configuration
   * changes look at all.
   */
  async pump(only?: "touched"): Promise<void> {
    const { store, triggers } = this.state;
    const now = Date.now();
    for (const name of this.history.refill()) this.touch(name);
    const look = only ? [...this.touched].map((name) => triggers.get(name)).filter((t) => t !== undefined) : [...triggers.values()];
    this.touched.clear();
    for (const t of look) {
      // Flow control: a paused trigger starts nothing (its queue keeps filling within the backlog limit).
      if (t.config.paused) continue;
      const name = t.config.name;
      const leased = this.leased.get(name) ?? new Set<number>();
      this.leased.set(name, leased);
      const lane = store.lanes.get(name);
      const free = t.config.parallelism - this.inflight(name);
      if (free <= 0) continue;
      // Live first: retries and live events start before a replay's deliveries (an ordered trigger keeps
      // its rows' order instead), so a replay takes only what live traffic leaves of the parallelism.
      const { first, later } = liveFirst(store.rows.due(name, t.config.ordered, now, leased, free), t.config.ordered);
      const fromLane = Math.min(lane?.waiting ?? 0, free - first.length);
      const fromRows = first.length + fromLane + Math.min(later.length, free - first.length - fromLane);
      const want = fromRows + Math.min(this.history.room(name), free - fromRows);
      // The activator: a gated trigger's deliveries wait for a ready replica and within the target's capacity.
      const gated = this.gates.allow(this.state.config!, t.config, this.inflight(name), want, first.length + later.length + (lane?.waiting ?? 0), now);
      // Flow control: the rate limit says how many of the due rows and lane events start now (it wakes the
      // pump for the rest). An ordered lane may start fewer than it was granted: the rest goes back.
      let allowed = this.flow.allow(this.state.config!, t.config, gated, now);
      const startRows = (rows: DeliveryRow[]) => {
        for (const row of rows.slice(0, allowed)) {
          leased.add(row.id!);
          allowed--;
          this.state.ctx.waitUntil(this.deliver(row, t));
        }
      };
      startRows(first);
      if (allowed > 0 && lane?.waiting) {
        // A key with rows queued goes behind them, as a row too (its order is theirs); so does a key that may
        // still be queued at its earlier partition after a growth (the row's delivery asks).
        const { start, held } = lane.take(
          Math.min(allowed, fromLane),
          t.config.ordered,
          (key) => store.rows.hasKey(name, key) || this.mayBeQueuedEarlier(t, key),
        );
        if (held.length > 0)
          store.transaction(() => {
            for (const e of held) this.enqueue(e.pos, name, e.key, now);
          });
        for (const e of start)
          this.state.ctx.waitUntil(
            this.deliver({ id: null, event_seq: e.pos, trigger: name, pkey: e.key, phase: "subscriber", attempt: 0, error: null, replay: null }, t),
          );
        allowed -= start.length;
      }
      startRows(later);
      // What live work and retries left goes to the replays' lanes: no row unless a first attempt fails.
      if (allowed > 0)
        for (const e of this.history.take(name, allowed, t.config.ordered, (key) => this.queued(name, key))) {
          allowed--;
          this.state.ctx.waitUntil(
            this.deliver({ id: null, event_seq: e.pos, trigger: name, pkey: e.key, phase: "subscriber", attempt: 0, error: null, replay: e.replay }, t),
          );
        }
      this.flow.unused(name, allowed, now);
    }
    await this.arm();
  }

  /**
   * Wake at the earliest future due time, and for the log's expiry and running replays. Rows and lane
   * events already due but not started wait for free parallelism or their partition's head, which
   * completions release; for them the alarm is a safety net. So are a lane's events in flight: they are
   * in memory only, and after a crash the lane is rebuilt from the log above its stored cursor, where
   * nothing but this alarm starts them if no request comes (the stored alarm is otherwise the log's
   * expiry, a retention period away).
   */
  private async arm(): Promise<void> {
    const { store, triggers } = this.state;
    const now = Date.now();
    // Paused triggers have nothing to wake for.
    const running = [...triggers.values()].filter((t) => !t.config.paused).map((t) => t.config.name);
    const row = store.rows.schedule(running, now);
    const waiting =
      row.waiting ||
      running.some((name) => {
        const lane = store.lanes.get(name);
        return !!lane && lane.waiting + lane.inflight > 0;
      });
    const at = Math.min(row.future ?? Infinity, waiting ? now + SAFETY_WAKE_MS : Infinity, store.expiryAt(now), this.history.wakeAt(now));
    if (at === Infinity || (this.armedAt !== null && this.armedAt <= at)) return;
    this.armedAt = at;
    await this.state.ctx.storage.setAlarm(at);
  }

  private async deliver(row: DeliveryRow, t: Trigger): Promise<void> {
    const { store } = this.state;
    const name = t.config.name;
    if (row.id !== null && (await this.heldForOrder(row, t))) {
      store.rows.postpone(row.id, Date.now() + ORDER_HOLD_MS);
      this.leased.get(name)?.delete(row.id);
      this.flow.ended(name, Date.now());
      return this.arm();
    }
    let outcome: Outcome;
    const started = Date.now();
    try {
      outcome = await this.attempt(row, t);
    } catch (e) {
      outcome = { ok: false, status: null, body: `dispatch error: ${(e as Error).message}`, retryAfterMs: null };
    }
    // The rate limit's token is in use until now, whatever settling does.
    this.flow.ended(name, Date.now());
    this.settle(row, t, outcome, started);
    if (row.id !== null) this.leased.get(name)?.delete(row.id);
    else if (row.replay === null) {
      store.lanes.get(name)?.settle(row.event_seq);
      store.lanes.moved();
    }
    this.touch(name);
    await this.pump("touched");
  }

  /**
   * Per-key order across a growth of the broker: a key that moved here waits, on an ordered trigger, until
   * its earlier partition has no queued event of it left. Once drained it stays drained (that partition
   * refuses the key's new events), so each key is asked about until then only.
   */
  private async heldForOrder(row: DeliveryRow, t: Trigger): Promise<boolean> {
    const key = `${t.config.name}\u0000${row.pkey}`;
    // A row queued while the trigger was unordered (pkey NULL) has no key to hold.
    if (row.pkey === null || !this.mayBeQueuedEarlier(t, row.pkey)) return false;
    try {
      if (await queuedAtEarlierOwner(this.state.env, this.state.config!, t.config.name, String(row.pkey))) return true;
    } catch {
      return true; // not known: ask again after the hold
    }
    this.drained.add(key);
    return false;
  }

  /** An ordered trigger's key that an earlier partition (before a growth) may still hold events of. */
  private mayBeQueuedEarlier(t: Trigger, pkey: string): boolean {
    return t.config.ordered && !!this.state.config?.partition?.previous.length && !this.drained.has(`${t.config.name}\u0000${pkey}`);
  }

  private async attempt(row: DeliveryRow, t: Trigger): Promise<Outcome> {
    const logged = this.state.store.log.read(row.event_seq);
    if (!logged) return { ok: false, status: null, body: `the event at log position ${row.event_seq} is no longer stored`, retryAfterMs: null };
    const { event } = logged;
    const forwarded: Record<string, string> = { ...logged.meta.h };
    forwarded.traceparent = childTraceparent(forwarded.traceparent);
    const toSubscriber = row.phase === "subscriber";
    const target = toSubscriber ? t.config.subscriber : t.deadLetter!;
    const ttl = event.attributes.knativebrokerttl;
    const sent = await this.deliverySender.sendTo(target, this.outgoing(event, row), ttl, t, toSubscriber, forwarded);
    return "reply" in sent ? (toSubscriber ? this.reply(sent.reply, ttl, forwarded, t) : { ok: true }) : sent;
  }

  /**
   * The event as a delivery sends it: without its TTL; to a dead-letter sink with the failure's extensions;
   * replayed, with one extension naming the Replay (API.md §6). A first delivery to a subscriber sends the
   * same object for every trigger, so that the sender encodes it once (DeliverySender.encoding).
   */
  private outgoing(event: CloudEvent, row: DeliveryRow): CloudEvent {
    const plain = row.phase === "subscriber" && !row.replay;
    const shared = plain ? this.sent.get(event) : undefined;
    if (shared) return shared;
    const { knativebrokerttl: _ttl, ...rest } = event.attributes;
    const attributes = row.phase === "subscriber" ? rest : { ...rest, ...JSON.parse(row.error ?? "{}") };
    const outgoing: CloudEvent = { attributes: row.replay ? { ...attributes, replay: row.replay } : attributes, data: event.data };
    if (plain) this.sent.set(event, outgoing);
    return outgoing;
  }

  /**
   * A reply re-enters this broker with the delivered event's TTL, or goes where the trigger's `reply` says
   * (a flow's next channel), or nowhere.
   */
  private async reply(reply: CloudEvent, ttl: unknown, forwarded: Record<string, string>, t: Trigger): Promise<Outcome> {
    const to = t.config.reply;
    if (to === null) return { ok: true };
    reply.attributes.knativebrokerttl = ttl as number;
    const config = this.state.config!;
    const p = config.partition;
    // A partition keeps the replies it owns; others go to their owner like any event.
    const here = to === undefined && (!p || partitionOf(reply, p.count) === p.index);
    const r = here ? await this.store([reply], forwarded) : await ingestInto(this.state.env, to ?? config, [reply], forwarded);
    if (r.status === 202) {
      this.state.count("", "replies", 1);
      return { ok: true, status: 200 }; // a reply is a 200 with an event (a transform's result counts as one)
    }
    if (r.status === 400) {
      // The reply chain used up its hops: the loop ends here, visibly.
      this.state.count("", "dropped", 1);
      console.log(JSON.stringify({ level: "warn", msg: "reply dropped: TTL exhausted", broker: this.state.key(), id: reply.attributes.id }));
      return { ok: true };
    }
    return { ok: false, status: 503, body: `reply not stored: ${r.error}`, retryAfterMs: r.status === 429 ? r.retryAfterSeconds * 1000 : null };
  }

  private settle(row: DeliveryRow, t: Trigger, outcome: Outcome, started: number): void {
    const { store } = this.state;
    const name = t.config.name;
    // The delivery is gone when its trigger was deleted (and maybe re-created) while this attempt was in flight.
    const current =
      row.id !== null
        ? store.rows.exists(row.id)
        : row.replay === null
          ? !!store.lanes.get(name)?.flies(row.event_seq)
          : this.history.flies(row.replay, row.event_seq, name);
    if (!this.state.triggers.has(name) || !current) return;
    const verdict = this.record(row, t, outcome, started);
    // Everything but a plain success is logged, with the event's id.
    if (verdict !== "delivered") {
      const level = verdict === "failed" ? "error" : verdict === "retry" ? "warn" : "info";
      const failure = outcome.ok ? {} : { status: outcome.status, error: describeBody(outcome.body) };
      console.log(
        JSON.stringify({
          level,
          msg: `delivery ${verdict}`,
          broker: this.state.key(),
          trigger: name,
          id: store.log.read(row.event_seq)?.meta.i,
          phase: row.phase,
          attempt: row.attempt + 1,
          ...failure,
        }),
      );
    }
    this.state.live.send(() => [
      {
        kind: "delivery",
        at: Date.now(),
        trigger: name,
        eventSeq: row.event_seq,
        phase: row.phase,
        attempt: row.attempt + 1,
        verdict,
        status: outcome.ok ? null : outcome.status,
      },
    ]);
  }

  /**
   * Write an attempt's outcome as decided: done, retry later, move to the dead-letter sink, or keep as
   * failed. A first attempt from the lane that needs more becomes a row here.
   */
  private record(row: DeliveryRow, t: Trigger, outcome: Outcome, started: number): Verdict {
    const { store } = this.state;
    const now = Date.now();
    const name = t.config.name;
    const d = decide(
      { phase: row.phase, attempt: row.attempt, policy: t.policy, hasDeadLetterSink: t.deadLetter !== undefined, subscriberUri: t.config.subscriberUri },
      outcome,
    );
    this.history.attempted(row.event_seq, name, d.verdict, outcome, started, now, row.phase === "deadletter", row.replay);
    if (row.replay) this.history.settled(row.replay, row.id !== null, row.event_seq, name, d.verdict, now);
    // A live event's first attempt: the latency a replay must not hurt (shared/delivery/replay-budget.ts).
    else if (row.id === null) this.history.budget.live(name, store.log.read(row.event_seq)?.arrivedAt ?? now, now);
    switch (d.verdict) {
      case "delivered":
        store.counters.observeLatency(name, now - (store.log.read(row.event_seq)?.arrivedAt ?? now));
        this.finish(row, name, d.verdict);
        break;
      case "deadlettered":
        this.finish(row, name, d.verdict);
        break;
      case "retry":
        this.requeue(row, { phase: row.phase, attempt: row.attempt + 1, nextAt: now + d.delayMs, error: row.error });
        this.state.count(name, "retried", 1);
        break;
      case "to-dead-letter-sink":
        this.requeue(row, { phase: "deadletter", attempt: 0, nextAt: now, error: JSON.stringify(d.extensions) });
        break;
      case "failed": {
        // Kept (bounded), counted, logged: never silently gone.
        const logged = store.log.read(row.event_seq);
        if (logged) store.dead.add(name, now, d.reason, encodeStructured(logged.event));
        this.finish(row, name, "failed");
      }
    }
    return d.verdict;
  }

  /** The delivery's next attempt: its row updated, or (a first attempt from a lane, a replay's too) written. */
  private requeue(row: DeliveryRow, next: NextAttempt): void {
    if (row.id !== null) this.state.store.rows.update(row.id, next);
    else this.state.store.rows.add(row.event_seq, row.trigger, row.pkey, next, row.replay);
  }

  private finish(row: DeliveryRow, trigger: string, counter: CounterName): void {
    if (row.id !== null) this.state.store.rows.remove(row.id);
    this.state.count(trigger, counter, 1);
  }
}
