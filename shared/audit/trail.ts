/**
 * The management API's audit trail (docs/SECURITY.md): what is kept, for how long, and how it is asked.
 * Every change is one row, written with the change itself. Refused requests (401, 403) are aggregated: one
 * row per (user, verb, resource, namespace, name, code) and REFUSAL_BUCKET_MS bucket, counting repeats;
 * a bucket keeps at most REFUSAL_KEYS_PER_BUCKET such rows, and refusals beyond them are counted in the
 * bucket's one overflow row. So a storm of refusals writes at most REFUSAL_KEYS_PER_BUCKET + 1 rows per
 * bucket, however many requests it sends and however it varies them.
 */
import { decodeBase64Url, encodeBase64Url } from "../base64.ts";
import type { FieldError } from "../delivery/policy.ts";
import { timeRange } from "../history/query.ts";
import { fnv1a64 } from "../partitions.ts";
import { type Attributes, isResourceRequest } from "../rbac/rules.ts";

/** How long rows are kept. */
export const AUDIT_RETENTION_MS = 7 * 24 * 3_600_000;
/** Most change rows kept; the oldest go first beyond it. */
export const AUDIT_MAX_CHANGES = 100_000;
export const REFUSAL_BUCKET_MS = 5 * 60_000;
export const REFUSAL_KEYS_PER_BUCKET = 100;
/** The user of the overflow row, and of a request without a valid token (Kubernetes' anonymous user). */
export const OVERFLOW_USER = "*";
export const ANONYMOUS = "system:anonymous";

export const DEFAULT_AUDIT_LIMIT = 100;
export const MAX_AUDIT_LIMIT = 1000;

/** One audited request, as the rows keep it (shaped after audit.k8s.io/v1 Event). */
export interface AuditEntry {
  user: string;
  groups: string[];
  verb: string;
  /** The request path (audit.k8s.io's requestURI without the query). */
  uri: string;
  objectRef?: { apiGroup: string; resource: string; subresource?: string; namespace?: string; name?: string };
  code: number;
}

/** A refusal as an isolate hands it over: the aggregation key, its bucket, times and count. */
export interface RefusalTally {
  key: string;
  bucket: number;
  first: number;
  last: number;
  count: number;
  entry: AuditEntry;
}

export function auditEntry(user: { name: string; groups: string[] }, a: Attributes, uri: string, code: number): AuditEntry {
  const objectRef = isResourceRequest(a)
    ? {
        apiGroup: a.apiGroup,
        resource: a.resource,
        ...(a.subresource ? { subresource: a.subresource } : {}),
        ...(a.namespace ? { namespace: a.namespace } : {}),
        ...(a.name ? { name: a.name } : {}),
      }
    : undefined;
  return { user: user.name, groups: user.groups, verb: a.verb, uri, ...(objectRef ? { objectRef } : {}), code };
}

export const bucketOf = (at: number) => Math.floor(at / REFUSAL_BUCKET_MS) * REFUSAL_BUCKET_MS;

/** What refusals aggregate by: not the groups or the path (a path names the same object). */
export function refusalKey(e: AuditEntry): string {
  const o = e.objectRef;
  return JSON.stringify([e.user, e.verb, o?.apiGroup ?? "", o?.resource ?? "", o?.subresource ?? "", o?.namespace ?? "", o?.name ?? (o ? "" : e.uri), e.code]);
}

/** The overflow row of a bucket: refusals beyond its cap, whoever made them. */
export function overflowEntry(): AuditEntry {
  return { user: OVERFLOW_USER, groups: [], verb: "*", uri: "*", code: 0 };
}
export const OVERFLOW_KEY = JSON.stringify(["*"]);

export interface AuditQuery {
  user?: string;
  namespace?: string;
  verb?: string;
  resource?: string;
  since?: number;
  until?: number;
}

/** Where a page starts: below this (time, key) in the trail's order, newest first. */
export interface AuditCursor {
  at: number;
  key: string;
}

export type ParsedAuditQuery = { query: AuditQuery; limit: number; cursor?: AuditCursor } | { causes: FieldError[] };

export function parseAuditQuery(params: URLSearchParams): ParsedAuditQuery {
  const causes: FieldError[] = [];
  const query: AuditQuery = {};
  for (const field of ["user", "namespace", "verb", "resource"] as const) {
    const v = params.get(field);
    if (v !== null && v !== "") query[field] = v;
  }
  Object.assign(query, timeRange(params, causes));
  const rawLimit = params.get("limit");
  const limit = rawLimit === null ? DEFAULT_AUDIT_LIMIT : Number(rawLimit);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_AUDIT_LIMIT)
    causes.push({ field: "limit", message: `must be an integer from 1 to ${MAX_AUDIT_LIMIT}` });
  let cursor: AuditCursor | undefined;
  const token = params.get("continue");
  if (token !== null) {
    try {
      const c = JSON.parse(new TextDecoder().decode(decodeBase64Url(token) ?? new Uint8Array())) as AuditCursor;
      if (typeof c.at !== "number" || typeof c.key !== "string") throw new Error("shape");
      cursor = c;
    } catch {
      causes.push({ field: "continue", message: "is not a token this API returned" });
    }
  }
  return causes.length > 0 ? { causes } : { query, limit, ...(cursor ? { cursor } : {}) };
}

export const encodeAuditCursor = (c: AuditCursor) => encodeBase64Url(JSON.stringify(c));

/** A row as the API shows it: kind AuditEvent, a name that identifies the row, Kubernetes' audit fields. */
export interface AuditRow {
  key: string;
  at: number;
  last: number;
  count: number;
  entry: AuditEntry;
}

export function auditItem(r: AuditRow) {
  const e = r.entry;
  return {
    metadata: {
      name: r.key.startsWith("c") ? `change-${Number(r.key.slice(1))}` : `refusals-${r.at}-${fnv1a64(r.key).toString(16)}`,
      ...(e.objectRef?.namespace ? { namespace: e.objectRef.namespace } : {}),
      creationTimestamp: new Date(r.at).toISOString(),
    },
    stage: "ResponseComplete",
    requestURI: e.uri,
    verb: e.verb,
    user: { username: e.user, groups: e.groups },
    ...(e.objectRef ? { objectRef: e.objectRef } : {}),
    responseStatus: { code: e.code },
    requestReceivedTimestamp: new Date(r.at).toISOString(),
    /** Aggregated refusals: how many, and the last one's time. */
    ...(r.key.startsWith("c") ? {} : { count: r.count, lastTimestamp: new Date(r.last).toISOString() }),
  };
}
