/**
 * A broker partition's storage parts on their own, in workerd's SQLite: the event log (segments,
 * positions, expiry, the retention cap) and the store (its table list, reopening, the log's expiry by
 * retention and dedup window). Each test works on an object of its own that was never configured.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { BrokerStore, TABLES } from "../../durable-objects/broker/store.ts";
import { EventLog, type LogEntry, SEGMENT_EVENTS } from "../../durable-objects/broker/event-log.ts";
import { MeteredSql } from "../../durable-objects/storage/metered-sql.ts";
import type { BrokerConfig } from "../../shared/resources/eventing.ts";

let objects = 0;
/** Run `fn` on the storage of a broker object no test used before. */
const onFreshStorage = <T>(fn: (storage: DurableObjectStorage) => T): Promise<T> =>
  runInDurableObject(env.BROKER.getByName(`unit/storage-${++objects}`), (_o: unknown, state: DurableObjectState) => fn(state.storage));

const entry = (id: string, specversion = "1.0"): LogEntry => {
  const attributes = { specversion, id, source: "/unit", type: "unit.t" };
  return { event: { attributes }, body: JSON.stringify(attributes), meta: { s: "/unit", i: id, m: ["t"] } };
};

/** A log on its own table, as the store creates it. */
function logOn(storage: DurableObjectStorage): { log: EventLog; sql: MeteredSql } {
  const sql = new MeteredSql(storage.sql);
  for (const table of TABLES) sql.exec(table.create);
  const log = new EventLog(sql);
  log.reload();
  return { log, sql };
}

const segments = (sql: MeteredSql) =>
  sql
    .exec<{ seq: number; n: number }>("SELECT seq, n FROM log ORDER BY seq")
    .toArray()
    .map((r) => ({ ...r }));

describe("the event log", () => {
  it("writes the events appended together as one row, at consecutive positions, and reads each back by position", async () => {
    const r = await onFreshStorage((storage) => {
      const { log, sql } = logOn(storage);
      const first = log.append([entry("a"), entry("b"), entry("c")], 1_000);
      const second = log.append([entry("d")], 2_000);
      return { first, second, rows: segments(sql), size: log.size, b: log.read(first[1]), gone: log.read(first[2] + 1), end: log.end };
    });
    expect(r.first).toEqual([SEGMENT_EVENTS, SEGMENT_EVENTS + 1, SEGMENT_EVENTS + 2]);
    expect(r.second).toEqual([2 * SEGMENT_EVENTS]);
    expect(r.rows).toEqual([
      { seq: 1, n: 3 },
      { seq: 2, n: 1 },
    ]);
    expect(r.size).toBe(4);
    expect(r.b).toMatchObject({ event: { attributes: { id: "b" } }, meta: { i: "b", m: ["t"] }, arrivedAt: 1_000 });
    expect(r.gone).toBeNull();
    expect(r.end).toBe(3 * SEGMENT_EVENTS);
  });

  it("starts a new segment where the specversion changes, since a segment reads back as one batch", async () => {
    const rows = await onFreshStorage((storage) => {
      const { log, sql } = logOn(storage);
      log.append([entry("a"), entry("b", "0.3"), entry("c", "0.3")], 1_000);
      return segments(sql);
    });
    expect(rows).toEqual([
      { seq: 1, n: 1 },
      { seq: 2, n: 2 },
    ]);
  });

  it("reads the same events after a restart, from storage alone", async () => {
    const r = await onFreshStorage((storage) => {
      const positions = logOn(storage).log.append([entry("a"), entry("b")], 1_000);
      const { log } = logOn(storage);
      return { a: log.read(positions[0])?.event.attributes.id, b: log.read(positions[1])?.meta.i, size: log.size, next: log.append([entry("c")], 2_000) };
    });
    expect(r).toEqual({ a: "a", b: "b", size: 2, next: [2 * SEGMENT_EVENTS] });
  });

  it("expires only segments every lane is past, that no retry pins, older than what is kept; and reuses no position after clearing below the floor", async () => {
    const r = await onFreshStorage((storage) => {
      const { log, sql } = logOn(storage);
      const [a] = log.append([entry("a")], 1_000);
      const [b] = log.append([entry("b")], 2_000);
      const [c] = log.append([entry("c")], 3_000);
      // The lanes are at c: segments of a and b may go, but b is pinned by a retry, and c's is the lanes' own.
      const young = log.expire(4_000, c, new Set(), 10_000, Infinity);
      const afterYoung = segments(sql).length;
      const old = log.expire(20_000, c, new Set([2]), 10_000, Infinity);
      const kept = segments(sql);
      const readA = log.read(a);
      const readB = log.read(b)?.meta.i;
      log.clear();
      log.reload(c + 1);
      return { young, afterYoung, old, kept, readA, readB, next: log.append([entry("d")], 30_000)[0], c };
    });
    expect(r.young).toEqual({ evicted: 0, next: 11_000 });
    expect(r.afterYoung).toBe(3);
    expect(r.old.evicted).toBe(0);
    expect(r.kept).toEqual([
      { seq: 2, n: 1 },
      { seq: 3, n: 1 },
    ]);
    expect(r.readA).toBeNull();
    expect(r.readB).toBe("b");
    expect(r.next).toBeGreaterThan(r.c);
  });

  it("keeps at most the cap, evicting the oldest whole segments whatever their age, and counts them", async () => {
    const r = await onFreshStorage((storage) => {
      const { log, sql } = logOn(storage);
      log.append([entry("a"), entry("b")], 1_000);
      log.append([entry("c"), entry("d")], 1_000);
      const [e] = log.append([entry("e")], 1_000);
      const capped = log.expire(1_500, e, new Set(), 60_000, 3);
      return { capped, rows: segments(sql), size: log.size };
    });
    expect(r.capped.evicted).toBe(2);
    expect(r.rows).toEqual([
      { seq: 2, n: 2 },
      { seq: 3, n: 1 },
    ]);
    expect(r.size).toBe(3);
  });
});

