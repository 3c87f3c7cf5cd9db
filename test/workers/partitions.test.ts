/**
 * Partitioned brokers (API.md §5) and the routing table in front of every broker object: unknown brokers
 * are refused without creating an object, events go to the partition that owns them, dedup stays exact,
 * every trigger sees every event, ordered triggers keep order per key, and N grows without loss.
 */
import { env, exports } from "cloudflare:workers";
import { listDurableObjectIds, runInDurableObject } from "cloudflare:test";
import { describe, expect, inject, it } from "vitest";
import { partitionObjectName, partitionOf } from "../../shared/partitions.ts";
import { resolveContext } from "../../workers/context.ts";
import { deliveryScenarios } from "../scenarios/delivery.ts";
import {
  auth,
  binaryEvent,
  broker,
  brokerMetricsOf,
  eventually,
  received,
  receivedAtLeast,
  resourcePath,
  script,
  settled,
  trigger,
} from "../support/client.ts";
import { putManifest } from "../support/manifests.ts";
import type { Received } from "../support/subscriber.ts";

const fetchRouter = (path: string, init?: RequestInit) => exports.default.fetch(`http://router.test${path}`, init);

const apply = (ns: string, plural: string, body: { metadata: { name: string } }) =>
  putManifest(fetchRouter, resourcePath(ns, plural, body.metadata.name), body);

describe("unknown brokers", () => {
  it("answer 404 naming the broker and create no broker object, however many random paths are tried", async () => {
    expect((await apply("known", "brokers", broker("b"))).status).toBe(201);
    const before = (await listDurableObjectIds(env.BROKER)).length;
    // Concurrent misses share one refresh of the routing table.
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => fetchRouter(`/rnd-${i}/foo-${i}`, binaryEvent(`e-${i}`))));
    for (const [i, r] of answers.entries()) {
      expect(r.status).toBe(404);
      expect(await r.json()).toEqual({ error: `broker rnd-${i}/foo-${i} not found` });
    }
    expect((await fetchRouter("/known/nope", binaryEvent("x"))).status).toBe(404);
    expect((await listDurableObjectIds(env.BROKER)).length).toBe(before);
    expect((await fetchRouter("/known/b", binaryEvent("ok"))).status).toBe(202);
  });

  it("a broker object that was never configured creates no tables, even when called directly", async () => {
    const stub = env.BROKER.getByName("direct/never");
    const r = await stub.ingest([{ attributes: { specversion: "1.0", id: "1", source: "/s", type: "t" }, data: undefined }] as never);
    expect(r.status).toBe(404);
    expect(await stub.metrics()).toEqual({ backlog: 0, inflight: {}, dead: 0, counters: [] });
    expect(await stub.deadLetters(10)).toEqual([]);
    await stub.configure(null, 1);
    const tables = await runInDurableObject(stub, (_, state) => state.storage.sql.exec("SELECT name FROM sqlite_master").toArray());
    expect(tables).toEqual([]);
  });
});

const sub = inject("subscriberUrl");
const NS = "part";
const PARTITIONS = { "edge-eventing.dev/partitions": "4" };
/** This file's own paths on the shared subscriber. */
const mine = `${sub}/partitions-test`;

// Every delivery behaviour, again on brokers of four partitions.
deliveryScenarios({ fetch: fetchRouter, subscriber: () => `${sub}/dlv4` }, "dlv4", PARTITIONS);

const batch = (events: Record<string, unknown>[]): RequestInit => ({
  method: "POST",
  headers: { "content-type": "application/cloudevents-batch+json" },
  body: JSON.stringify(events),
});
const ev = (id: string, extra: Record<string, unknown> = {}) => ({ specversion: "1.0", id, source: "/part", type: "part.t", ...extra });
const accepted = async (name: string, p: number) =>
  (await env.BROKER.getByName(partitionObjectName(NS, name, p)).metrics()).counters.find((c) => c.trigger === "" && c.name === "accepted")?.value ?? 0;
const ids = (got: Received[]) => got.map((r) => r.headers["ce-id"]);

