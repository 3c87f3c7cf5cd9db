/**
 * The activator on the broker's side (API.md §9): a trigger a ScaledObject scales from is gated. While its
 * target has no ready replica its deliveries wait here (no attempt, no retry spent) up to the hold limit,
 * and the first one that waits asks the Autoscaler object for a decision at once; once replicas are ready
 * at most ready x containerConcurrency are in flight to the target. The pure decisions are in
 * shared/autoscaling/activator.ts; this module keeps each gated trigger's state in memory and talks to the
 * ScaledObject's Autoscaler object, which pushes the gate when the target's readiness changes.
 *
 * When several partitions deliver to the target they share the capacity: each leases its allowance from
 * the Autoscaler object when it needs more than it holds, renews it while it delivers, and gives it back
 * when it is done, so the cap costs a request per partition every LEASE_MS / 2 while busy (every second
 * while it gets less than it wants). Only while another partition waits for capacity does a partition
 * report each delivery that ends, so that the slot moves to it at once. A trigger that no ScaledObject
 * gates costs one property check in the pump.
 */
import { admit, DEFAULT_HOLD_MS, type Gate, type GateStats, LEASE_MS } from "../../shared/autoscaling/activator.ts";
import type { BrokerConfig, TriggerConfig } from "../../shared/resources/eventing.ts";
import { type Stub, stub } from "../../clients/stubs.ts";
import type { AutoscalerRpc } from "../../shared/contracts/runner.ts";
import { runnerKey } from "../../clients/runner.ts";
import { WakeTimer } from "./wake-timer.ts";

/** How long a partition waits before asking the Autoscaler object again after a failed call. */
const RETRY_MS = 1000;

interface TriggerGate {
  scaledObject: string;
  uid: string;
  /** As last pushed or answered by the Autoscaler object; null until then (holds like a target at zero). */
  gate: Gate | null;
  heldSince: number | null;
  expired: boolean;
  /** Deliveries waiting (for a ready replica or for capacity) at the last look. */
  held: number;
  /** The Autoscaler object was told of this hold (activation), or is being asked. */
  poked: boolean;
  /** A shared capacity: this partition's allowance, its demand at the last look, the lease call running, its renewal. */
  allowance: number;
  demand: number;
  /** The demand of the last lease call: a partition that got less asks again only when it wants more still. */
  asked: number;
  /** In flight here at the last look; whether another partition wants more than it has. */
  inFlight: number;
  contended: boolean;
  leasing: boolean;
  renewal: ReturnType<typeof setTimeout> | null;
  /** Wakes the pump when the hold reaches its limit. */
  timer: WakeTimer;
}

export class ActivatorGates {
  private readonly gates = new Map<string, TriggerGate>();
  /** The gated triggers of the configuration. */
  private gated = new Map<string, TriggerConfig>();
  private readonly env: Env;
  private readonly wake: (trigger: string) => void;

  /** `wake(trigger)`: look at the trigger's deliveries again (the pump). */
  constructor(env: Env, wake: (trigger: string) => void) {
    this.env = env;
    this.wake = wake;
  }

  /** Forget gates of triggers no longer gated, re-created, or gated by another ScaledObject. */
  configure(triggers: TriggerConfig[]): void {
    this.gated = new Map(triggers.filter((t) => t.activator).map((t) => [t.name, t]));
    const keep = new Map([...this.gated.values()].map((t) => [t.name, `${t.uid}/${t.activator!.scaledObject}`]));
    for (const [name, g] of this.gates) {
      if (keep.get(name) === `${g.uid}/${g.scaledObject}`) continue;
      g.timer.clear();
      if (g.renewal) clearTimeout(g.renewal);
      this.gates.delete(name);
    }
  }

  /**
   * Of `want` deliveries of the trigger that its parallelism lets start, how many may start now; `inFlight`
   * are its deliveries in flight here, `waiting` all it has queued. Ungated triggers get `want`.
   */
  allow(config: BrokerConfig, t: TriggerConfig, inFlight: number, want: number, waiting: number, now: number): number {
    if (!t.activator) return want;
    const g = this.gateOf(t);
    const shared = g.gate !== null && g.gate.ready > 0 && g.gate.capacity !== null && g.gate.shared;
    const done = waiting === 0 && inFlight === 0;
    if (shared || g.allowance > 0) {
      const demand = shared ? inFlight + want : 0;
      // Ask when it needs more than it holds (once per demand), give back what it freed when another
      // partition waits for it, and everything when it is done; else the renewal reports.
      const grows = demand > g.allowance && demand > g.asked;
      const frees = g.contended && inFlight < g.inFlight;
      if (grows || frees || (demand === 0 && g.allowance > 0)) this.lease(config, t, g, demand, inFlight);
      g.demand = demand;
      g.inFlight = inFlight;
    }
    const a = admit({ gate: g.gate, capacity: shared ? g.allowance : (g.gate?.capacity ?? null), inFlight, want, heldSince: g.heldSince, now });
    if (a.holding) {
      g.heldSince ??= now;
      g.timer.wakeAt(g.heldSince + (g.gate?.holdMs ?? DEFAULT_HOLD_MS), now);
      if (!g.poked) void this.activate(config, t, g);
    } else if ((g.gate && g.gate.ready > 0) || done) {
      // A hold ends when a replica is ready, or when nothing waits any more: the next delivery that
      // finds no replica starts another.
      g.heldSince = null;
      g.expired = false;
      g.poked = false;
    }
    if (a.expired) g.expired = true;
    g.held = Math.max(0, waiting - a.start);
    return a.start;
  }

