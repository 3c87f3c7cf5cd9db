/**
 * The router as Knative's activator for the services a ScaledObject scales (API.md §9): while the target
 * has no ready replica the deliveries of what it scales from wait in the router (no attempt, no retry
 * spent) up to a limit; once it has, at most ready replicas x containerConcurrency are in flight to it.
 * Pure: the broker asks `admit` how many of a gated trigger's deliveries may start, the Autoscaler object
 * shares the capacity between a broker's partitions with `CapacityLeases` and reports `activationState`.
 */
import { parseGoDuration } from "./go-duration.ts";

export const ACTIVATOR_ANNOTATIONS = {
  /** Requests one replica takes at once (Knative's containerConcurrency; 0: unlimited). */
  containerConcurrency: "edge-eventing.dev/container-concurrency",
  /** How long deliveries wait for a ready replica before the delivery spec applies as usual. */
  activationTimeout: "edge-eventing.dev/activation-timeout",
} as const;

/** Knative's revision timeout (`timeoutSeconds`): how long its activator holds a request. */
export const DEFAULT_HOLD_MS = 300_000;
/** Limits: the longest hold, and the highest containerConcurrency (Knative's own maximum). */
export const MAX_HOLD_MS = 3_600_000;
export const MAX_CONTAINER_CONCURRENCY = 1000;
/** How often the Autoscaler object re-reads the target while deliveries wait for its readiness. */
export const WATCH_MS = 500;
/** A partition's capacity lease lapses after this long without being renewed (a partition that went away). */
export const LEASE_MS = 5_000;

/** What the Autoscaler object tells a gated trigger's broker partitions about the target. */
export interface Gate {
  /** Ready replicas, as the workload's status reports them. */
  ready: number;
  /** Deliveries in flight the target takes at once: ready x containerConcurrency; null: no cap. */
  capacity: number | null;
  /** The ScaledObject's hold limit. */
  holdMs: number;
  /**
   * More than one broker partition delivers to the target (a partitioned broker, or several triggers):
   * each leases its share of the capacity from the Autoscaler object instead of using all of it.
   */
  shared: boolean;
}

/** The cap on what is in flight to a target: ready replicas x containerConcurrency (0: none). */
export function capacityOf(ready: number, containerConcurrency: number): number | null {
  return containerConcurrency > 0 ? ready * containerConcurrency : null;
}

/**
 * The containerConcurrency that applies: the smaller of the annotation's and the Knative Service's
 * (`spec.template.spec.containerConcurrency`), 0 meaning unlimited for either.
 */
export function effectiveConcurrency(annotation: number, target: number | undefined): number {
  const set = [annotation, target ?? 0].filter((n) => n > 0);
  return set.length === 0 ? 0 : Math.min(...set);
}

export interface ActivatorSettings {
  containerConcurrency: number;
  holdMs: number;
}

/** The ScaledObject's activator annotations, with a `{field, message}` per bad value. */
export function activatorSettings(annotations: Record<string, string> | undefined): {
  settings: ActivatorSettings;
  errors: { field: string; message: string }[];
} {
  const errors: { field: string; message: string }[] = [];
  const cc = annotations?.[ACTIVATOR_ANNOTATIONS.containerConcurrency];
  const timeout = annotations?.[ACTIVATOR_ANNOTATIONS.activationTimeout];
  let containerConcurrency = 0;
  if (cc !== undefined) {
    containerConcurrency = /^\d{1,4}$/.test(cc) ? Number(cc) : NaN;
    if (!(containerConcurrency <= MAX_CONTAINER_CONCURRENCY)) {
      errors.push({
        field: `metadata.annotations.${ACTIVATOR_ANNOTATIONS.containerConcurrency}`,
        message: `must be an integer from 0 (unlimited) to ${MAX_CONTAINER_CONCURRENCY}, got ${JSON.stringify(cc)}`,
      });
      containerConcurrency = 0;
    }
  }
  let holdMs = DEFAULT_HOLD_MS;
  if (timeout !== undefined) {
    const sec = parseGoDuration(timeout);
    if (sec === null || sec < 0 || sec * 1000 > MAX_HOLD_MS) {
      errors.push({
        field: `metadata.annotations.${ACTIVATOR_ANNOTATIONS.activationTimeout}`,
        message: `must be a duration from 0s (no hold) to 1h, got ${JSON.stringify(timeout)}`,
      });
    } else holdMs = sec * 1000;
  }
  return { settings: { containerConcurrency, holdMs }, errors };
}

export interface AdmitInput {
  /** The gate last heard of; null: not known yet (after a restart), which holds like a target at zero. */
  gate: Gate | null;
  /** The cap that applies to this partition: the gate's capacity, or its lease of it on a partitioned broker. */
  capacity: number | null;
  /** This trigger's deliveries in flight here. */
  inFlight: number;
  /** Deliveries that could start now (already within the trigger's parallelism). */
  want: number;
  /** When the current hold began (the first delivery that found no ready replica); null: none. */
  heldSince: number | null;
  now: number;
}

export interface Admission {
  start: number;
  /** Deliveries wait for a ready replica (not for capacity). */
  holding: boolean;
  /** The hold lasted its limit: deliveries go out without a ready replica, under the delivery spec. */
  expired: boolean;
}

/** How many of a gated trigger's deliveries may start now. */
export function admit(input: AdmitInput): Admission {
  const { gate, want, now } = input;
  if (want <= 0) return { start: 0, holding: false, expired: false };
  if (!gate || gate.ready === 0) {
    const holdMs = gate?.holdMs ?? DEFAULT_HOLD_MS;
    const since = input.heldSince ?? now;
    if (now - since < holdMs) return { start: 0, holding: true, expired: false };
    return { start: want, holding: false, expired: true };
  }
  const room = input.capacity === null ? want : Math.max(0, input.capacity - input.inFlight);
  return { start: Math.min(want, room), holding: false, expired: false };
}

