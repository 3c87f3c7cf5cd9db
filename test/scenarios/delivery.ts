/**
 * Delivery semantics as a user sees them, written once and run twice: inside workerd
 * (test/workers/delivery.test.ts) and over real HTTP against `wrangler dev` (test/e2e/delivery.test.ts).
 */
import { beforeAll, describe, expect, it } from "vitest";
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
import { applyManifest } from "../support/manifests.ts";

export interface Harness {
  /** A request to the router, by path. */
  fetch(path: string, init?: RequestInit): Promise<Response>;
  /** The real HTTP subscriber's base URL. */
  subscriber(): string;
}

/** `brokerAnnotations` go on every broker the scenarios create (e.g. a partition count). */
export function deliveryScenarios(h: Harness, ns: string, brokerAnnotations: Record<string, string> = {}): void {
  const sub = () => h.subscriber();
  const apply = (plural: string, body: { metadata: { name: string } }) => applyManifest(h.fetch, resourcePath(ns, plural, body.metadata.name), body);
  const send = (brokerName: string, init: RequestInit) => h.fetch(`/${ns}/${brokerName}`, init);
  const fast = { retry: 3, backoffPolicy: "linear", backoffDelay: "PT0.1S" };
  const metrics = brokerMetricsOf(h.fetch, ns, "b");

  beforeAll(async () => {
    await apply("brokers", broker("b", brokerAnnotations));
  });

  describe("delivery to subscribers", () => {
    it("delivers in binary mode with Knative's headers, the arrival time, the trace, no TTL, and the data unchanged", async () => {
      await script(sub(), "/bin", [{ status: 200 }]);
      await apply("triggers", trigger("bin", { broker: "b", filter: { attributes: { type: "bin.t" } }, subscriber: { uri: `${sub()}/bin` } }));
      const body = '{"a": 1.0,  "big": 12345678901234567890}';
      const extra = {
        "ce-myext": "Euro%20%E2%82%AC",
        traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "x-request-id": "req-7",
        authorization: "Bearer producer-secret",
        "x-custom": "stays",
      };
      expect((await send("b", binaryEvent("bin-1", "bin.t", extra, body))).status).toBe(202);
      const [got] = await receivedAtLeast(sub(), "/bin", 1);
      expect(got.body).toBe(body);
      expect(got.headers).toMatchObject({
        "ce-id": "bin-1",
        "ce-type": "bin.t",
        "ce-source": "/test",
        "ce-specversion": "1.0",
        "content-type": "application/json",
        prefer: "reply",
        "kn-namespace": ns,
      });
      expect(got.headers["ce-myext"]).toBe("Euro%20%E2%82%AC");
      expect(got.headers["ce-knativearrivaltime"]).toMatch(/^\d{4}-\d\d-\d\dT/);
      expect(got.headers["ce-knativebrokerttl"]).toBeUndefined();
      // Knative's pass-through allow-list, and the producer's trace continued as a child span.
      expect(got.headers["x-request-id"]).toBe("req-7");
      expect(got.headers.traceparent).toMatch(/^00-4bf92f3577b34da6a3ce929d0e0e4736-(?!00f067aa0ba902b7)[0-9a-f]{16}-01$/);
      expect(got.headers.authorization).toBeUndefined();
      expect(got.headers["x-custom"]).toBeUndefined();
    });

    it("delivers structured JSON when delivery.format is json", async () => {
      await apply(
        "triggers",
        trigger("json", { broker: "b", filters: [{ exact: { type: "json.t" } }], subscriber: { uri: `${sub()}/json` }, delivery: { format: "json" } }),
      );
      const event = { specversion: "1.0", id: "j-1", source: "/j", type: "json.t", datacontenttype: "application/json", data: { n: 0, f: false, z: null } };
      expect((await send("b", { method: "POST", headers: { "content-type": "application/cloudevents+json" }, body: JSON.stringify(event) })).status).toBe(202);
      const [got] = await receivedAtLeast(sub(), "/json", 1);
      expect(got.headers["content-type"]).toBe("application/cloudevents+json");
      const parsed = JSON.parse(got.body);
      expect(parsed).toMatchObject({ ...event });
      expect(parsed.knativebrokerttl).toBeUndefined();
    });

    it("retries 5xx with linear backoff and stops at the first success", async () => {
      await script(sub(), "/retry", [{ status: 503, repeat: 2 }, { status: 200 }]);
      await apply(
        "triggers",
        trigger("retry", { broker: "b", filters: [{ exact: { type: "retry.t" } }], subscriber: { uri: `${sub()}/retry` }, delivery: fast }),
      );
      await send("b", binaryEvent("r-1", "retry.t"));
      const got = await receivedAtLeast(sub(), "/retry", 3);
      await settled(metrics, "retry");
      expect(await received(sub(), "/retry")).toHaveLength(3);
      // Documented Knative formula, linear: delay*n before retry n.
      expect(got[1].at - got[0].at).toBeGreaterThanOrEqual(90);
      expect(got[2].at - got[1].at).toBeGreaterThanOrEqual(190);
    });

    it("sends a non-retryable failure straight to the dead-letter sink with the knativeerror extensions", async () => {
      await script(sub(), "/reject", [{ status: 400, body: "bad payload" }]);
      await script(sub(), "/dls", [{ status: 202 }]);
      await apply(
        "triggers",
        trigger("reject", {
          broker: "b",
          filters: [{ exact: { type: "reject.t" } }],
          subscriber: { uri: `${sub()}/reject` },
          delivery: { ...fast, deadLetterSink: { uri: `${sub()}/dls` } },
        }),
      );
      await send("b", binaryEvent("d-1", "reject.t"));
      const [dead] = await receivedAtLeast(sub(), "/dls", 1);
      expect(await received(sub(), "/reject")).toHaveLength(1);
      expect(dead.headers["ce-id"]).toBe("d-1");
      expect(dead.headers["ce-knativeerrordest"]).toBe(`${sub()}/reject`);
      expect(dead.headers["ce-knativeerrorcode"]).toBe("400");
      expect(atob(dead.headers["ce-knativeerrordata"])).toBe("bad payload");
      expect(dead.headers.prefer).toBeUndefined();
    });

    it("gives the knativeerror extensions to a dead-letter sink that is a Broker too", async () => {
      await apply("brokers", broker("dlq", brokerAnnotations));
      await apply("triggers", trigger("dlq-all", { broker: "dlq", subscriber: { uri: `${sub()}/dlq-broker` } }));
      await script(sub(), "/rejects", [{ status: 422, body: "no" }]);
      await apply(
        "triggers",
        trigger("rejects", {
          broker: "b",
          filters: [{ exact: { type: "rejects.t" } }],
          subscriber: { uri: `${sub()}/rejects` },
          delivery: { retry: 0, deadLetterSink: { ref: { apiVersion: "eventing.knative.dev/v1", kind: "Broker", name: "dlq" } } },
        }),
      );
      await send("b", binaryEvent("dlb-1", "rejects.t"));
      const [dead] = await receivedAtLeast(sub(), "/dlq-broker", 1);
      expect(dead.headers).toMatchObject({ "ce-id": "dlb-1", "ce-knativeerrorcode": "422", "ce-knativeerrordest": `${sub()}/rejects` });
      expect(atob(dead.headers["ce-knativeerrordata"])).toBe("no");
    });

    it("after the retries are exhausted with no dead-letter sink, counts the event as failed (kept, not lost)", async () => {
      await script(sub(), "/down", [{ status: 500, body: "down" }]);
      await apply(
        "triggers",
        trigger("down", {
          broker: "b",
          filters: [{ exact: { type: "down.t" } }],
          subscriber: { uri: `${sub()}/down` },
          delivery: { retry: 2, backoffPolicy: "linear", backoffDelay: "PT0.05S" },
        }),
      );
      await send("b", binaryEvent("x-1", "down.t"));
      await receivedAtLeast(sub(), "/down", 3);
      const failed = await eventually(async () => {
        const text = await (await h.fetch("/metrics", { headers: auth })).text();
        return new RegExp(`edge_eventing_events_failed_total\\{namespace="${ns}",broker="b",trigger="down"(,partition="\\d+")?\\} 1`).test(text) || undefined;
      });
      expect(failed).toBe(true);
      expect(await received(sub(), "/down")).toHaveLength(3);
    });

    it("re-ingests a reply event, which other triggers then receive", async () => {
      await script(sub(), "/replier", [
        {
          status: 200,
          headers: { "ce-specversion": "1.0", "ce-id": "reply-1", "ce-source": "/replier", "ce-type": "reply.t", "content-type": "text/plain" },
          body: "pong",
        },
      ]);
      await apply("triggers", trigger("replier", { broker: "b", filters: [{ exact: { type: "ping.t" } }], subscriber: { uri: `${sub()}/replier` } }));
      await apply("triggers", trigger("replies", { broker: "b", filters: [{ exact: { type: "reply.t" } }], subscriber: { uri: `${sub()}/replies` } }));
      await send("b", binaryEvent("p-1", "ping.t"));
      const [got] = await receivedAtLeast(sub(), "/replies", 1);
      expect(got.headers["ce-id"]).toBe("reply-1");
      expect(got.body).toBe("pong");
    });

    it("counts a 200 whose body is not a CloudEvent as a failure, as Knative does", async () => {
      await script(sub(), "/junk", [{ status: 200, body: "<html>ok</html>", headers: { "content-type": "text/html" } }]);
      await apply(
        "triggers",
        trigger("junk", {
          broker: "b",
          filters: [{ exact: { type: "junk.t" } }],
          subscriber: { uri: `${sub()}/junk` },
          delivery: { retry: 1, backoffPolicy: "linear", backoffDelay: "PT0.05S" },
        }),
      );
      await send("b", binaryEvent("junk-1", "junk.t"));
      expect(await receivedAtLeast(sub(), "/junk", 2)).toHaveLength(2);
    });

    it("delivers a duplicate (source, id) once", async () => {
      await apply("triggers", trigger("dup", { broker: "b", filters: [{ exact: { type: "dup.t" } }], subscriber: { uri: `${sub()}/dup` } }));
      expect((await send("b", binaryEvent("same", "dup.t"))).status).toBe(202);
      expect((await send("b", binaryEvent("same", "dup.t"))).status).toBe(202);
      await receivedAtLeast(sub(), "/dup", 1);
      await settled(metrics, "dup");
      expect(await received(sub(), "/dup")).toHaveLength(1);
    });

    it("keeps order per partition key on an ordered trigger, even across retries", async () => {
      await script(sub(), "/ordered", [{ status: 500 }, { status: 200, delayMs: 20 }]);
      await apply(
        "triggers",
        trigger(
          "ordered",
          {
            broker: "b",
            filters: [{ exact: { type: "ord.t" } }],
            subscriber: { uri: `${sub()}/ordered` },
            delivery: { retry: 3, backoffPolicy: "linear", backoffDelay: "PT0.1S" },
          },
          { "kafka.eventing.knative.dev/delivery.order": "ordered" },
        ),
      );
      const batch = Array.from({ length: 6 }, (_, i) => ({
        specversion: "1.0",
        id: `o-${i}`,
        source: "/o",
        type: "ord.t",
        partitionkey: i % 2 ? "odd" : "even",
      }));
      await send("b", { method: "POST", headers: { "content-type": "application/cloudevents-batch+json" }, body: JSON.stringify(batch) });
      const got = await receivedAtLeast(sub(), "/ordered", 7).catch(async (e) => {
        console.log(JSON.stringify((await received(sub(), "/ordered")).map((r) => [r.headers["ce-id"], r.at])));
        throw e;
      });
      const ok = got.slice(1).map((r) => r.headers["ce-id"]);
      const even = ok.filter((id) => ["o-0", "o-2", "o-4"].includes(id));
      const odd = ok.filter((id) => ["o-1", "o-3", "o-5"].includes(id));
      expect(even).toEqual(["o-0", "o-2", "o-4"]);
      expect(odd).toEqual(["o-1", "o-3", "o-5"]);
    });
    it("answers 429 with Retry-After past the backlog limit and delivers every event it accepted", async () => {
      await apply("brokers", broker("small", { ...brokerAnnotations, "edge-eventing.dev/backlog-limit": "3" }));
      await script(sub(), "/busy", [{ status: 200, delayMs: 150 }]);
      await apply("triggers", trigger("busy", { broker: "small", subscriber: { uri: `${sub()}/busy` } }, { "edge-eventing.dev/parallelism": "1" }));
      const accepted: string[] = [];
      let refused = 0;
      for (let i = 0; i < 10; i++) {
        const r = await send("small", binaryEvent(`bp-${i}`));
        if (r.status === 202) accepted.push(`bp-${i}`);
        else {
          expect(r.status).toBe(429);
          expect(Number(r.headers.get("retry-after"))).toBeGreaterThan(0);
          refused++;
        }
        await r.arrayBuffer();
      }
      expect(refused).toBeGreaterThan(0);
      // A producer's retry of an event already stored is a duplicate: 202, even while the backlog is full.
      const again = await send("small", binaryEvent(accepted[0]));
      expect(again.status).toBe(202);
      const got = await receivedAtLeast(sub(), "/busy", accepted.length);
      expect(got.map((r) => r.headers["ce-id"]).sort()).toEqual(accepted.sort());
    });
  });
}
