/**
 * The audit trail's tables in the control plane's SQLite (shared/audit/trail.ts says what is kept).
 * `audit_changes`: one rowid row per change, no secondary index (one row written per change). `audit_refusals`:
 * one row per aggregation key and bucket, keyed by (bucket, key) without rowid, so a repeat is one row
 * rewritten. Both are read newest first by (time, key) and pruned by the cron watchdog.
 */
import {
  AUDIT_MAX_CHANGES,
  AUDIT_RETENTION_MS,
  type AuditCursor,
  type AuditEntry,
  type AuditQuery,
  type AuditRow,
  bucketOf,
  OVERFLOW_KEY,
  overflowEntry,
  REFUSAL_KEYS_PER_BUCKET,
  type RefusalTally,
} from "../../shared/audit/trail.ts";

type Sql = Pick<SqlStorage, "exec">;

export class AuditLog {
  private readonly sql: Sql;

  constructor(sql: Sql) {
    this.sql = sql;
    sql.exec(`
      CREATE TABLE IF NOT EXISTS audit_changes (id INTEGER PRIMARY KEY, at INTEGER NOT NULL, entry TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS audit_refusals (
        bucket INTEGER NOT NULL, key TEXT NOT NULL, first_at INTEGER NOT NULL, last_at INTEGER NOT NULL,
        count INTEGER NOT NULL, entry TEXT NOT NULL, PRIMARY KEY (bucket, key)) WITHOUT ROWID;`);
  }

  change(entry: AuditEntry, at = Date.now()): void {
    this.sql.exec("INSERT INTO audit_changes (at, entry) VALUES (?, ?)", at, JSON.stringify(entry));
  }

  /** Add isolates' tallies: a known key counts up; a new one takes a free place of its bucket, or the overflow row. */
  refusals(batch: RefusalTally[]): void {
    for (const t of batch) {
      const bucket = bucketOf(t.bucket);
      const known =
        this.sql.exec("UPDATE audit_refusals SET count = count + ?, last_at = max(last_at, ?) WHERE bucket = ? AND key = ?", t.count, t.last, bucket, t.key)
          .rowsWritten > 0;
      if (known) continue;
      const used = this.sql.exec<{ n: number }>("SELECT count(*) AS n FROM audit_refusals WHERE bucket = ? AND key != ?", bucket, OVERFLOW_KEY).one().n;
      const [key, entry] = used < REFUSAL_KEYS_PER_BUCKET && t.key !== OVERFLOW_KEY ? [t.key, t.entry] : [OVERFLOW_KEY, overflowEntry()];
      this.sql.exec(
        "INSERT INTO audit_refusals (bucket, key, first_at, last_at, count, entry) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET count = count + excluded.count, last_at = max(last_at, excluded.last_at)",
        bucket,
        key,
        t.first,
        t.last,
        t.count,
        JSON.stringify(entry),
      );
    }
  }

  /** A page newest first, from below `cursor`, of the rows matching every field of `q`. */
  list(q: AuditQuery, limit: number, cursor?: AuditCursor): AuditRow[] {
    const where: string[] = [];
    const args: unknown[] = [];
    const when = (test: string, ...values: unknown[]) => {
      where.push(test);
      args.push(...values);
    };
    if (q.user !== undefined) when("entry ->> '$.user' = ?", q.user);
    if (q.namespace !== undefined) when("entry ->> '$.objectRef.namespace' = ?", q.namespace);
    if (q.verb !== undefined) when("entry ->> '$.verb' = ?", q.verb);
    if (q.resource !== undefined) when("entry ->> '$.objectRef.resource' = ?", q.resource);
    if (q.since !== undefined) when("at >= ?", q.since);
    if (q.until !== undefined) when("at <= ?", q.until);
    if (cursor) when("(at, key) < (?, ?)", cursor.at, cursor.key);
    const rows = this.sql.exec<{ key: string; at: number; last: number; count: number; entry: string }>(
      `SELECT * FROM (
         SELECT printf('c%016d', id) AS key, at, at AS last, 1 AS count, entry FROM audit_changes
         UNION ALL
         SELECT 'r' || bucket || key, first_at, last_at, count, entry FROM audit_refusals)
       ${where.length > 0 ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY at DESC, key DESC LIMIT ?`,
      ...args,
      limit,
    );
    return rows.toArray().map((r) => ({ key: r.key, at: r.at, last: r.last, count: r.count, entry: JSON.parse(r.entry) }));
  }

  /** Drop what is past retention, and the oldest changes beyond the cap. */
  prune(now = Date.now()): void {
    const cutoff = now - AUDIT_RETENTION_MS;
    this.sql.exec("DELETE FROM audit_changes WHERE at < ?", cutoff);
    this.sql.exec("DELETE FROM audit_changes WHERE id <= (SELECT max(id) FROM audit_changes) - ?", AUDIT_MAX_CHANGES);
    this.sql.exec("DELETE FROM audit_refusals WHERE bucket < ?", bucketOf(cutoff));
  }
}