/**
 * Max-min fair shares of `capacity` for `demands`: the smallest demands are met in full, the rest split
 * what remains evenly (each rounded down, so the larger demands take what the smaller left over).
 */
export function shareOut(capacity: number, demands: number[]): number[] {
  const order = demands.map((d, i) => [Math.max(0, d), i] as const).sort((a, b) => a[0] - b[0]);
  const shares = demands.map(() => 0);
  let left = Math.max(0, capacity);
  order.forEach(([demand, i], k) => {
    const give = Math.min(demand, Math.floor(left / (order.length - k)));
    shares[i] = give;
    left -= give;
  });
  for (const [demand, i] of order) {
    if (left === 0) break;
    if (shares[i] < demand) {
      shares[i]++;
      left--;
    }
  }
  return shares;
}

/** A partition's lease: how many deliveries it may have in flight, and whether others wait for capacity. */
export interface Lease {
  allowance: number;
  /** Another partition gets less than it wants: this one reports what it frees at once rather than at its renewal. */
  contended: boolean;
}

/**
 * One target's capacity shared between the partitions that deliver to it. A partition reports its demand
 * (in flight plus waiting) and what it holds (what it has in flight, or may start before the answer comes)
 * when it needs more than it holds, renews while it delivers, and reports 0 when it is done. Its allowance is its max-min fair share among the demands of
 * the last LEASE_MS, but never more than what the other partitions do not hold (the larger of what they
 * were allowed and what they have in flight): the allowances never add up to more than the capacity,
 * and a partition over its share gets less at its next report and frees the rest as its deliveries end.
 * Memory only: a restart forgets the leases, which come back within a renewal.
 */
export class CapacityLeases {
  private readonly partitions = new Map<string, { demand: number; inFlight: number; allowance: number; at: number }>();

  /** The lease of `partition` (a broker partition and trigger) under `capacity` (null: unlimited); `inFlight`: what it holds. */
  request(partition: string, demand: number, inFlight: number, capacity: number | null, now: number): Lease {
    for (const [p, d] of this.partitions) if (now - d.at > LEASE_MS) this.partitions.delete(p);
    this.partitions.delete(partition);
    const others = [...this.partitions.values()];
    // Another partition gets less than it wants: what this one frees should reach it soon.
    const contended = capacity !== null && others.some((o) => o.allowance < o.demand);
    if (demand <= 0 && inFlight <= 0) return { allowance: 0, contended };
    if (capacity === null) return { allowance: demand, contended };
    // The asker comes last among equal demands, so the remainder of an uneven split goes to whoever asks.
    const fair = shareOut(capacity, [...others.map((o) => o.demand), demand]).at(-1)!;
    const free = capacity - others.reduce((n, o) => n + Math.max(o.allowance, o.inFlight), 0);
    const allowance = Math.max(0, Math.min(fair, free));
    this.partitions.set(partition, { demand, inFlight, allowance, at: now });
    return { allowance, contended };
  }
}

/** What a gated trigger's partitions report (summed over them for the ScaledObject's status). */
export interface GateStats {
  /** Deliveries waiting for a ready replica or for capacity. */
  held: number;
  inFlight: number;
  /** The oldest hold in progress began (epoch ms); null: none. */
  heldSince: number | null;
  /** A hold outlasted its limit and deliveries go out without a ready replica. */
  expired: boolean;
}

export type ActivationState = "Activating" | "Active" | "Idle" | "TimedOut";

/** The activation state the ScaledObject's status shows. */
export function activationState(ready: number, stats: GateStats): ActivationState {
  if (ready > 0) return "Active";
  if (stats.expired) return "TimedOut";
  return stats.held > 0 || stats.inFlight > 0 ? "Activating" : "Idle";
}

/**
 * What the KPA decider reads for a gated trigger: the deliveries in flight plus those held (waiting for a
 * ready replica or for capacity), as Knative's activator reports its buffered requests.
 */
export const concurrencyWithHeld = (inFlight: number, held: number) => inFlight + held;

/** The replicas to ask for: never zero while anything is held or in flight to the target. */
export function keepAwake(replicas: number, stats: GateStats, maxReplicas: number): number {
  return replicas === 0 && stats.held + stats.inFlight > 0 ? Math.min(1, maxReplicas) : replicas;
}

export function sumGateStats(parts: GateStats[]): GateStats {
  const since = parts.map((p) => p.heldSince).filter((t) => t !== null);
  return {
    held: parts.reduce((n, p) => n + p.held, 0),
    inFlight: parts.reduce((n, p) => n + p.inFlight, 0),
    heldSince: since.length > 0 ? Math.min(...since) : null,
    expired: parts.some((p) => p.expired),
  };
}

/**
 * Whether the Autoscaler object watches the target's readiness closely: deliveries wait for a first ready
 * replica, or the target is still becoming ready while deliveries wait or are in flight (the cap follows
 * the ready count).
 */
export function watchesReadiness(target: { replicas: number; ready: number }, stats: GateStats): boolean {
  if (stats.held > 0 && target.ready === 0) return true;
  return target.ready < target.replicas && stats.held + stats.inFlight > 0;
}

/** The ScaledObject's `status.activation`. */
export function activatorStatus(ready: number, stats: GateStats, gate: Gate | null) {
  return {
    state: activationState(ready, stats),
    held: stats.held,
    inFlight: stats.inFlight,
    capacity: gate?.capacity ?? null,
    heldSince: stats.heldSince === null ? null : new Date(stats.heldSince).toISOString(),
  };
}
