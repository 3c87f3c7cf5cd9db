/**
 * The audit trail's two ends in the Worker (shared/audit/trail.ts says what is kept): refused requests
 * tallied per aggregation key and written behind (clients/tally.ts), at most MAX_PENDING_KEYS keys
 * per isolate between two flushes, the rest counted in the overflow row; and the list, in the API's style:
 *   GET /apis/edge-eventing.dev/v1alpha1/auditevents?user=&namespace=&verb=&resource=&since=&until=&limit=&continue=
 *   GET /apis/edge-eventing.dev/v1alpha1/namespaces/{ns}/auditevents?...   (that namespace's rows)
 * Who may read which is RBAC's `list auditevents` (cluster-wide, or in the namespace).
 */
import { env } from "cloudflare:workers";
import { type Context, Hono } from "hono";
import { includeObjectOf, toTable, wantsTable } from "../shared/kube-api/table.ts";
import type { Manifest } from "../shared/resources/manifest.ts";
import { type AuditEntry, auditItem, bucketOf, encodeAuditCursor, OVERFLOW_KEY, overflowEntry, parseAuditQuery, refusalKey, type RefusalTally } from "../shared/audit/trail.ts";
import { invalid } from "../shared/resources/status.ts";
import { control } from "../clients/stubs.ts";
import { tally } from "../clients/tally.ts";

/** Distinct refusal keys an isolate holds between two flushes. */
export const MAX_PENDING_KEYS = 1_000;

const refusals = tally<RefusalTally>(
  "audit refusals",
  (pending, key, t) => {
    const slot = pending.has(key) || pending.size < MAX_PENDING_KEYS ? key : OVERFLOW_KEY;
    const was = pending.get(slot);
    if (was) pending.set(slot, { ...was, count: was.count + t.count, last: Math.max(was.last, t.last) });
    else pending.set(slot, slot === key ? t : { ...t, key: OVERFLOW_KEY, entry: overflowEntry() });
  },
  (batch) => control(env as Env).recordRefusals(batch),
);

export function recordRefusal(entry: AuditEntry, at = Date.now()): void {
  const key = refusalKey(entry);
  // A new bucket starts a new row: the key carries it so that one flush keeps buckets apart.
  refusals(`${bucketOf(at)}${key}`, { key, bucket: bucketOf(at), first: at, last: at, count: 1, entry });
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
  if (wantsTable(c.req.header("accept"))) return c.json(toTable("AuditEvent", items as unknown as Manifest[], includeObjectOf(c.req.query("includeObject")), ""));
  return c.json({ apiVersion: "edge-eventing.dev/v1alpha1", kind: "AuditEventList", metadata: more ? { continue: encodeAuditCursor({ at: last.at, key: last.key }) } : {}, items });
}

audit.get(`${BASE}/auditevents`, (c) => list(c, undefined));
audit.get(`${BASE}/namespaces/:namespace/auditevents`, (c) => list(c, c.req.param("namespace")));
