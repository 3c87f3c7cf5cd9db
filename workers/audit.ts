/**
 * The audit trail's two ends in the Worker (shared/audit/trail.ts says what is kept): refused requests
 * tallied per isolate and written behind (clients/tally.ts; their times are the flush's, within a second
 * of the request), at most MAX_PENDING_KEYS keys per isolate between two flushes, the rest counted in the
 * overflow row; and the list, in the API's style:
 *   GET /apis/edge-eventing.dev/v1alpha1/auditevents?user=&namespace=&verb=&resource=&since=&until=&limit=&continue=
 *   GET /apis/edge-eventing.dev/v1alpha1/namespaces/{ns}/auditevents?...   (that namespace's rows)
 * Who may read which is RBAC's `list auditevents` (cluster-wide, or in the namespace).
 */
import { env } from "cloudflare:workers";
import { type Context, Hono } from "hono";
import { includeObjectOf, toTable, wantsTable } from "../shared/kube-api/table.ts";
import type { Manifest } from "../shared/resources/manifest.ts";
import {
  type AuditEntry,
  auditItem,
  bucketOf,
  encodeAuditCursor,
  OVERFLOW_KEY,
  OVERFLOW_USER,
  overflowEntry,
  parseAuditQuery,
  refusalKey,
} from "../shared/audit/trail.ts";
import { invalid } from "../shared/resources/status.ts";
import { control } from "../clients/stubs.ts";
import { Tally } from "../clients/tally.ts";

/** Distinct refusals an isolate holds between two flushes; beyond, they are counted in the overflow row. */
export const MAX_PENDING_KEYS = 1_000;

/** Per bucket and entry; the bucket keeps refusals of different buckets apart within one flush. */
const refusals = new Tally<[number, string]>((batch) => {
  const now = Date.now();
  return control(env as Env).recordRefusals(
    batch.map(([bucket, json, count]) => {
      const entry = JSON.parse(json) as AuditEntry;
      return { key: entry.user === OVERFLOW_USER ? OVERFLOW_KEY : refusalKey(entry), bucket, first: now, last: now, count, entry };
    }),
  );
}, "audit refusals");

export function recordRefusal(entry: AuditEntry, at = Date.now()): void {
  refusals.add([bucketOf(at), JSON.stringify(refusals.size < MAX_PENDING_KEYS ? entry : overflowEntry())]);
}

export const audit = new Hono<{ Bindings: Env }>();
const BASE = "/apis/edge-eventing.dev/v1alpha1";

async function list(c: Context<{ Bindings: Env }>, namespace: string | undefined) {
  const parsed = parseAuditQuery(new URL(c.req.url).searchParams);
  if ("causes" in parsed) return c.json(invalid("AuditEventList", undefined, parsed.causes), 422);
  const query = namespace === undefined ? parsed.query : { ...parsed.query, namespace };
  const rows = await control(env as Env).auditTrail(query, parsed.limit + 1, parsed.cursor);
  const page = rows.slice(0, parsed.limit);
  const last = page.at(-1);
  const more = rows.length > parsed.limit && last !== undefined;
  const items = page.map((r) => ({ apiVersion: "edge-eventing.dev/v1alpha1", kind: "AuditEvent", ...auditItem(r) }));
  // `kubectl get auditevents` asks for a Table.
  if (wantsTable(c.req.header("accept")))
    return c.json(toTable("AuditEvent", items as unknown as Manifest[], includeObjectOf(c.req.query("includeObject")), ""));
  return c.json({
    apiVersion: "edge-eventing.dev/v1alpha1",
    kind: "AuditEventList",
    metadata: more ? { continue: encodeAuditCursor({ at: last.at, key: last.key }) } : {},
    items,
  });
}

audit.get(`${BASE}/auditevents`, (c) => list(c, undefined));
audit.get(`${BASE}/namespaces/:namespace/auditevents`, (c) => list(c, c.req.param("namespace")));
