/**
 * Event history and replay (API.md §6) in the Workers runtime: retention and its cap, search by every
 * field with paging, attempts of retries and failures, and Replay by state, time range and filter, in
 * order per key, as a dry run, stopped by deletion, and beside live traffic.
 */
import { runInDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { auth, broker, brokerMetricsOf, eventually, received, receivedAtLeast, resourcePath, script, settled, trigger } from "../support/client.ts";
import { applyManifest } from "../support/manifests.ts";

const NS = "hist";
const sub = inject("subscriberUrl");
const call = (path: string, init?: RequestInit) => exports.default.fetch(`http://router.test${path}`, init);
const json = { ...auth, "content-type": "application/json" };
const REPLAYS = `/apis/edge-eventing.dev/v1alpha1/namespaces/${NS}/replays`;

const put = (plural: string, body: { metadata: { name: string } }) => applyManifest(call, resourcePath(NS, plural, body.metadata.name), body);

async function send(brokerName: string, events: Record<string, unknown>[]): Promise<void> {
  const r = await call(`/${NS}/${brokerName}`, {
    method: "POST",
    headers: { "content-type": "application/cloudevents-batch+json" },
    body: JSON.stringify(events.map((e) => ({ specversion: "1.0", source: "/hist", type: "hist.t", ...e }))),
  });
  expect(r.status).toBe(202);
}

async function history(brokerName: string, query = ""): Promise<{ status: number; body: any }> {
  const r = await call(`/apis/edge-eventing.dev/v1alpha1/namespaces/${NS}/brokers/${brokerName}/events${query}`, { headers: auth });
  return { status: r.status, body: await r.json() };
}

async function items(brokerName: string, query = ""): Promise<any[]> {
  const r = await history(brokerName, query);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body.items;
}

/** How many events of an id a broker's log holds in storage (durable-objects/broker/event-log.ts), whatever its search shows. */
const stored = (brokerName: string, id: string) =>
  runInDurableObject(
    env.BROKER.getByName(`${NS}/${brokerName}`),
    (_o: unknown, state: DurableObjectState) =>
      state.storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM log l, json_each(l.meta) m WHERE m.value ->> 'i' = ?", id).one().n,
  );

const replay = (name: string, spec: Record<string, unknown>) => ({ apiVersion: "edge-eventing.dev/v1alpha1", kind: "Replay", metadata: { name }, spec });

async function createReplay(body: ReturnType<typeof replay>, dryRun = false): Promise<Response> {
  return call(`${REPLAYS}${dryRun ? "?dryRun=All" : ""}`, { method: "POST", headers: json, body: JSON.stringify(body) });
}

async function replayStatus(name: string): Promise<any> {
  const r = await call(`${REPLAYS}/${name}`, { headers: auth });
  return r.status === 200 ? ((await r.json()) as any).status : null;
}

const finished = (name: string) =>
  eventually(
    async () => {
      const s = await replayStatus(name);
      return s?.conditions?.[0]?.reason !== "Running" ? s : undefined;
    },
    20_000,
    `replay ${name} to finish`,
  );

const quick = { retry: 2, backoffPolicy: "linear", backoffDelay: "PT0.05S" };

describe("history", () => {
  beforeAll(async () => {
    await put("brokers", broker("h"));
    await script(sub, "/h-ok", [{ status: 200 }]);
    await script(sub, "/h-flaky", [{ status: 503, body: "busy", repeat: 2 }, { status: 200 }]);
    await script(sub, "/h-down", [{ status: 500, body: "down for good" }]);
    await put("triggers", trigger("ok", { broker: "h", subscriber: { uri: `${sub}/h-ok` } }));
    await put(
      "triggers",
      trigger("flaky", { broker: "h", filters: [{ exact: { type: "hist.flaky" } }], subscriber: { uri: `${sub}/h-flaky` }, delivery: quick }),
    );
    await put(
      "triggers",
      trigger("down", { broker: "h", filters: [{ exact: { type: "hist.down" } }], subscriber: { uri: `${sub}/h-down` }, delivery: { ...quick, retry: 1 } }),
    );
    await send("h", [
      { id: "a1", source: "/shop", type: "hist.order", subject: "order-1" },
      { id: "a2", source: "/shop", type: "hist.flaky", subject: "order-2" },
      { id: "a3", source: "/bank", type: "hist.down", subject: "acct-9" },
    ]);
    await eventually(
      async () => (await items("h", "?state=failed")).length === 1 && (await items("h", "?trigger=flaky&state=delivered")).length === 1,
      15_000,
      "deliveries to settle",
    );
  });

  it("lists every event newest first with its deliveries; a trigger not listed did not match", async () => {
    const all = await items("h");
    expect(all.map((i) => i.event.id)).toEqual(["a3", "a2", "a1"]);
    const a1 = all[2];
    expect(a1.event).toMatchObject({ specversion: "1.0", id: "a1", source: "/shop", type: "hist.order", subject: "order-1" });
    expect(Date.parse(a1.receivedAt)).toBeGreaterThan(0);
    expect(a1.deliveries).toEqual([
      { trigger: "ok", state: "delivered", attempts: [expect.objectContaining({ status: 200, durationMs: expect.any(Number) })] },
    ]);
  });

  it("records every attempt of a retried delivery and of one that failed for good", async () => {
    const [flaky] = await items("h", "?id=a2");
    const d = flaky.deliveries.find((x: any) => x.trigger === "flaky");
    expect(d.state).toBe("delivered");
    expect(d.attempts.map((a: any) => a.status)).toEqual([503, 503, 200]);
    expect(d.attempts[0]).toMatchObject({ error: "busy" });
    expect(d.attempts.every((a: any) => Date.parse(a.at) > 0 && a.durationMs >= 0)).toBe(true);
    const [down] = await items("h", "?id=a3");
    const failed = down.deliveries.find((x: any) => x.trigger === "down");
    expect(failed.state).toBe("failed");
    expect(failed.attempts.map((a: any) => [a.status, a.error])).toEqual([
      [500, "down for good"],
      [500, "down for good"],
    ]);
  });

  it("searches by id, source, type, subject, time range, trigger and state", async () => {
    const ids = async (q: string) => (await items("h", q)).map((i) => i.event.id);
    expect(await ids("?id=a1")).toEqual(["a1"]);
    expect(await ids("?source=/shop")).toEqual(["a2", "a1"]);
    expect(await ids("?type=hist.down")).toEqual(["a3"]);
    expect(await ids("?subject=order-2")).toEqual(["a2"]);
    expect(await ids("?trigger=flaky")).toEqual(["a2"]);
    expect(await ids("?state=failed")).toEqual(["a3"]);
    expect(await ids("?trigger=ok&state=failed")).toEqual([]);
    const [newest] = await items("h");
    const at = newest.receivedAt;
    expect(await ids(`?since=${encodeURIComponent(at)}`)).toContain("a3");
    expect(await ids(`?until=${encodeURIComponent(new Date(Date.parse(at) - 60_000).toISOString())}`)).toEqual([]);
    expect(await ids(`?since=2000-01-01T00:00:00Z&until=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}&source=/bank`)).toEqual(["a3"]);
  });

  it("pages with continue, and refuses a token from another query and malformed fields by name", async () => {
    const first = await history("h", "?limit=2");
    expect(first.body.items.map((i: any) => i.event.id)).toEqual(["a3", "a2"]);
    const token = first.body.metadata.continue;
    expect(token).toEqual(expect.any(String));
    const second = await history("h", `?limit=2&continue=${encodeURIComponent(token)}`);
    expect(second.body.items.map((i: any) => i.event.id)).toEqual(["a1"]);
    expect(second.body.metadata.continue).toBeUndefined();
    const other = await history("h", `?type=hist.order&continue=${encodeURIComponent(token)}`);
    expect(other.status).toBe(400);
    expect(other.body.details.causes[0].field).toBe("continue");
    expect((await history("h", "?continue=garbage!")).status).toBe(400);
    for (const [query, field] of [
      ["?since=yesterday", "since"],
      ["?until=2026-13-45", "until"],
      ["?state=lost", "state"],
      ["?limit=5000", "limit"],
      ["?trigger=nope", "trigger"],
    ]) {
      const r = await history("h", query);
      expect(r.status, query).toBe(422);
      expect(r.body.details.causes[0].field, query).toBe(field);
    }
  });

  it("answers 404 for an unknown broker", async () => {
    expect((await history("nobody")).status).toBe(404);
  });
});

describe("retention", () => {
  it("PT0S keeps nothing after delivery: the event leaves the log's storage, where PT24H keeps it findable", async () => {
    // Dedup off, so that only the retention decides how long a segment stays.
    const noDedup = { "edge-eventing.dev/dedup-window": "PT0S" };
    await put("brokers", broker("none", { "edge-eventing.dev/retention": "PT0S", ...noDedup }));
    await put("brokers", broker("kept", { "edge-eventing.dev/retention": "PT24H", ...noDedup }));
    await script(sub, "/none", [{ status: 200 }]);
    await put("triggers", trigger("none-all", { broker: "none", subscriber: { uri: `${sub}/none` } }));
    await put("triggers", trigger("kept-all", { broker: "kept", subscriber: { uri: `${sub}/none` } }));
    // The segment the lanes are in stays until a later one is written: n2 comes after n1 in both.
    for (const id of ["n1", "n2"]) {
      await send("none", [{ id }]);
      await send("kept", [{ id }]);
    }
    await receivedAtLeast(sub, "/none", 4);
    await eventually(async () => (await items("kept", "?id=n1")).length === 1, 5_000, "the PT24H broker's event in its history");
    await eventually(async () => (await stored("none", "n1")) === 0, 15_000, "the PT0S broker's delivered event to leave its log");
    expect(await items("none")).toEqual([]);
    expect(await stored("kept", "n1")).toBe(1);
    expect(await items("kept", "?id=n1")).toHaveLength(1);
  });

  it("drops events once their retention has run out", async () => {
    await put("brokers", broker("short", { "edge-eventing.dev/retention": "PT1S" }));
    await put("triggers", trigger("short-all", { broker: "short", subscriber: { uri: `${sub}/short` } }));
    await send("short", [{ id: "s1" }]);
    await eventually(async () => (await items("short")).length === 1, 5_000, "the event in the history");
    await eventually(async () => (await items("short")).length === 0, 15_000, "the event to expire");
  });

  it("keeps events no trigger matched, so they can be found", async () => {
    await send("h", [{ id: "unmatched-1", type: "hist.nobody-wants" }]);
    const [e] = await items("h", "?id=unmatched-1");
    expect(e.deliveries.filter((d: any) => d.trigger !== "ok")).toEqual([]);
  });

  it("keeps at most the cap per partition, evicting the oldest first and counting them in /metrics", async () => {
    await put("brokers", broker("capped", { "edge-eventing.dev/retention-limit": "50" }));
    await put("triggers", trigger("capped-all", { broker: "capped", subscriber: { uri: `${sub}/capped` } }));
    for (let batch = 0; batch < 4; batch++)
      await send(
        "capped",
        Array.from({ length: 100 }, (_, i) => ({ id: `c${batch * 100 + i}` })),
      );
    await receivedAtLeast(sub, "/capped", 400, 20_000);
    // Events still queued are never evicted; once delivered, the cap holds (within one batch of 100).
    const kept = await eventually(
      async () => {
        const list = await items("capped", "?limit=1000");
        return list.length <= 150 ? list : undefined;
      },
      15_000,
      "the cap to hold",
    );
    expect(kept.length).toBeGreaterThanOrEqual(50);
    expect(kept[0].event.id).toBe("c399");
    expect(kept.map((k) => k.event.id)).not.toContain("c0");
    const text = await (await call("/metrics", { headers: auth })).text();
    const evicted = Number(/edge_eventing_history_evicted_total\{namespace="hist",broker="capped"\} (\d+)/.exec(text)?.[1]);
    expect(evicted).toBeGreaterThanOrEqual(400 - 150);
  });

  it("refuses a malformed retention annotation, naming it", async () => {
    const r = await call(resourcePath(NS, "brokers", "bad"), {
      method: "PUT",
      headers: json,
      body: JSON.stringify(broker("bad", { "edge-eventing.dev/retention": "one day" })),
    });
    expect(r.status).toBe(422);
    expect(((await r.json()) as any).details.causes[0].field).toBe("metadata.annotations.edge-eventing.dev/retention");
  });
});

describe("replay", () => {
  beforeAll(async () => {
    await put("brokers", broker("r"));
    await script(sub, "/r-fail", [{ status: 500 }]);
    await put(
      "triggers",
      trigger("rfail", { broker: "r", filters: [{ prefix: { type: "r.fail" } }], subscriber: { uri: `${sub}/r-fail` }, delivery: { retry: 0 } }),
    );
    await put("triggers", trigger("rall", { broker: "r", subscriber: { uri: `${sub}/r-all` } }));
    await send(
      "r",
      Array.from({ length: 6 }, (_, i) => ({ id: `f${i}`, type: i % 2 ? "r.fail.odd" : "r.fail.even" })),
    );
    await eventually(async () => (await items("r", "?trigger=rfail&state=failed")).length === 6, 15_000, "six failures");
  });

  it("redrives every failed delivery of one trigger: dry run counts first and sends nothing, then sends with the replay extension", async () => {
    await script(sub, "/r-fail", [{ status: 200 }]);
    const spec = { broker: "r", from: "2000-01-01T00:00:00Z", triggers: ["rfail"], state: "failed" };
    const dry = await createReplay(replay("redrive", spec), true);
    expect(dry.status).toBe(201);
    expect(((await dry.json()) as any).status.matched).toBe(6);
    expect(await replayStatus("redrive")).toBeNull(); // not stored
    expect(await received(sub, "/r-fail")).toEqual([]);

    expect((await createReplay(replay("redrive", spec))).status).toBe(201);
    const got = await receivedAtLeast(sub, "/r-fail", 6);
    expect(got.map((g) => g.headers["ce-id"]).sort()).toEqual(["f0", "f1", "f2", "f3", "f4", "f5"]);
    expect(got.every((g) => g.headers["ce-replay"] === "redrive")).toBe(true);
    const status = await finished("redrive");
    expect(status).toMatchObject({ matched: 6, delivered: 6, failed: 0, conditions: [{ type: "Ready", status: "True", reason: "Succeeded" }] });
    // The history shows the replayed attempt and the delivery's new state; rall got nothing again.
    const [f0] = await items("r", "?id=f0&trigger=rfail");
    const d = f0.deliveries.find((x: any) => x.trigger === "rfail");
    expect(d.state).toBe("delivered");
    expect(d.attempts.at(-1)).toMatchObject({ status: 200, replay: "redrive" });
    expect((await received(sub, "/r-all")).filter((g) => g.headers["ce-replay"])).toEqual([]);
  });

  it("narrows by time range and by Knative filters", async () => {
    await script(sub, "/r-all", [{ status: 200 }]);
    const [oldest] = await items("r", "?id=f0");
    const from = oldest.receivedAt;
    const spec = { broker: "r", from, to: from, triggers: ["rall"], filters: [{ suffix: { type: ".odd" } }] };
    const dry = (await (await createReplay(replay("odd", spec), true)).json()) as any;
    const inRange = (await items("r", `?since=${encodeURIComponent(from)}&until=${encodeURIComponent(from)}&trigger=rall`)).filter(
      (i) => i.event.type === "r.fail.odd",
    );
    expect(dry.status.matched).toBe(inRange.length);
    expect((await createReplay(replay("odd", { ...spec, to: new Date(Date.now()).toISOString() }))).status).toBe(201);
    const s = await finished("odd");
    expect(s.matched).toBe(3);
    const got = await receivedAtLeast(sub, "/r-all", 3);
    expect(got.map((g) => g.headers["ce-id"]).sort()).toEqual(["f1", "f3", "f5"]);
  });

  it("refuses an unknown trigger, a malformed time and an invalid filter with 422 naming the field, and replays nothing", async () => {
    await script(sub, "/r-all", [{ status: 200 }]);
    const cases: [Record<string, unknown>, string][] = [
      [{ broker: "r", from: "2000-01-01T00:00:00Z", triggers: ["ghost"] }, "spec.triggers[0]"],
      [{ broker: "r", from: "last tuesday" }, "spec.from"],
      [{ broker: "r", from: "2000-01-01T00:00:00Z", filters: [{ cesql: "type = " }] }, "spec.filters[0].cesql"],
      [{ broker: "nobroker", from: "2000-01-01T00:00:00Z" }, "spec.broker"],
      [{ broker: "r", from: "2000-01-01T00:00:00Z", state: "lost" }, "spec.state"],
    ];
    for (const [spec, field] of cases) {
      for (const dry of [true, false]) {
        const r = await createReplay(replay("bad", spec), dry);
        expect(r.status, field).toBe(422);
        expect(
          ((await r.json()) as any).details.causes.map((c: any) => c.field),
          field,
        ).toContain(field);
      }
    }
    expect(await replayStatus("bad")).toBeNull();
    // A replay started would hold rows until sent: the broker settles only after they reached the subscriber.
    await settled(brokerMetricsOf(call, NS, "r"));
    expect(await received(sub, "/r-all")).toEqual([]);
  });

  it("keeps the original order per partition key on an ordered trigger", async () => {
    await put("brokers", broker("ord"));
    await put("triggers", trigger("ordered", { broker: "ord", subscriber: { uri: `${sub}/ord` } }, { "kafka.eventing.knative.dev/delivery.order": "ordered" }));
    const events = Array.from({ length: 30 }, (_, i) => ({ id: `o${i}`, partitionkey: `k${i % 3}` }));
    await send("ord", events);
    await receivedAtLeast(sub, "/ord", 30);
    await script(sub, "/ord", [{ status: 200, delayMs: 5 }]);
    expect((await createReplay(replay("order", { broker: "ord", from: "2000-01-01T00:00:00Z" }))).status).toBe(201);
    const got = await receivedAtLeast(sub, "/ord", 30);
    for (const key of ["k0", "k1", "k2"]) {
      const ids = got.filter((g) => g.headers["ce-partitionkey"] === key).map((g) => Number(g.headers["ce-id"].slice(1)));
      expect(ids).toEqual([...ids].sort((a, b) => a - b));
      expect(ids.length).toBe(10);
    }
  });

  it("retries a replay delivery that fails its first attempt, as a live one, and counts it once", async () => {
    await put("brokers", broker("again"));
    await put("triggers", trigger("twice", { broker: "again", subscriber: { uri: `${sub}/again` }, delivery: quick }));
    await send(
      "again",
      Array.from({ length: 5 }, (_, i) => ({ id: `ag${i}` })),
    );
    await receivedAtLeast(sub, "/again", 5);
    // The five first attempts start together (the replay's half of the parallelism): all fail, the retries pass.
    await script(sub, "/again", [{ status: 503, repeat: 5 }, { status: 200 }]);
    expect((await createReplay(replay("twice", { broker: "again", from: "2000-01-01T00:00:00Z" }))).status).toBe(201);
    expect(await finished("twice")).toMatchObject({ matched: 5, delivered: 5, failed: 0, conditions: [{ reason: "Succeeded" }] });
    const replayed = (await received(sub, "/again")).filter((g) => g.headers["ce-replay"] === "twice").map((g) => g.headers["ce-id"]);
    // Each event: the first attempt (503), then its retry (200).
    for (let i = 0; i < 5; i++) expect(replayed.filter((id) => id === `ag${i}`)).toHaveLength(2);
  });

  it("stops when the Replay is deleted", async () => {
    await put("brokers", broker("stop"));
    await put("triggers", trigger("slow", { broker: "stop", subscriber: { uri: `${sub}/stop` } }, { "edge-eventing.dev/parallelism": "1" }));
    await send(
      "stop",
      Array.from({ length: 40 }, (_, i) => ({ id: `st${i}` })),
    );
    await receivedAtLeast(sub, "/stop", 40);
    await script(sub, "/stop", [{ status: 200, delayMs: 100 }]);
    expect((await createReplay(replay("halt", { broker: "stop", from: "2000-01-01T00:00:00Z" }))).status).toBe(201);
    await receivedAtLeast(sub, "/stop", 3);
    const del = await call(`${REPLAYS}/halt`, { method: "DELETE", headers: auth });
    expect(del.status).toBe(200);
    const atDelete = (await received(sub, "/stop")).length;
    await settled(brokerMetricsOf(call, NS, "stop"));
    // At most the one delivery in flight when it was deleted arrives after.
    expect((await received(sub, "/stop")).length).toBeLessThanOrEqual(atDelete + 1);
    expect(atDelete).toBeLessThan(40);
  });

  it("ends, counting what it could not send as failed, when its trigger is deleted on the way", async () => {
    await put("brokers", broker("drop"));
    await put("triggers", trigger("doomed", { broker: "drop", subscriber: { uri: `${sub}/drop` } }, { "edge-eventing.dev/parallelism": "2" }));
    await send(
      "drop",
      Array.from({ length: 30 }, (_, i) => ({ id: `d${i}` })),
    );
    await receivedAtLeast(sub, "/drop", 30);
    await script(sub, "/drop", [{ status: 200, delayMs: 100 }]);
    expect((await createReplay(replay("orphan", { broker: "drop", from: "2000-01-01T00:00:00Z" }))).status).toBe(201);
    await receivedAtLeast(sub, "/drop", 2);
    expect((await call(resourcePath(NS, "triggers", "doomed"), { method: "DELETE", headers: auth })).status).toBe(200);
    const s = await finished("orphan");
    expect(s.matched).toBe(30);
    expect(s.delivered).toBeLessThan(30);
    expect(s.failed).toBeGreaterThan(0);
    expect(s.conditions[0]).toMatchObject({ status: "False", reason: "Failed" });
  });

  it("does not starve live traffic: replay deliveries take at most half the trigger's parallelism", async () => {
    await put("brokers", broker("busy"));
    await put("triggers", trigger("one", { broker: "busy", subscriber: { uri: `${sub}/busy` } }, { "edge-eventing.dev/parallelism": "4" }));
    await send(
      "busy",
      Array.from({ length: 200 }, (_, i) => ({ id: `b${i}` })),
    );
    await receivedAtLeast(sub, "/busy", 200, 20_000);
    await script(sub, "/busy", [{ status: 200, delayMs: 20 }]);
    expect((await createReplay(replay("bulk", { broker: "busy", from: "2000-01-01T00:00:00Z" }))).status).toBe(201);
    await receivedAtLeast(sub, "/busy", 5);
    const before = (await received(sub, "/busy")).length;
    await send("busy", [{ id: "live-1" }, { id: "live-2" }]);
    const got = await receivedAtLeast(sub, "/busy", 202, 30_000);
    // At most 2 of the 4 slots and 3 queued rows are the replay's: live events pass the rest of it.
    for (const id of ["live-1", "live-2"]) expect(got.findIndex((g) => g.headers["ce-id"] === id) - before).toBeLessThanOrEqual(8);
    // ... long before the replay's end: most of its 200 deliveries came after them.
    const all = await receivedAtLeast(sub, "/busy", 202);
    expect(all.length - 1 - all.findIndex((g) => g.headers["ce-id"] === "live-2")).toBeGreaterThan(150);
    expect((await finished("bulk")).delivered).toBe(200);
  });

  it("yields to live traffic: one replay delivery in flight while live deliveries are slower than usual, its full batch when they are quiet", async () => {
    await put("brokers", broker("calm"));
    const to = (path: string, type: string) => ({ broker: "calm", filters: [{ exact: { type } }], subscriber: { uri: `${sub}${path}` } });
    await put("triggers", trigger("calm-bulk", to("/calm-bulk", "calm.bulk"), { "edge-eventing.dev/parallelism": "20" }));
    await put("triggers", trigger("calm-live", to("/calm-live", "calm.live")));
    // The live trigger's usual latency (its floor), then its deliveries become slow (as when the thread is busy).
    for (let i = 1; i <= 5; i++) {
      await send("calm", [{ id: `usual-${i}`, type: "calm.live" }]);
      await receivedAtLeast(sub, "/calm-live", i);
    }
    await send(
      "calm",
      Array.from({ length: 800 }, (_, i) => ({ id: `c${i}`, type: "calm.bulk" })),
    );
    await receivedAtLeast(sub, "/calm-bulk", 800, 20_000);
    await script(sub, "/calm-live", [{ status: 200, delayMs: 500 }]);
    await script(sub, "/calm-bulk", [{ status: 200, delayMs: 30 }]);
    const inflight = async () => (await brokerMetricsOf(call, NS, "calm")()).inflight["calm-bulk"] ?? 0;
    const fullBatch = () => eventually(async () => (await inflight()) === 10, 10_000, "the replay's full batch (half of 20) in flight");
    expect((await createReplay(replay("calm", { broker: "calm", from: "2000-01-01T00:00:00Z", triggers: ["calm-bulk"] }))).status).toBe(201);
    await fullBatch();
    // Live traffic, each delivery slower than the trigger's usual: the replay backs off to one at a time and stays there.
    let live = 0;
    let flowing = true;
    const sender = (async () => {
      while (flowing) {
        await send("calm", [{ id: `live-${live++}`, type: "calm.live" }]);
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    await eventually(async () => (await inflight()) <= 1, 5_000, "the replay to back off");
    const seen: number[] = [];
    for (let i = 0; i < 15; i++) {
      await new Promise((r) => setTimeout(r, 100));
      seen.push(await inflight());
    }
    flowing = false;
    await sender;
    expect(Math.max(...seen)).toBe(1);
    // Quiet again: the replay speeds up to its full batch.
    await fullBatch();
    expect((await finished("calm")).delivered).toBe(800);
  });
});

describe("a partitioned broker", () => {
  it("searches and pages across partitions newest first, and replays from all of them", async () => {
    await put("brokers", broker("wide", { "edge-eventing.dev/partitions": "4" }));
    await put("triggers", trigger("wide-all", { broker: "wide", subscriber: { uri: `${sub}/wide` } }));
    for (let i = 0; i < 20; i++) await send("wide", [{ id: `w${i}` }]);
    await receivedAtLeast(sub, "/wide", 20);
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const r = await history("wide", `?limit=7${token ? `&continue=${encodeURIComponent(token)}` : ""}`);
      expect(r.status).toBe(200);
      seen.push(...r.body.items.map((i: any) => i.event.id));
      token = r.body.metadata.continue;
      pages++;
    } while (token && pages < 10);
    expect(seen).toEqual(Array.from({ length: 20 }, (_, i) => `w${19 - i}`));
    await script(sub, "/wide", [{ status: 200 }]);
    const dry = (await (await createReplay(replay("wide", { broker: "wide", from: "2000-01-01T00:00:00Z" }), true)).json()) as any;
    expect(dry.status.matched).toBe(20);
    await createReplay(replay("wide", { broker: "wide", from: "2000-01-01T00:00:00Z" }));
    expect(await finished("wide")).toMatchObject({ matched: 20, delivered: 20 });
    expect((await received(sub, "/wide")).length).toBe(20);
  });
});
