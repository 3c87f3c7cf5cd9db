/**
 * What storing events in a broker answers, and who may store them: the contract between every producer
 * (ingress, webhooks, sources, broker targets, replies) and the broker objects (clients/ingest.ts).
 */
import type { CloudEvent } from "../cloudevents/event.ts";
import type { PolicyRule, PolicyTarget } from "../policy/spec.ts";

export type IngestResult =
  | { status: 202; accepted: number; duplicates: number }
  | { status: 400; error: string; field?: string }
  | { status: 401 | 403 | 404 | 500; error: string }
  | { status: 429 | 503; error: string; retryAfterSeconds: number }
  /** Misdirected: the events' partition under this broker's partition count is another one. */
  | { status: 421; error: string };

/** A request an EventPolicy refused (API.md §8): 401 (no valid token) or 403 (not allowed). */
export interface PolicyRefusal {
  status: 401 | 403;
  error: string;
  /** A stable word for what failed (workers/oidc.ts TokenFailure, or sender_not_allowed / event_not_allowed). */
  reason: string;
}

/** Where events are ingested: a broker (partitioned or not) or one of the router's channels. */
export interface IngestTarget {
  namespace: string;
  name: string;
}

/** Where a producer posts: a Broker, or the address of an EventTransform, a Sequence or a Parallel. */
export interface Addressable {
  kind: PolicyTarget;
  namespace: string;
  name: string;
}

/**
 * A producer from outside the router, as the caller established it: its request's bearer token, and the
 * EventPolicy decision for it. The caller decides (a token is verified in workers/, a source the router
 * runs is allowed by name); the ingest client asks it only when policies apply to the broker or address.
 */
export interface Admission {
  /**
   * Public ingress only: the request's bearer token (undefined when none was sent), which the broker checks
   * against its shared ingress token when no EventPolicy applies. The router's own sources pass none.
   */
  producer?: { bearer: string | undefined };
  /** Whether every event may enter `target` under its applying `rules`: null, or the refusal. */
  decide(target: Addressable, rules: PolicyRule[], events: CloudEvent[]): Promise<PolicyRefusal | null>;
}