describe("the broker store", () => {
  const config = (retentionMs: number, dedupWindowMs: number) => ({ retentionMs, dedupWindowMs }) as BrokerConfig;

  it("creates nothing before it is opened, then every table it lists; opening again changes nothing", async () => {
    const r = await onFreshStorage((storage) => {
      const store = new BrokerStore(storage);
      const before = store.exists;
      store.open();
      const names = () =>
        storage.sql
          .exec<{ name: string }>(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\' ORDER BY name",
          )
          .toArray()
          .map((t) => t.name);
      const created = names();
      store.log.append([entry("a")], 1_000);
      const again = new BrokerStore(storage);
      again.open();
      return { before, after: store.exists, created, reopened: names(), size: again.log.size };
    });
    expect(r.before).toBe(false);
    expect(r.after).toBe(true);
    expect(r.created).toEqual(TABLES.map((t) => t.name).sort());
    expect(r.reopened).toEqual(r.created);
    expect(r.size).toBe(1);
  });

  it("keeps a segment for the longer of the retention and the dedup window, then deletes it", async () => {
    const r = await onFreshStorage((storage) => {
      const store = new BrokerStore(storage);
      store.open();
      store.log.append([entry("a")], 0);
      store.log.append([entry("b")], 0);
      const held = [];
      for (const [now, c] of [
        [1_000, config(0, 60_000)],
        [59_000, config(0, 60_000)],
        [61_000, config(0, 60_000)],
      ] as const) {
        store.expireSoon();
        store.expire(now, c);
        held.push(store.log.size);
      }
      return held;
    });
    // No lane holds them (no trigger): only the dedup window does; the newest segment goes too.
    expect(r).toEqual([2, 2, 0]);
  });

  it("does not expire before its next due time unless asked, and never without a configuration", async () => {
    const r = await onFreshStorage((storage) => {
      const store = new BrokerStore(storage);
      store.open();
      store.log.append([entry("a")], 0);
      store.expire(10, null);
      const unconfigured = store.log.size;
      store.expire(10, config(0, 0));
      const first = store.log.size;
      store.log.append([entry("b")], 20);
      store.appended(20, config(0, 0));
      store.expire(21, config(0, 0));
      const notDue = store.log.size;
      store.expireSoon();
      store.expire(22, config(0, 0));
      return { unconfigured, first, notDue, due: store.log.size };
    });
    expect(r).toEqual({ unconfigured: 1, first: 0, notDue: 1, due: 0 });
  });
});
