/**
 * An object's SQLite with a meter: the rows every statement wrote and read (`cursor.rowsWritten`,
 * `cursor.rowsRead`), summed, because rows written are what Durable Objects bill for storage. A cursor's
 * counts are taken when the next statement starts (or `settle()` is called): by then every caller has read
 * its cursor to the end.
 */

/** A table's schema, owned by the module that reads and writes it (a broker's are listed in broker/store.ts). */
export interface Table {
  name: string;
  /** Idempotent: the table (and its indexes) as this version has it. */
  create: string;
  /** Bring a table of an earlier schema up to this one; runs before `create`. */
  migrate?(sql: MeteredSql, transaction: (fn: () => void) => void): void;
}

export class MeteredSql {
  rowsWritten = 0;
  rowsRead = 0;
  private last: SqlStorageCursor<Record<string, SqlStorageValue>> | null = null;

  private readonly sql: SqlStorage;

  constructor(sql: SqlStorage) {
    this.sql = sql;
  }

  exec<T extends Record<string, SqlStorageValue>>(query: string, ...bindings: unknown[]): SqlStorageCursor<T> {
    this.settle();
    const cursor = this.sql.exec<T>(query, ...bindings);
    this.last = cursor as unknown as SqlStorageCursor<Record<string, SqlStorageValue>>;
    return cursor;
  }

  /** Add the last statement's counts; returns the totals. */
  settle(): { rowsWritten: number; rowsRead: number } {
    if (this.last) {
      this.rowsWritten += this.last.rowsWritten;
      this.rowsRead += this.last.rowsRead;
      this.last = null;
    }
    return { rowsWritten: this.rowsWritten, rowsRead: this.rowsRead };
  }
}
