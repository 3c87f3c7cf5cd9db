/**
 * Partitioned brokers (API.md §5) and the routing table in front of every broker object: unknown brokers
 * are refused without creating an object, events go to the partition that owns them, dedup stays exact,
 * every trigger sees every event, ordered triggers keep order per key, and N grows without loss.
 */
import { env, exports } from "cloudflare:workers";
import { listDurableObjectIds, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { auth, binaryEvent, broker, resourcePath } from "../support/client.ts";

const fetchRouter = (path: string, init?: RequestInit) => exports.default.fetch(`http://router.test${path}`, init);

async function apply(ns: string, plural: string, body: { metadata: { name: string } }): Promise<Response> {
  return fetchRouter(resourcePath(ns, plural, body.metadata.name), { method: "PUT", headers: { ...auth, "content-type": "application/json" }, body: JSON.stringify(body) });
}

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
