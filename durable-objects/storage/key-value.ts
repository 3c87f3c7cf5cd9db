/**
 * A small key-value table inside an object's SQLite, for the few settings each object keeps beside its
 * real tables (a pushed configuration, a version, a status). Writes are synchronous, so they join the
 * object's implicit transaction like any other SQL statement.
 */

/** The schema of a key-value table named `table`. */
export const keyValueSchema = (table: string): string => `CREATE TABLE IF NOT EXISTS ${table} (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID`;

export class KeyValueTable {
  private readonly sql: Pick<SqlStorage, "exec">;
  private readonly table: string;

  /** `table` is a constant of the calling class, never user input. */
  constructor(sql: Pick<SqlStorage, "exec">, table: string) {
    this.sql = sql;
    this.table = table;
    sql.exec(keyValueSchema(table));
  }

  get(key: string): string | null {
    return this.sql.exec<{ value: string }>(`SELECT value FROM ${this.table} WHERE key = ?`, key).toArray()[0]?.value ?? null;
  }

  getJson<T>(key: string): T | null {
    const text = this.get(key);
    return text === null ? null : (JSON.parse(text) as T);
  }

  put(key: string, text: string): void {
    this.sql.exec(`INSERT OR REPLACE INTO ${this.table} (key, value) VALUES (?, ?)`, key, text);
  }

  putJson(key: string, value: unknown): void {
    this.put(key, JSON.stringify(value));
  }

  /** Delete the given keys, or every key when none is given. */
  delete(...keys: string[]): void {
    if (keys.length === 0) this.sql.exec(`DELETE FROM ${this.table}`);
    else this.sql.exec(`DELETE FROM ${this.table} WHERE key IN (SELECT value FROM json_each(?))`, JSON.stringify(keys));
  }
}
