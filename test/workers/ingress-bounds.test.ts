/**
 * Security review, round two (issue 22), the ingress half: what one unauthenticated request may make a
 * broker hold. Attribute sizes are capped (a 1 MB id is refused in every mode, naming the attribute), the
 * body by the bytes read whatever its Content-Length says, the dedup index stays within its budget and is
 * rebuilt from a log that holds keys stored before the caps.
 */
import { runInDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { describe, expect, inject, it } from "vitest";
import type { Broker } from "../../durable-objects/broker.ts";
import { stub } from "../../clients/stubs.ts";
import type { BrokerMetrics } from "../../shared/resources/broker-api.ts";
import { MAX_INGRESS_BYTES } from "../../workers/ingress.ts";
import { binaryEvent, broker, receivedAtLeast, resourcePath, trigger } from "../support/client.ts";
import { applyManifest } from "../support/manifests.ts";

const NS = "bounds";
const sub = inject("subscriberUrl");
const fetchRouter = (path: string, init?: RequestInit) => exports.default.fetch(`http://router.test${path}`, init);
const brokerStub = (name: string) => stub(env, "BROKER", `${NS}/${name}`);
const counter = (m: BrokerMetrics, name: string) => m.counters.filter((c) => c.trigger === "" && c.name === name).reduce((n, c) => n + c.value, 0);

const put = (plural: string, body: { metadata: { name: string } }) => applyManifest(fetchRouter, resourcePath(NS, plural, body.metadata.name), body);

const structured = (event: Record<string, unknown>): RequestInit => ({
  method: "POST",
  headers: { "content-type": "application/cloudevents+json" },
  body: JSON.stringify(event),
});
const batch = (events: Record<string, unknown>[]): RequestInit => ({
  method: "POST",
  headers: { "content-type": "application/cloudevents-batch+json" },
  body: JSON.stringify(events),
});
const event = (id: string, extra: Record<string, unknown> = {}) => ({ specversion: "1.0", id, source: "/bounds", type: "t", ...extra });

describe("attribute sizes at ingress", () => {
  it("a 1 MB id is refused with 400 naming it, in binary, structured and batch mode, and nothing is stored", async () => {
    await put("brokers", broker("ids"));
    const big = "x".repeat(1_000_000); // 1 MB, under the 1 MiB body limit in each mode
    const before = counter(await brokerStub("ids").metrics(), "accepted");
    const answers = [
      await fetchRouter(`/${NS}/ids`, binaryEvent(big)),
      await fetchRouter(`/${NS}/ids`, structured(event(big))),
      await fetchRouter(`/${NS}/ids`, batch([event("fine"), event(big)])),
    ];
    expect(answers.map((r) => r.status)).toEqual([400, 400, 400]);
    const bodies = await Promise.all(answers.map((r) => r.json<{ error: string; field: string }>()));
    expect(bodies.map((b) => b.field)).toEqual(["id", "id", "[1].id"]);
    for (const b of bodies) expect(b.error).toContain("512 bytes");
    expect(counter(await brokerStub("ids").metrics(), "accepted")).toBe(before);
    // At the limit, accepted.
    expect((await fetchRouter(`/${NS}/ids`, structured(event("i".repeat(512))))).status).toBe(202);
  });

  it("source, type, subject and extensions have their own limits; too many attributes are refused", async () => {
    await put("brokers", broker("attrs"));
    const refused = async (init: RequestInit, field: string) => {
      const r = await fetchRouter(`/${NS}/attrs`, init);
      expect(r.status).toBe(400);
      expect(await r.json()).toMatchObject({ field });
    };
    await refused(structured(event("s", { source: `/${"s".repeat(1024)}` })), "source");
    await refused(structured(event("t", { type: "t".repeat(257) })), "type");
    await refused(binaryEvent("e", "t", { "ce-subject": "s".repeat(1025) }), "subject");
    await refused(binaryEvent("x", "t", { "ce-myext": "v".repeat(4097) }), "myext");
    await refused(structured(event("n", Object.fromEntries(Array.from({ length: 97 }, (_, i) => [`x${i}`, i])))), "x96");
  });
});

describe("the body limit when Content-Length lies", () => {
  // A Request built in code (a caller of the worker's fetch) is not held to its Content-Length by HTTP's framing.
  const lying = (id: string, declared: number, body: string): RequestInit => {
    const init = binaryEvent(id, "t", { "content-length": String(declared) }, body);
    return { ...init, body: new Blob([body]).stream() };
  };
  const tooLarge = { error: `request body is larger than ${MAX_INGRESS_BYTES} bytes` };

  it("a body over the limit that declares a small length is refused with 413 naming the limit, and nothing is stored", async () => {
    await put("brokers", broker("lies"));
    const before = counter(await brokerStub("lies").metrics(), "accepted");
    const big = JSON.stringify("x".repeat(MAX_INGRESS_BYTES + 10));
    for (const init of [lying("small-stream", 10, big), binaryEvent("small-string", "t", { "content-length": "10" }, big)]) {
      const r = await fetchRouter(`/${NS}/lies`, init);
      expect(r.status).toBe(413);
      expect(await r.json()).toEqual(tooLarge);
    }
    expect(counter(await brokerStub("lies").metrics(), "accepted")).toBe(before);
  });

  it("a body that declares more than it sends is taken as sent when the claim is within the limit; a claim over the limit is refused up front", async () => {
    await put("brokers", broker("claims"));
    await put("triggers", trigger("all", { broker: "claims", subscriber: { uri: `${sub}/bounds-claims` } }));
    expect((await fetchRouter(`/${NS}/claims`, lying("short", 1_000, '{"n":7}'))).status).toBe(202);
    const [got] = await receivedAtLeast(sub, "/bounds-claims", 1);
    expect(got.headers["ce-id"]).toBe("short");
    expect(got.body).toBe('{"n":7}');
    const r = await fetchRouter(`/${NS}/claims`, lying("claimed-big", MAX_INGRESS_BYTES + 1, '{"n":8}'));
    expect(r.status).toBe(413);
    expect(await r.json()).toEqual(tooLarge);
  });
});

describe("the dedup index", () => {
  it("is rebuilt from a log that holds an oversized key stored before the limits: that key is left out, the others still deduplicate", async () => {
    await put("brokers", broker("rebuild"));
    const stub = brokerStub("rebuild");
    expect((await fetchRouter(`/${NS}/rebuild`, binaryEvent("kept"))).status).toBe(202);
    const sizes = await runInDurableObject(env.BROKER.getByName(`${NS}/rebuild`), (instance: Broker, state: DurableObjectState) => {
      // A segment as an earlier version stored it: an event with a 200 KB id.
      const old = { specversion: "1.0", id: "o".repeat(200_000), source: "/old", type: "t" };
      state.storage.sql.exec(
        "INSERT INTO log (seq, arrived_at, n, events, meta) VALUES ((SELECT max(seq) + 1 FROM log), ?, 1, ?, ?)",
        Date.now(),
        JSON.stringify([old]),
        JSON.stringify([{ s: old.source, i: old.id, m: [] }]),
      );
      const { ingestion } = instance as unknown as { ingestion: { restore(): void; dedup: { size: number; bytes: number } } };
      ingestion.restore();
      return { size: ingestion.dedup.size, bytes: ingestion.dedup.bytes };
    });
    expect(sizes.size).toBe(1);
    expect(sizes.bytes).toBeLessThan(1_000);
    const again = await stub.ingest([{ attributes: { specversion: "1.0", id: "kept", source: "/test", type: "com.example.test" } }]);
    expect(again).toMatchObject({ status: 202, accepted: 0, duplicates: 1 });
  });
});

describe("pass-through headers and the group commit", () => {
  const small = (id: string) => ({ attributes: { specversion: "1.0", id, source: "/gc", type: "t" } });
  const fourHeaders = Object.fromEntries(Array.from({ length: 4 }, (_, i) => [`knative-x${i}`, "h".repeat(4096)]));

  it("at ingress, more than 4 KiB of them (or more than 16) is a 400 naming the header, while honest producers of the same moment get 202", async () => {
    await put("brokers", broker("headers"));
    const events = Array.from({ length: 1000 }, (_, i) => event(`big-${i}`));
    const oversized = fetchRouter(`/${NS}/headers`, { ...batch(events), headers: { "content-type": "application/cloudevents-batch+json", ...fourHeaders } });
    const honest = Array.from({ length: 5 }, (_, i) =>
      fetchRouter(`/${NS}/headers`, binaryEvent(`honest-${i}`, "t", { traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" })),
    );
    const [refused, ...answers] = await Promise.all([oversized, ...honest]);
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({ field: "knative-x0" });
    expect(answers.map((r) => r.status)).toEqual(Array(5).fill(202));
    const many = Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`x-b3-h${i}`, "1"]));
    const tooMany = await fetchRouter(`/${NS}/headers`, binaryEvent("many", "t", many));
    expect(tooMany.status).toBe(400);
    expect(await tooMany.json()).toMatchObject({ field: expect.stringMatching(/^x-b3-h/) });
  });

  it("a segment counts the headers every event carries: 1,000 events with 16 KiB of headers each are stored over several rows, beside honest requests of the same turn", async () => {
    await put("brokers", broker("rows"));
    const { results, biggest } = await runInDurableObject(env.BROKER.getByName(`${NS}/rows`), async (instance: Broker, state: DurableObjectState) => {
      const heavy = instance.ingest(
        Array.from({ length: 1000 }, (_, i) => small(`heavy-${i}`)),
        fourHeaders,
      );
      const honest = Array.from({ length: 3 }, (_, i) => instance.ingest([small(`honest-${i}`)]));
      const results = await Promise.all([heavy, ...honest]);
      const biggest = state.storage.sql.exec<{ n: number }>("SELECT max(length(events) + length(meta)) AS n FROM log").one().n;
      return { results, biggest };
    });
    expect(results.map((r) => r.status)).toEqual([202, 202, 202, 202]);
    expect(biggest).toBeLessThan(2_000_000);
  });

  it("one request whose write fails (a row over SQLite's limit) fails alone: the others of its group commit are stored", async () => {
    await put("brokers", broker("alone"));
    const { results, stored } = await runInDurableObject(env.BROKER.getByName(`${NS}/alone`), async (instance: Broker, state: DurableObjectState) => {
      // Only an internal caller could pass this (ingress caps headers at 4 KiB): one event whose row is 20 MB.
      const tooBig = instance.ingest([small("too-big")], { "knative-huge": "h".repeat(20_000_000) });
      const honest = Array.from({ length: 3 }, (_, i) => instance.ingest([small(`ok-${i}`)]));
      const results = await Promise.all([tooBig, ...honest]);
      const stored = state.storage.sql.exec<{ n: number }>("SELECT coalesce(sum(n), 0) AS n FROM log").one().n;
      return { results, stored };
    });
    expect(results.map((r) => r.status)).toEqual([500, 202, 202, 202]);
    expect(stored).toBe(3);
    // The partition goes on: the refused event may be sent again, and is stored then.
    expect(await brokerStub("alone").ingest([small("too-big")])).toMatchObject({ status: 202, accepted: 1 });
  });
});

describe("CloudEvents 0.3 maps (conformance)", () => {
  it("a map key with capitals is accepted in structured mode, and in binary mode as the lower-cased header name", async () => {
    await put("brokers", broker("v03"));
    const structuredMap = await fetchRouter(
      `/${NS}/v03`,
      structured({ specversion: "0.3", id: "m-1", source: "/v03", type: "t", comexampleextension2: { otherValue: 5 } }),
    );
    expect(structuredMap.status).toBe(202);
    const binaryMap = await fetchRouter(`/${NS}/v03`, {
      method: "POST",
      headers: { "ce-specversion": "0.3", "ce-id": "m-2", "ce-source": "/v03", "ce-type": "t", "ce-comexampleextension2-otherValue": "5" },
    });
    expect(binaryMap.status).toBe(202);
  });
});