describe("partitioned brokers", () => {
  it("store each event in the partition of its partitionkey, else of its (source, id), and every trigger sees every event", async () => {
    expect((await apply(NS, "brokers", broker("r", PARTITIONS))).status).toBe(201);
    await script(mine, "/r-a", [{ status: 200 }]);
    await script(mine, "/r-b", [{ status: 200 }]);
    expect((await apply(NS, "triggers", trigger("r-a", { broker: "r", subscriber: { uri: `${mine}/r-a` } }))).status).toBe(201);
    expect((await apply(NS, "triggers", trigger("r-b", { broker: "r", subscriber: { uri: `${mine}/r-b` } }))).status).toBe(201);
    const events = [
      ...Array.from({ length: 40 }, (_, i) => ev(`r-${i}`)),
      ...Array.from({ length: 20 }, (_, i) => ev(`rk-${i}`, { partitionkey: i % 2 ? "cart-1" : "cart-2" })),
    ];
    expect((await fetchRouter(`/${NS}/r`, batch(events))).status).toBe(202);
    const expected = [0, 0, 0, 0];
    for (const e of events) expected[partitionOf({ attributes: e as never, data: undefined }, 4)]++;
    expect(expected.every((n) => n > 0)).toBe(true);
    expect(await Promise.all([0, 1, 2, 3].map((p) => accepted("r", p)))).toEqual(expected);
    // The keyed events sit together: all of one key in one partition.
    expect(
      new Set(
        events.filter((e) => (e as Record<string, unknown>).partitionkey === "cart-1").map((e) => partitionOf({ attributes: e as never, data: undefined }, 4)),
      ).size,
    ).toBe(1);
    for (const path of ["/r-a", "/r-b"]) expect(ids(await receivedAtLeast(mine, path, 60)).sort()).toEqual(events.map((e) => e.id).sort());
    const text = await (await fetchRouter("/metrics", { headers: auth })).text();
    for (const p of [0, 1, 2, 3]) expect(text).toContain(`edge_eventing_events_accepted_total{namespace="${NS}",broker="r",partition="${p}"} ${expected[p]}`);
    const m = (await (await fetchRouter(`/apis/eventing.knative.dev/v1/namespaces/${NS}/brokers/r/metrics`, { headers: auth })).json()) as any;
    expect(m.partitions).toBe(4);
    expect(m.counters.find((c: any) => c.trigger === "" && c.name === "accepted").value).toBe(60);
  });

  it("deduplicate (source, id) exactly: within a request, across requests, and across partitions' batches", async () => {
    expect((await apply(NS, "brokers", broker("d", PARTITIONS))).status).toBe(201);
    await script(mine, "/d", [{ status: 200 }]);
    expect((await apply(NS, "triggers", trigger("d", { broker: "d", subscriber: { uri: `${mine}/d` } }))).status).toBe(201);
    const events = Array.from({ length: 20 }, (_, i) => ev(`d-${i}`));
    expect((await fetchRouter(`/${NS}/d`, batch([...events, events[3], events[7]]))).status).toBe(202);
    expect((await fetchRouter(`/${NS}/d`, batch(events))).status).toBe(202);
    expect((await fetchRouter(`/${NS}/d`, binaryEvent("d-5"))).status).toBe(202); // source /test: another event
    await receivedAtLeast(mine, "/d", 21);
    await settled(brokerMetricsOf(fetchRouter, NS, "d"));
    expect(ids(await received(mine, "/d")).sort()).toEqual([...events.map((e) => e.id), "d-5"].sort());
    const m = (await (await fetchRouter(`/apis/eventing.knative.dev/v1/namespaces/${NS}/brokers/d/metrics`, { headers: auth })).json()) as any;
    expect(m.counters.find((c: any) => c.trigger === "" && c.name === "duplicates").value).toBe(22);
  });

  it("keep order per partitionkey on an ordered trigger across partitions, through retries", async () => {
    expect((await apply(NS, "brokers", broker("o", PARTITIONS))).status).toBe(201);
    await script(mine, "/o", [
      { status: 503, repeat: 6 },
      { status: 200, delayMs: 5 },
    ]);
    const t = trigger(
      "o",
      { broker: "o", subscriber: { uri: `${mine}/o` }, delivery: { retry: 10, backoffPolicy: "linear", backoffDelay: "PT0.05S" } },
      { "kafka.eventing.knative.dev/delivery.order": "ordered" },
    );
    expect((await apply(NS, "triggers", t)).status).toBe(201);
    const keys = Array.from({ length: 8 }, (_, k) => `key-${k}`);
    expect(new Set(keys.map((k) => partitionOf({ attributes: { partitionkey: k }, data: undefined } as never, 4))).size).toBeGreaterThan(1);
    for (let n = 0; n < 4; n++) expect((await fetchRouter(`/${NS}/o`, batch(keys.map((k) => ev(`${k}/${n}`, { partitionkey: k }))))).status).toBe(202);
    const got = await receivedAtLeast(mine, "/o", 32 + 6, 20_000);
    const delivered = ids(got.slice(6));
    for (const k of keys) expect(delivered.filter((id) => id.startsWith(`${k}/`))).toEqual([0, 1, 2, 3].map((n) => `${k}/${n}`));
  });

  it("grow under load: nothing lost, nothing duplicated, duplicates of events from before the growth still caught", async () => {
    expect((await apply(NS, "brokers", broker("g", { "edge-eventing.dev/partitions": "2" }))).status).toBe(201);
    await script(mine, "/g", [{ status: 200 }]);
    expect((await apply(NS, "triggers", trigger("g", { broker: "g", subscriber: { uri: `${mine}/g` } }))).status).toBe(201);
    const statuses: number[] = [];
    let grownAt: number | null = null;
    // Straight to the control plane, so this isolate's routing table is stale: misrouted events are refused and sent again.
    const grow = async () => {
      const grown = await (env.CONTROL.getByName("control") as any).apply(
        "Broker",
        NS,
        broker("g", { "edge-eventing.dev/partitions": "8" }),
        "put",
        resolveContext(env, "http://router.test/"),
        "g",
        { manager: "test" },
      );
      expect(grown.code).toBe(200);
      grownAt = Math.ceil(statuses.length / 3);
    };
    // Three producers send batches of 10; the first grows the broker from 2 to 8 partitions after its third
    // batch, while the others keep sending; each stops 5 batches after the growth.
    const produce = async (producer: number) => {
      for (let b = 0; grownAt === null || b < grownAt + 5; b++) {
        if (producer === 0 && b === 3) await grow();
        const r = await fetchRouter(`/${NS}/g`, batch(Array.from({ length: 10 }, (_, i) => ev(`g-${producer}-${b}-${i}`))));
        statuses.push(r.status);
        await r.arrayBuffer();
      }
    };
    await Promise.all([0, 1, 2].map(produce));
    const sent = statuses.length * 10;
    expect(statuses.every((s) => s === 202)).toBe(true);
    // Producers retrying events from before the growth, some of which now belong to a new partition.
    const early = Array.from({ length: 30 }, (_, i) => ev(`g-${i % 3}-${Math.floor(i / 3) % 2}-${i % 10}`));
    expect(early.some((e) => partitionOf({ attributes: e as never, data: undefined }, 8) >= 2)).toBe(true);
    expect((await fetchRouter(`/${NS}/g`, batch(early))).status).toBe(202);
    await receivedAtLeast(mine, "/g", sent, 20_000);
    await settled(brokerMetricsOf(fetchRouter, NS, "g"));
    const all = ids(await received(mine, "/g"));
    expect(all).toHaveLength(sent);
    expect(new Set(all).size).toBe(sent);
    expect((await Promise.all([2, 3, 4, 5, 6, 7].map((p) => accepted("g", p)))).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
  });

  it("keep order per partitionkey across a growth: a key that moved waits until its old partition has delivered what it held", async () => {
    expect((await apply(NS, "brokers", broker("og", { "edge-eventing.dev/partitions": "1" }))).status).toBe(201);
    // The first attempts fail, so the old partition still holds every key's first events when the broker grows.
    await script(mine, "/og", [{ status: 503, repeat: 8 }, { status: 200 }]);
    const t = trigger(
      "og",
      { broker: "og", subscriber: { uri: `${mine}/og` }, delivery: { retry: 10, backoffPolicy: "linear", backoffDelay: "PT0.5S" } },
      { "kafka.eventing.knative.dev/delivery.order": "ordered" },
    );
    expect((await apply(NS, "triggers", t)).status).toBe(201);
    const keys = Array.from({ length: 8 }, (_, k) => `og-${k}`);
    const moved = keys.filter((k) => partitionOf({ attributes: { partitionkey: k }, data: undefined } as never, 4) !== 0);
    expect(moved.length).toBeGreaterThan(0);
    expect((await fetchRouter(`/${NS}/og`, batch(keys.flatMap((k) => [0, 1].map((n) => ev(`${k}/${n}`, { partitionkey: k })))))).status).toBe(202);
    await receivedAtLeast(mine, "/og", 8);
    expect((await apply(NS, "brokers", broker("og", { "edge-eventing.dev/partitions": "4" }))).status).toBe(200);
    expect((await fetchRouter(`/${NS}/og`, batch(keys.flatMap((k) => [2, 3].map((n) => ev(`${k}/${n}`, { partitionkey: k })))))).status).toBe(202);
    const got = await receivedAtLeast(mine, "/og", 8 + 32, 20_000);
    const delivered = ids(got.slice(8));
    for (const k of keys) expect(delivered.filter((id) => id.startsWith(`${k}/`))).toEqual([0, 1, 2, 3].map((n) => `${k}/${n}`));
    expect(await Promise.all(moved.map((k) => accepted("og", partitionOf({ attributes: { partitionkey: k }, data: undefined } as never, 4))))).not.toContain(0);
  });

  it("refuses fewer partitions with a 422 naming the annotation, and a partition refuses events it does not own", async () => {
    expect((await apply(NS, "brokers", broker("s", PARTITIONS))).status).toBe(201);
    const r = await apply(NS, "brokers", broker("s", { "edge-eventing.dev/partitions": "2" }));
    expect(r.status).toBe(422);
    expect(((await r.json()) as any).details.causes).toEqual([
      { field: "metadata.annotations.edge-eventing.dev/partitions", message: "cannot shrink from 4 to 2 partitions (it may only grow)" },
    ]);
    const bad = await apply(NS, "brokers", broker("s2", { "edge-eventing.dev/partitions": "300" }));
    expect(bad.status).toBe(422);
    const e = { attributes: ev("x-1"), data: undefined } as never;
    const other = (partitionOf(e, 4) + 1) % 4;
    expect((await env.BROKER.getByName(partitionObjectName(NS, "s", other)).ingest([e])).status).toBe(421);
  });

  it("are read as one broker: dead letters of every partition, redelivered by their id, and one live feed from all partitions", async () => {
    expect((await apply(NS, "brokers", broker("rd", PARTITIONS))).status).toBe(201);
    await script(mine, "/rd", [{ status: 500, repeat: 8 }, { status: 200 }]);
    expect((await apply(NS, "triggers", trigger("rd", { broker: "rd", subscriber: { uri: `${mine}/rd` }, delivery: { retry: 0 } }))).status).toBe(201);
    const base = `/apis/eventing.knative.dev/v1/namespaces/${NS}/brokers/rd`;
    const live = await fetchRouter(`${base}/live`, { headers: { ...auth, upgrade: "websocket" } });
    expect(live.status).toBe(101);
    const ws = live.webSocket!;
    ws.accept();
    const messages: any[] = [];
    ws.addEventListener("message", (e) => messages.push(JSON.parse(String(e.data))));
    const events = Array.from({ length: 8 }, (_, i) => ev(`rd-${i}`));
    expect((await fetchRouter(`/${NS}/rd`, batch(events))).status).toBe(202);
    const dead = await eventually(async () => {
      const list = (await (await fetchRouter(`${base}/deadletters`, { headers: auth })).json()) as any;
      return list.items.length === 8 ? list.items : undefined;
    });
    const owners = new Set(events.map((e) => partitionOf({ attributes: e as never, data: undefined }, 4)));
    expect(new Set(dead.map((d: any) => d.partition))).toEqual(owners);
    expect(new Set(dead.map((d: any) => d.id)).size).toBe(8);
    // One feed: every event's acceptance and its failed delivery, each marked with its partition.
    await eventually(async () => messages.filter((m) => m.kind === "delivery").length >= 8 || undefined);
    expect(
      messages
        .filter((m) => m.kind === "event")
        .map((m) => m.id)
        .sort(),
    ).toEqual(events.map((e) => e.id).sort());
    expect(new Set(messages.map((m) => m.partition))).toEqual(owners);
    ws.close(1000, "done");
    const target = dead.find((d: any) => d.partition !== 0) ?? dead[0];
    const r = await fetchRouter(`${base}/deadletters/${target.id}/redeliver`, { method: "POST", headers: auth });
    expect(r.status).toBe(200);
    const got = await receivedAtLeast(mine, "/rd", 9);
    expect(got[8].headers["ce-id"]).toBe(target.event.id);
    const left = (await (await fetchRouter(`${base}/deadletters`, { headers: auth })).json()) as any;
    expect(left.items.map((d: any) => d.id)).not.toContain(target.id);
    expect(left.items).toHaveLength(7);
  });
});
