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

/** Per trigger the event matched: its state, its latest attempts, and how many earlier ones are not kept (`o`). */
export type StoredHistory = Record<string, StoredDelivery>;
export type StoredDelivery = { s: DeliveryState; a: StoredAttempt[]; o?: number };

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
  /** Earlier attempts not kept (the latest ones are), so that every attempt is counted. */
  attemptsOmitted?: number;
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
    deliveries: Object.entries(stored).map(([trigger, d]) => ({
      trigger,
      state: d.s,
      attempts: d.a.map(attemptView),
      ...(d.o ? { attemptsOmitted: d.o } : {}),
    })),
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

/** Keep a delivery's latest `n` attempts, counting the others as omitted. */
export function keepLatest(d: StoredDelivery, n: number): void {
  if (d.a.length <= n) return;
  d.o = (d.o ?? 0) + d.a.length - n;
  d.a.splice(0, d.a.length - n);
}

/**
 * Ever shorter forms of a segment's histories, tried in turn until one fits its row: fewer attempts kept
 * per delivery (the others counted as omitted) and shorter error texts, down to each delivery's state and
 * attempt count alone. [attempts kept, error characters kept].
 */
export const HISTORY_FORMS: readonly [number, number][] = [
  [ATTEMPTS_KEPT, ATTEMPT_ERROR_CHARS],
  [10, ATTEMPT_ERROR_CHARS],
  [3, 60],
  [1, 0],
  [0, 0],
];

/**
 * A segment's histories (by event index) as the JSON to store: the first form of HISTORY_FORMS within
 * `maxBytes` of UTF-8, else the shortest. Nothing is dropped without being counted: a state always stays,
 * and attempts not kept add to the delivery's omitted count.
 */
export function storedSegmentHistory(histories: Record<string, StoredHistory>, maxBytes: number): string {
  let json = "";
  for (const [kept, errorChars] of HISTORY_FORMS) {
    // Histories already in the form (those kept in memory are in the first) are stored as they are: copying
    // a segment's thousands of them is most of the cost of writing it.
    json = JSON.stringify(inForm(histories, kept, errorChars) ? histories : shortened(histories, kept, errorChars));
    if (new TextEncoder().encode(json).length <= maxBytes) return json;
  }
  return json;
}

function inForm(histories: Record<string, StoredHistory>, kept: number, errorChars: number): boolean {
  for (const h of Object.values(histories))
    for (const d of Object.values(h)) if (d.a.length > kept || d.a.some((a) => a[3] !== null && a[3].length > errorChars)) return false;
  return true;
}

function shortened(histories: Record<string, StoredHistory>, kept: number, errorChars: number): Record<string, StoredHistory> {
  const form: Record<string, StoredHistory> = {};
  for (const [index, h] of Object.entries(histories)) {
    form[index] = Object.fromEntries(
      Object.entries(h).map(([trigger, d]) => {
        const copy: StoredDelivery = {
          ...d,
          a: d.a.map((a) =>
            a[3] === null || a[3].length <= errorChars
              ? a
              : ([...a.slice(0, 3), errorChars > 0 ? a[3].slice(0, errorChars) : null, ...a.slice(4)] as StoredAttempt),
          ),
        };
        keepLatest(copy, kept);
        return [trigger, copy];
      }),
    );
  }
  return form;
}