  /** The Autoscaler object's push: the target's readiness and capacity changed (or a periodic refresh). */
  update(trigger: string, gate: Gate): void {
    const t = this.gated.get(trigger);
    if (!t) return;
    const g = this.gateOf(t);
    const opened = (g.gate?.ready ?? 0) === 0 && gate.ready > 0;
    const grew = (gate.capacity ?? Infinity) > (g.gate?.capacity ?? Infinity);
    g.gate = gate;
    // More capacity: a partition that got less than it asked for asks again at once.
    if (grew) g.asked = 0;
    if (opened || grew || g.held > 0) this.wake(trigger);
  }

  /** The broker metrics' `activator`: per gated trigger held, in flight (`inFlightOf`), since when, expired; nothing when none is gated. */
  stats(inFlightOf: (trigger: string) => number): { activator?: Record<string, GateStats> } {
    if (this.gates.size === 0) return {};
    return {
      activator: Object.fromEntries(
        [...this.gates].map(([name, g]) => [name, { held: g.held, inFlight: inFlightOf(name), heldSince: g.heldSince, expired: g.expired }]),
      ),
    };
  }

  private gateOf(t: TriggerConfig): TriggerGate {
    let g = this.gates.get(t.name);
    if (!g) {
      g = {
        scaledObject: t.activator!.scaledObject,
        uid: t.uid,
        gate: null,
        heldSince: null,
        expired: false,
        held: 0,
        poked: false,
        allowance: 0,
        demand: 0,
        asked: 0,
        inFlight: 0,
        contended: false,
        leasing: false,
        renewal: null,
        timer: new WakeTimer(() => this.wake(t.name)),
      };
      this.gates.set(t.name, g);
    }
    return g;
  }

  private autoscaler(config: BrokerConfig, g: TriggerGate): Stub<AutoscalerRpc> {
    return stub(this.env, "AUTOSCALER", runnerKey("ScaledObject", config.namespace, g.scaledObject));
  }

  /** Tell the Autoscaler object deliveries wait for its target (it decides at once) and take its gate. */
  private async activate(config: BrokerConfig, t: TriggerConfig, g: TriggerGate): Promise<void> {
    g.poked = true;
    try {
      const gate = await this.autoscaler(config, g).activate();
      if (gate && this.gates.get(t.name) === g) this.update(t.name, gate);
    } catch (e) {
      console.log(
        JSON.stringify({
          level: "warn",
          msg: "autoscaler not reachable for activation",
          broker: `${config.namespace}/${config.name}`,
          trigger: t.name,
          scaledObject: g.scaledObject,
          error: (e as Error).message,
        }),
      );
      // Asked again on the next look after a pause: the hold goes on meanwhile.
      setTimeout(() => {
        g.poked = false;
        this.wake(t.name);
      }, RETRY_MS);
    }
  }

  /**
   * Lease this partition's share of the capacity for `demand` (0 gives it back). While it holds some, the
   * lease is renewed every LEASE_MS / 2 with the demand of the last look, so the Autoscaler object never
   * counts a busy partition as gone; a grant wakes the pump.
   */
  private lease(config: BrokerConfig, t: TriggerConfig, g: TriggerGate, demand: number, inFlight: number): void {
    if (g.leasing) return;
    g.leasing = true;
    g.asked = demand;
    // Until the answer this partition keeps within what it reports holding: the Autoscaler object counts
    // that against the others, so a start racing the call can never take capacity it gave to another.
    const holding = Math.max(inFlight, Math.min(g.allowance, demand));
    g.allowance = holding;
    if (g.renewal) clearTimeout(g.renewal);
    g.renewal = null;
    void (async () => {
      let retryMs = 0;
      try {
        const lease = await this.autoscaler(config, g).lease(`${config.name}#${config.partition?.index ?? 0}/${t.name}`, demand, holding);
        g.allowance = lease.allowance;
        g.contended = lease.contended;
        // Starved partitions ask again sooner: another one's completions may have freed capacity.
        retryMs = g.allowance < demand ? RETRY_MS : LEASE_MS / 2;
      } catch (e) {
        console.log(
          JSON.stringify({
            level: "warn",
            msg: "autoscaler not reachable for a capacity lease",
            broker: `${config.namespace}/${config.name}`,
            trigger: t.name,
            error: (e as Error).message,
          }),
        );
        retryMs = RETRY_MS;
      } finally {
        g.leasing = false;
      }
      if (this.gates.get(t.name) !== g) return;
      if (g.allowance > 0 || demand > 0) g.renewal = setTimeout(() => this.lease(config, t, g, g.demand, g.inFlight), retryMs);
      if (demand > 0) this.wake(t.name);
    })();
  }
}
