/**
 * The objects a broker partition sends through: Dispatcher slots (connections beyond its own), the event
 * display (a sink inside the router), and a rate-limited trigger's FlowLimiter.
 */
import type { GiveBack, Lease, RateLimit } from "../delivery/rate-limit.ts";

export interface OutboundRequest {
  url: string;
  headers: [string, string][];
  body: Uint8Array | null;
  timeoutMs: number;
}

export type OutboundResult = { status: number; headers: [string, string][]; body: Uint8Array; truncated: boolean } | { error: string };

/** A trigger's overflow slot (durable-objects/dispatcher.ts), named `{ns}/{broker}/{trigger uid}/{slot}`. */
export interface DispatcherRpc {
  /**
   * The deliveries one pump turn handed this slot, in one call (a call per delivery was a tenth of the
   * router's CPU in a fan-out); each result in its request's place.
   */
  sendAll(reqs: OutboundRequest[]): Promise<OutboundResult[]>;
  /** Concurrency seen by this slot, so tests can check the connection budget by design. */
  stats(): { open: number; peak: number };
}

export interface DisplayedEvent {
  receivedAt: string;
  event: unknown;
}

/** The built-in event display (durable-objects/event-display.ts), named `{ns}/{name}`. */
export interface EventDisplayRpc {
  /** `structured` is the event in CloudEvents JSON format. */
  record(structured: string): void;
  /** Newest first. */
  list(): DisplayedEvent[];
}

/** A rate-limited trigger's limiter (durable-objects/flow-limiter.ts), named `{ns}/{broker}/{trigger uid}`. */
export interface FlowLimiterRpc {
  /**
   * A lease of up to `want` of the limit's tokens for `partition`, which gives back the lease it held
   * (`giveBack`, null when it held none) but for its tokens in use; `want` 0 only gives back. The limit
   * comes with every call.
   */
  lease(partition: number, want: number, giveBack: GiveBack | null, limit: RateLimit): Lease;
}
