/**
 * What a delivery attempt's outcome means for its row: the broker's outcome state machine as a pure
 * function (durable-objects/broker.ts applies the decision to storage).
 *
 *   subscriber phase:  ok -> delivered | retryable and attempts left -> retry
 *                      | else, with a dead-letter sink -> to the dead-letter sink | else -> failed (kept)
 *   dead-letter phase: ok -> deadlettered | retryable and attempts left -> retry | else -> failed (kept)
 */
import { type DeliveryPolicy, errorExtensions, isRetryable, retryDelayMs } from "./policy.ts";

/** `status`: the target's answer, when it gave one (kept in the event history). */
export type Outcome = { ok: true; status?: number } | { ok: false; status: number | null; body: Uint8Array | string; retryAfterMs: number | null };

export type Phase = "subscriber" | "deadletter";

export type Decision =
  | { verdict: "delivered" | "deadlettered" }
  | { verdict: "retry"; delayMs: number }
  /** Knative's knativeerror* extensions, carried by the event to the dead-letter sink. */
  | { verdict: "to-dead-letter-sink"; extensions: Record<string, string | number> }
  | { verdict: "failed"; reason: string };

export type Verdict = Decision["verdict"];

export interface Attempt {
  phase: Phase;
  /** Attempts already failed in this phase (0 on the first). */
  attempt: number;
  policy: DeliveryPolicy;
  hasDeadLetterSink: boolean;
  subscriberUri: string;
}

export function decide(a: Attempt, outcome: Outcome): Decision {
  if (outcome.ok) return { verdict: a.phase === "subscriber" ? "delivered" : "deadlettered" };
  if (isRetryable(outcome.status) && a.attempt < a.policy.retry) {
    return { verdict: "retry", delayMs: retryDelayMs(a.policy, a.attempt + 1, outcome.status, outcome.retryAfterMs) };
  }
  if (a.phase === "subscriber" && a.hasDeadLetterSink)
    return { verdict: "to-dead-letter-sink", extensions: errorExtensions(a.subscriberUri, outcome.status, outcome.body) };
  // Nowhere left to send it: the broker keeps it (bounded) for inspection and redelivery.
  return {
    verdict: "failed",
    reason: `${a.phase === "subscriber" ? "subscriber" : "dead-letter sink"} failed: ${outcome.status ?? "no response"} ${describeBody(outcome.body)}`,
  };
}

/** The start of a failure's response body (or error text), for logs and the kept dead letter's reason. */
export function describeBody(body: Uint8Array | string): string {
  return typeof body === "string" ? body.slice(0, 200) : new TextDecoder().decode(body.subarray(0, 200));
}
