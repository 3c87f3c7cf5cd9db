/**
 * The broker's storage bill: SQLite rows written and read per delivered event, from the broker's own
 * `rows_written` / `rows_read` counters (summed from `cursor.rowsWritten` / `cursor.rowsRead` of every
 * statement). Each scenario runs on a broker of its own, so its rows are its own.
 */
import { runInDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { describe, expect, inject, it } from "vitest";
import { Broker } from "../../durable-objects/broker.ts";
import { stub } from "../../clients/stubs.ts";
import type { BrokerMetrics } from "../../shared/resources/broker-api.ts";
import { auth, binaryEvent, broker, eventually, receivedAtLeast, resourcePath, script, trigger } from "../support/client.ts";

const NS = "store";
const sub = inject("subscriberUrl");
const fetchRouter = (path: string, init?: RequestInit) => exports.default.fetch(`http://router.test${path}`, init);
const brokerStub = (name: string) => stub(env, "BROKER", `${NS}/${name}`);
const counter = (m: BrokerMetrics, name: string, t = "") => m.counters.filter((c) => c.trigger === t && c.name === name).reduce((n, c) => n + c.value, 0);
const fast = { retry: 10, backoffPolicy: "linear", backoffDelay: "PT0.05S" };
const EVENTS = 24;

async function apply(plural: string, body: { metadata: { name: string } }) {
  const r = await fetchRouter(resourcePath(NS, plural, body.metadata.name), {
    method: "PUT",
    headers: { ...auth, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  expect(r.status).toBeLessThan(300);
}

/** (The retry scenario alternates 503 and 200 on one path: one failed attempt per event on average.) */
/** Rows per event of sending EVENTS events (8 senders) to a broker until `done` says they all arrived. */
async function rowsPerEvent(name: string, done: () => Promise<unknown>, finished = "delivered", triggers = 1) {
  const b = brokerStub(name);
  const before = await b.metrics();
  for (let wave = 0; wave < EVENTS; wave += 8) {
    const sent = await Promise.all(Array.from({ length: 8 }, (_, i) => fetchRouter(`/${NS}/${name}`, binaryEvent(`${name}-${wave + i}`, `${name}.t`))));
    expect(sent.map((r) => r.status)).toEqual(Array(8).fill(202));
  }
  await done();
  const after = await eventually(
    async () => {
      const m = await b.metrics();
      return m.backlog === 0 && m.counters.filter((c) => c.name === finished).reduce((n, c) => n + c.value, 0) >= EVENTS * triggers ? m : undefined;
    },
    15_000,
    `${name}: all settled`,
  );
  const perEvent = (n: string) => (counter(after, n) - counter(before, n)) / EVENTS;
  const figures = { scenario: name, rowsWritten: perEvent("rows_written"), rowsRead: perEvent("rows_read") };
  console.log(`ROWS ${JSON.stringify(figures)}`);
  return figures;
}

describe("storage rows per event", () => {
  it("first-attempt success to one trigger", async () => {
    await apply("brokers", broker("ok"));
    await apply("triggers", trigger("ok", { broker: "ok", filters: [{ exact: { type: "ok.t" } }], subscriber: { uri: `${sub}/store-ok` } }));
    const r = await rowsPerEvent("ok", () => receivedAtLeast(sub, "/store-ok", EVENTS));
    expect(r.rowsWritten).toBeGreaterThan(0);
    // The log's segment (shared by the events of one turn) and the cursor: no row per delivery.
    expect(r.rowsWritten).toBeLessThanOrEqual(1);
    // The same counts reach /metrics, where a user sees the bill coming.
    const text = await (await fetchRouter("/metrics", { headers: auth })).text();
    const written = Number(text.match(/^edge_eventing_storage_rows_written_total\{namespace="store",broker="ok"\} (\d+)$/m)?.[1]);
    expect(written).toBeGreaterThanOrEqual(r.rowsWritten * EVENTS);
    expect(text).toMatch(/^edge_eventing_storage_rows_read_total\{namespace="store",broker="ok"\} \d+$/m);
  });

  it("one retry, then success", async () => {
    await script(sub, "/store-retry", Array.from({ length: EVENTS }, () => [{ status: 503 }, { status: 200 }]).flat());
    await apply("brokers", broker("retry"));
    await apply(
      "triggers",
      trigger("retry", { broker: "retry", filters: [{ exact: { type: "retry.t" } }], subscriber: { uri: `${sub}/store-retry` }, delivery: fast }),
    );
    const r = await rowsPerEvent("retry", () => receivedAtLeast(sub, "/store-retry", EVENTS * 2, 15_000));
    // The failed first attempt writes the retry's row (and its index entry), the success deletes them.
    expect(r.rowsWritten).toBeLessThanOrEqual(8);
  });

  it("dead letter after a non-retryable failure", async () => {
    await script(sub, "/store-reject", [{ status: 400 }]);
    await apply("brokers", broker("dead"));
    await apply(
      "triggers",
      trigger("dead", {
        broker: "dead",
        filters: [{ exact: { type: "dead.t" } }],
        subscriber: { uri: `${sub}/store-reject` },
        delivery: { ...fast, deadLetterSink: { uri: `${sub}/store-dls` } },
      }),
    );
    const r = await rowsPerEvent("dead", () => receivedAtLeast(sub, "/store-dls", EVENTS, 15_000), "deadlettered");
    expect(r.rowsWritten).toBeLessThanOrEqual(6);
  });

  it("fan-out to 10 triggers", async () => {
    await apply("brokers", broker("fan"));
    for (let i = 0; i < 10; i++)
      await apply("triggers", trigger(`fan-${i}`, { broker: "fan", filters: [{ exact: { type: "fan.t" } }], subscriber: { uri: `${sub}/store-fan` } }));
    const r = await rowsPerEvent("fan", () => receivedAtLeast(sub, "/store-fan", EVENTS * 10, 20_000), "delivered", 10);
    expect(r.rowsWritten).toBeLessThanOrEqual(2);
  });

  it("the events of one turn share one row of the log (group commit)", async () => {
    await apply("brokers", broker("group"));
    for (let wave = 0; wave < 5; wave++) {
      const sent = await Promise.all(Array.from({ length: 8 }, (_, i) => fetchRouter(`/${NS}/group`, binaryEvent(`group-${wave}-${i}`, "group.t"))));
      expect(sent.map((r) => r.status)).toEqual(Array(8).fill(202));
    }
    const log = await runInDurableObject(env.BROKER.getByName(`${NS}/group`), (_o: unknown, state: DurableObjectState) =>
      state.storage.sql.exec<{ rows: number; events: number }>("SELECT count(*) AS rows, sum(n) AS events FROM log").one(),
    );
    expect(log.events).toBe(40);
    // Eight concurrent senders, five waves: about a row per wave (at least four events per row on average).
    expect(log.rows).toBeLessThanOrEqual(10);
  });
});

describe("storage rows per event, retention on and off (API.md section 6)", () => {
  // The history keeps the event row instead of deleting it and records attempts in that row, gathered per
  // second: a delivered event costs no more rows with retention than without (its delete comes at expiry).
  for (const triggers of [1, 10]) {
    it(`${triggers} trigger(s): PT24H writes no more rows per delivered event than PT0S`, async () => {
      const figures: Record<string, number> = {};
      for (const retention of ["PT0S", "PT24H"]) {
        const name = `ret${triggers}-${retention.toLowerCase()}`;
        await apply("brokers", broker(name, { "edge-eventing.dev/retention": retention }));
        for (let i = 0; i < triggers; i++)
          await apply(
            "triggers",
            trigger(`${name}-${i}`, { broker: name, filters: [{ exact: { type: `${name}.t` } }], subscriber: { uri: `${sub}/store-${name}` } }),
          );
        figures[retention] = (
          await rowsPerEvent(name, () => receivedAtLeast(sub, `/store-${name}`, EVENTS * triggers, 20_000), "delivered", triggers)
        ).rowsWritten;
      }
      expect(figures.PT24H).toBeLessThanOrEqual(figures.PT0S + 0.5);
    });
  }
});

describe("storage rows per replayed delivery (API.md section 6)", () => {
  // A replay is a lane through the log: a first attempt that succeeds writes nothing; its cursor and counts
  // are one row written at most once a second, and the attempts are recorded on their segments' rows.
  it("a Replay of 400 retained events writes a small fraction of a row per delivery", async () => {
    const name = "replayed";
    const n = 400;
    await apply("brokers", broker(name, { "edge-eventing.dev/retention": "PT24H" }));
    await apply("triggers", trigger(name, { broker: name, subscriber: { uri: `${sub}/store-${name}` } }));
    for (let i = 0; i < n; i += 100) {
      const batch = Array.from({ length: 100 }, (_, j) => ({ specversion: "1.0", id: `${name}-${i + j}`, source: "/store", type: "replayed.t" }));
      const r = await fetchRouter(`/${NS}/${name}`, {
        method: "POST",
        headers: { "content-type": "application/cloudevents-batch+json" },
        body: JSON.stringify(batch),
      });
      expect(r.status).toBe(202);
    }
    await receivedAtLeast(sub, `/store-${name}`, n, 20_000);
    const b = brokerStub(name);
    const settledCount = async () => {
      const m = await b.metrics();
      return counter(m, "delivered", name);
    };
    await eventually(async () => ((await settledCount()) >= n ? true : undefined), 15_000, "first deliveries counted");
    const before = await b.metrics();
    const replays = `/apis/edge-eventing.dev/v1alpha1/namespaces/${NS}/replays`;
    const body = {
      apiVersion: "edge-eventing.dev/v1alpha1",
      kind: "Replay",
      metadata: { name: "again" },
      spec: { broker: name, from: "2000-01-01T00:00:00Z" },
    };
    const created = await fetchRouter(replays, { method: "POST", headers: { ...auth, "content-type": "application/json" }, body: JSON.stringify(body) });
    expect(created.status).toBe(201);
    await receivedAtLeast(sub, `/store-${name}`, 2 * n, 20_000);
    const status = await eventually(
      async () => {
        const r = (await (await fetchRouter(`${replays}/again`, { headers: auth })).json()) as {
          status?: { delivered?: number; conditions?: { reason: string }[] };
        };
        return r.status?.conditions?.[0]?.reason === "Succeeded" ? r.status : undefined;
      },
      15_000,
      "the replay to finish",
    );
    expect(status.delivered).toBe(n);
    // Whatever is still gathered in memory (attempt records, counters) reaches storage before counting.
    const after = await eventually(
      async () => {
        const m = await b.metrics();
        return counter(m, "delivered", name) - counter(before, "delivered", name) >= n ? m : undefined;
      },
      15_000,
      "replay deliveries counted",
    );
    const perDelivery = (counter(after, "rows_written") - counter(before, "rows_written")) / n;
    console.log(`ROWS ${JSON.stringify({ scenario: "replay", rowsWritten: perDelivery })}`);
    expect(perDelivery).toBeLessThanOrEqual(0.25);
  });
});

describe("schema upgrade", () => {
  it("moves a queue stored by earlier schemas (lease column, NOT NULL pkey, a row per event) into the log and the current table, ids and rows kept", async () => {
    const stub = env.BROKER.getByName(`${NS}/upgrade`);
    const body = JSON.stringify({ specversion: "1.0", id: "old-1", source: "/old", type: "old.t", data: { n: 1.5 } }).replace("1.5", "1.50");
    const after = await runInDurableObject(stub, (_o: unknown, state: DurableObjectState) => {
      const sql = state.storage.sql;
      // An object of the previous schema: configured (a config table), a queue in the old deliveries table.
      sql.exec("CREATE TABLE config (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID");
      sql.exec("CREATE TABLE events (seq INTEGER PRIMARY KEY AUTOINCREMENT, arrived_at INTEGER NOT NULL, body TEXT NOT NULL, headers TEXT)");
      sql.exec("CREATE TABLE dedup (source TEXT NOT NULL, id TEXT NOT NULL, expires_at INTEGER NOT NULL, PRIMARY KEY (source, id)) WITHOUT ROWID");
      sql.exec(`CREATE TABLE deliveries (id INTEGER PRIMARY KEY AUTOINCREMENT, event_seq INTEGER NOT NULL, trigger TEXT NOT NULL, pkey TEXT NOT NULL,
        phase TEXT NOT NULL DEFAULT 'subscriber', attempt INTEGER NOT NULL DEFAULT 0, next_at INTEGER NOT NULL, lease_until INTEGER NOT NULL DEFAULT 0, error TEXT,
        due_at INTEGER GENERATED ALWAYS AS (max(next_at, lease_until)) VIRTUAL)`);
      sql.exec(
        "INSERT INTO events (seq, arrived_at, body, headers) VALUES (1, 0, ?, ?)",
        body,
        JSON.stringify({ traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" }),
      );
      sql.exec("INSERT INTO deliveries (id, event_seq, trigger, pkey, attempt, next_at, lease_until) VALUES (41, 1, 't', 'k', 2, 5, 99)");
      const upgraded = new Broker(state, env);
      const rows = sql.exec("SELECT id, trigger, pkey, attempt, next_at FROM deliveries").toArray();
      const pos = sql.exec<{ event_seq: number }>("SELECT event_seq FROM deliveries").one().event_seq;
      const segment = sql.exec<{ events: string; meta: string }>("SELECT events, meta FROM log WHERE seq = ?", Math.floor(pos / 4096)).one();
      const tables = sql
        .exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table'")
        .toArray()
        .map((t) => t.name);
      const columns = sql.exec<{ sql: string }>("SELECT sql FROM sqlite_master WHERE name = 'deliveries'").one().sql;
      sql.exec("INSERT INTO deliveries (event_seq, trigger, pkey, next_at) VALUES (1, 't', NULL, 0)");
      const next = sql.exec<{ id: number }>("SELECT max(id) AS id FROM deliveries").one().id;
      return { rows, segment, index: pos % 4096, tables, columns, next, backlog: upgraded.metrics().backlog };
    });
    expect(after.rows).toEqual([{ id: 41, trigger: "t", pkey: "k", attempt: 2, next_at: 5 }]);
    // The queued delivery points at the event, moved byte for byte into the log with its headers.
    expect(after.segment.events).toBe(`[${body}]`);
    expect(after.index).toBe(0);
    expect(JSON.parse(after.segment.meta)).toEqual([
      { s: "/old", i: "old-1", m: [], q: 1, h: { traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" } },
    ]);
    expect(after.tables).not.toContain("events");
    expect(after.tables).not.toContain("dedup");
    expect(after.columns).not.toContain("lease_until");
    expect(after.next).toBe(42);
    expect(after.backlog).toBe(1);
  });
});
