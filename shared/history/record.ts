/**
 * An event's delivery history as the broker keeps it (one JSON column on the row of the event's log
 * segment, so recording the attempts of a segment's events is one row written and no index entry) and as
 * the history API shows it (API.md §6 shape).
 */

/** A delivery's state to one trigger. */
export type DeliveryState = "pending" | "retrying" | "delivered" | "deadlettered" | "failed" | "dropped";
export const DELIVERY_STATES: readonly DeliveryState[] = ["pending", "retrying", "delivered", "deadlettered", "failed", "dropped"];

/**
 * One attempt, compactly: [at (epoch ms), HTTP status or null, duration ms, error or null, flags].
 * Flags: "d" the attempt went to the dead-letter sink; "r:<name>" it was sent by that Replay.
 */
export type StoredAttempt = [number, number | null, number, string | null, string?];

/** Per trigger the event matched: its state and attempts. */
export type StoredHistory = Record<string, { s: DeliveryState; a: StoredAttempt[] }>;

/** Longest error text kept per attempt. */
export const ATTEMPT_ERROR_CHARS = 200;
/** Attempts kept per trigger; older ones give way (a retry storm cannot grow a row without end). */
export const ATTEMPTS_KEPT = 50;

export interface AttemptView {
  at: string;
  status: number | null;
  durationMs: number;
  error?: string;
  /** The attempt went to the dead-letter sink. */
  deadLetterSink?: true;
  /** The Replay that sent it. */
  replay?: string;
}

export interface DeliveryView {
  trigger: string;
  state: DeliveryState;
  attempts: AttemptView[];
}

export interface EventRecord {
  event: Record<string, unknown>;
  receivedAt: string;
  deliveries: DeliveryView[];
}

/** The history a new event starts with: every trigger it matched, pending. */
export function initialHistory(triggers: string[]): StoredHistory {
  return Object.fromEntries(triggers.map((t) => [t, { s: "pending", a: [] }]));
}

export function attemptFlags(deadLetterSink: boolean, replay: string | null): string | undefined {
  const flags = [deadLetterSink ? "d" : "", replay ? `r:${replay}` : ""].filter(Boolean).join(",");
  return flags || undefined;
}

/** The API's view of a stored event and its history. */
export function eventRecord(event: Record<string, unknown>, arrivedAt: number, stored: StoredHistory): EventRecord {
  return {
    event,
    receivedAt: new Date(arrivedAt).toISOString(),
    deliveries: Object.entries(stored).map(([trigger, d]) => ({ trigger, state: d.s, attempts: d.a.map(attemptView) })),
  };
}

function attemptView([at, status, durationMs, error, flags]: StoredAttempt): AttemptView {
  const view: AttemptView = { at: new Date(at).toISOString(), status, durationMs };
  if (error !== null) view.error = error;
  for (const flag of flags?.split(",") ?? []) {
    if (flag === "d") view.deadLetterSink = true;
    else if (flag.startsWith("r:")) view.replay = flag.slice(2);
  }
  return view;
}
