/**
 * The history API's query (API.md §6): parsing and checking it, the `continue` token, and the merge of the
 * pages a partitioned broker's partitions answer into one page, newest first.
 */
import { decodeBase64Url, encodeBase64Url } from "../base64.ts";
import type { FieldError } from "../delivery/policy.ts";
import { DELIVERY_STATES, type DeliveryState, type EventRecord } from "./record.ts";

export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 1000;

/** What one partition is asked for: events matching every field given. Times are epoch ms, inclusive. */
export interface HistoryQuery {
  id?: string;
  source?: string;
  type?: string;
  subject?: string;
  since?: number;
  until?: number;
  trigger?: string;
  state?: DeliveryState;
}

/** A partition's page: rows newest first, `seq` being the partition's own order of arrival. */
export interface PartitionRow {
  seq: number;
  arrivedAt: number;
  record: EventRecord;
}

/**
 * A partition's answer: its rows, and, when its scan budget ran out before `limit` rows were found, where
 * it stopped: every retained event from `before` up was looked at, the oldest of them received at `at`.
 */
export interface PartitionPage {
  rows: PartitionRow[];
  stopped?: { before: number; at: number };
}

/**
 * Per partition, where the next page starts: below this seq; 0 when the partition has nothing more, null
 * when it has not been read yet.
 */
export type Cursors = (number | null)[];

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/** Epoch ms of an RFC 3339 timestamp, or null. */
export function parseRfc3339(text: string): number | null {
  if (!RFC3339.test(text)) return null;
  const ms = Date.parse(text);
  return Number.isFinite(ms) ? ms : null;
}

/** `since` and `until` (RFC 3339, as epoch ms) from a query string; each mistake is added to `causes`. */
export function timeRange(params: URLSearchParams, causes: FieldError[]): { since?: number; until?: number } {
  const range: { since?: number; until?: number } = {};
  for (const field of ["since", "until"] as const) {
    const v = params.get(field);
    if (v === null) continue;
    const ms = parseRfc3339(v);
    if (ms === null) causes.push({ field, message: `must be an RFC 3339 timestamp such as 2026-01-02T15:04:05Z (got ${JSON.stringify(v)})` });
    else range[field] = ms;
  }
  if (range.since !== undefined && range.until !== undefined && range.since > range.until) causes.push({ field: "until", message: "must not be before since" });
  return range;
}

export type ParsedQuery = { query: HistoryQuery; limit: number; continueToken?: string } | { causes: FieldError[] };

/** The query string's fields, checked: every mistake is a cause naming its parameter. */
export function parseHistoryQuery(params: URLSearchParams): ParsedQuery {
  const causes: FieldError[] = [];
  const query: HistoryQuery = {};
  for (const field of ["id", "source", "type", "subject", "trigger"] as const) {
    const v = params.get(field);
    if (v !== null) query[field] = v;
  }
  Object.assign(query, timeRange(params, causes));
  const state = params.get("state");
  if (state !== null) {
    if ((DELIVERY_STATES as readonly string[]).includes(state)) query.state = state as DeliveryState;
    else causes.push({ field: "state", message: `must be one of ${DELIVERY_STATES.join(", ")}` });
  }
  let limit = DEFAULT_LIMIT;
  const l = params.get("limit");
  if (l !== null) {
    if (/^\d+$/.test(l) && Number(l) >= 1 && Number(l) <= MAX_LIMIT) limit = Number(l);
    else causes.push({ field: "limit", message: `must be an integer from 1 to ${MAX_LIMIT}` });
  }
  if (causes.length > 0) return { causes };
  const token = params.get("continue");
  return token ? { query, limit, continueToken: token } : { query, limit };
}

/** The query a token belongs to: its fields in a fixed order (the limit may change between pages). */
function fingerprint(query: HistoryQuery): string {
  return JSON.stringify(["id", "source", "type", "subject", "since", "until", "trigger", "state"].map((k) => query[k as keyof HistoryQuery] ?? null));
}

export function encodeContinue(query: HistoryQuery, cursors: Cursors): string {
  return encodeBase64Url(JSON.stringify({ q: fingerprint(query), c: cursors }));
}

/** The cursors of a token, or an error when it is malformed or was issued for another query. */
export function decodeContinue(token: string, query: HistoryQuery): { cursors: Cursors } | { error: string } {
  let parsed: { q?: unknown; c?: unknown };
  try {
    const bytes = decodeBase64Url(token);
    parsed = bytes ? JSON.parse(new TextDecoder().decode(bytes)) : null;
  } catch {
    return { error: "the continue token is malformed" };
  }
  const cursors = parsed?.c;
  if (!Array.isArray(cursors) || !cursors.every((c) => c === null || (Number.isSafeInteger(c) && c >= 0))) return { error: "the continue token is malformed" };
  if (parsed.q !== fingerprint(query))
    return { error: "the continue token was issued for another query: repeat the query's fields unchanged, or start again without it" };
  return { cursors };
}

/**
 * One page out of the partitions' pages (each at most `limit` rows, newest first): the newest `limit` rows
 * over all, and where each partition continues. A partition that answered fewer than `limit` rows and had
 * all of them taken is done, unless its scan budget stopped it: it continues where it stopped. Rows older
 * than where a stopped partition got to wait for a later page (that partition may still hold newer ones),
 * so a page may hold fewer than `limit` items, even none, and still have a `continue`.
 */
export function mergePages(pages: PartitionPage[], cursors: Cursors, limit: number): { items: EventRecord[]; cursors: Cursors } {
  const frontier = Math.max(-Infinity, ...pages.flatMap((page) => (page.stopped ? [page.stopped.at] : [])));
  const all = pages.flatMap((page, partition) => page.rows.filter((row) => row.arrivedAt >= frontier).map((row) => ({ ...row, partition })));
  all.sort((a, b) => b.arrivedAt - a.arrivedAt || a.partition - b.partition || b.seq - a.seq);
  const taken = all.slice(0, limit);
  const next = pages.map(({ rows, stopped }, p) => {
    const mine = taken.filter((r) => r.partition === p);
    if (cursors[p] === 0) return 0;
    if (mine.length === rows.length && stopped) return stopped.before;
    if (mine.length === rows.length && rows.length < limit) return 0;
    return mine.length > 0 ? mine[mine.length - 1].seq : (cursors[p] ?? null);
  });
  return { items: taken.map((r) => r.record), cursors: next };
}
