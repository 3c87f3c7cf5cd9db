/**
 * History records of a broad outage (security review, round two): the attempt records of one segment's
 * events outgrow SQLite's 2 MB row (here 1,000 events with 11 failed attempts each, as the default retry of
 * 10 gives, and long error bodies). Every attempt stays counted: the row holds a shorter form (the latest
 * attempts, the others counted as omitted), and a write that fails neither throws nor loses anything.
 */
import { env, exports } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { auth, broker, resourcePath, trigger } from "../support/client.ts";
import { applyManifest } from "../support/manifests.ts";

const NS = "histflush";
const EVENTS = 1000;
const ATTEMPTS = 11;
const call = (path: string, init?: RequestInit) => exports.default.fetch(`http://router.test${path}`, init);

const put = (plural: string, body: { metadata: { name: string } }) => applyManifest(call, resourcePath(NS, plural, body.metadata.name), body);

/** What the broker object needs to show for this test: its history, and its write-behind to write it now. */
type Inside = { history: { attempted(...a: unknown[]): void }; store: { writes: { flush(through?: string): void } } };

describe("history of a broad outage", () => {
  it("keeps every attempt counted when one segment's records outgrow a row", async () => {
    await put("brokers", broker("b", { "edge-eventing.dev/retention": "PT1H" }));
    // Paused: nothing is delivered, the attempts below are the only ones.
    await put("triggers", trigger("down", { broker: "b", subscriber: { uri: "https://down.example/" } }, { "edge-eventing.dev/paused": "true" }));
    const batch = Array.from({ length: EVENTS }, (_, i) => ({ specversion: "1.0", id: `e-${i}`, source: "/outage", type: "t" }));
    expect(
      (await call(`/${NS}/b`, { method: "POST", headers: { "content-type": "application/cloudevents-batch+json" }, body: JSON.stringify(batch) })).status,
    ).toBe(202);

    const stub = env.BROKER.getByName(`${NS}/b`);
    const written = await runInDurableObject(stub, (instance, state) => {
      const seq = state.storage.sql.exec<{ seq: number }>("SELECT seq FROM log ORDER BY seq DESC LIMIT 1").one().seq;
      const { history, store } = instance as unknown as Inside;
      const flush = () => store.writes.flush("history");
      const now = Date.now();
      for (let i = 0; i < EVENTS; i++) {
        for (let a = 0; a < ATTEMPTS; a++) {
          const outcome = { ok: false, status: 503, body: `upstream unavailable ${"x".repeat(400)}`, retryAfterMs: null };
          history.attempted(seq * 4096 + i, "down", a === ATTEMPTS - 1 ? "failed" : "retry", outcome, now + a, now + a + 5, false, null);
        }
      }
      // The first write fails, as SQLite refuses a value over its limit: nothing escapes, nothing is dropped.
      state.storage.sql.exec("CREATE TRIGGER refuse_history BEFORE UPDATE OF history ON log BEGIN SELECT RAISE(ABORT, 'string or blob too big'); END");
      flush();
      const stored = () =>
        state.storage.sql.exec<{ bytes: number | null }>("SELECT length(CAST(history AS BLOB)) AS bytes FROM log WHERE seq = ?", seq).one().bytes;
      expect(stored()).toBeNull();
      state.storage.sql.exec("DROP TRIGGER refuse_history");
      flush();
      return stored();
    });
    expect(written).toBeLessThan(2_000_000);

    const r = await call(`/apis/edge-eventing.dev/v1alpha1/namespaces/${NS}/brokers/b/events?limit=1000`, { headers: auth });
    expect(r.status).toBe(200);
    const items = (
      (await r.json()) as {
        items: { event: { id: string }; deliveries: { trigger: string; state: string; attempts: { status: number }[]; attemptsOmitted?: number }[] }[];
      }
    ).items;
    expect(items).toHaveLength(EVENTS);
    for (const item of items) {
      const [d] = item.deliveries;
      expect(d, item.event.id).toMatchObject({ trigger: "down", state: "failed" });
      expect(d.attempts.length + (d.attemptsOmitted ?? 0), item.event.id).toBe(ATTEMPTS);
      expect(d.attempts.at(-1)?.status).toBe(503);
    }
  });
});
