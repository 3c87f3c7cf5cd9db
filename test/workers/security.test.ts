/**
 * Security findings of the review, reproduced where a user meets them: a crafted media type (exponential for
 * the old backtracking pattern) reaches the ingress before any authentication, a subscriber's reply and a
 * polled Kafka record; each is answered or settled at once, and the router keeps serving.
 */
import { exports } from "cloudflare:workers";
import { describe, expect, inject, it } from "vitest";
import { applySource, kafkaFake, kafkaSpec } from "../fakes/sources-client.ts";
import { auth, binaryEvent, broker, eventually, receivedAtLeast, resourcePath, script, trigger } from "../support/client.ts";

const NS = "sec";
const sub = inject("subscriberUrl");
const fetchRouter = (path: string, init?: RequestInit) => exports.default.fetch(`http://router.test${path}`, init);
/** The security review's Content-Type: `a/b`, 32 times `"; "`, then `@` (more than 20 s with the old pattern). */
const CRAFTED = `a/b${"; ".repeat(32)}@`;

async function put(plural: string, body: { metadata: { name: string } }): Promise<void> {
  const r = await fetchRouter(resourcePath(NS, plural, body.metadata.name), { method: "PUT", headers: { ...auth, "content-type": "application/json" }, body: JSON.stringify(body) });
  expect(r.status).toBeLessThan(300);
}

describe("a crafted media type", () => {
  it("is refused at ingress without a token, as Content-Type and as datacontenttype", async () => {
    await put("brokers", broker("b"));
    const started = Date.now();
    const asHeader = await fetchRouter(`/${NS}/b`, { method: "POST", headers: { "ce-specversion": "1.0", "ce-id": "c-1", "ce-source": "/s", "ce-type": "t", "content-type": CRAFTED }, body: "x" });
    expect(asHeader.status).toBe(400);
    expect(await asHeader.json()).toMatchObject({ field: "datacontenttype" });
    const structured = { specversion: "1.0", id: "c-2", source: "/s", type: "t", datacontenttype: CRAFTED };
    const asAttribute = await fetchRouter(`/${NS}/b`, { method: "POST", headers: { "content-type": "application/cloudevents+json" }, body: JSON.stringify(structured) });
    expect(asAttribute.status).toBe(400);
    const unknownBroker = await fetchRouter(`/${NS}/nope`, { method: "POST", headers: { "ce-specversion": "1.0", "ce-id": "c-3", "ce-source": "/s", "ce-type": "t", "content-type": CRAFTED }, body: "x" });
    expect(unknownBroker.status).toBeGreaterThanOrEqual(400);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it("in a subscriber's reply fails that delivery at once, and the broker goes on delivering", async () => {
    await put("brokers", broker("replies"));
    const reply = { "ce-specversion": "1.0", "ce-id": "r-1", "ce-source": "/r", "ce-type": "reply.t", "content-type": CRAFTED };
    await script(sub, "/crafted-reply", [{ status: 200, headers: reply, body: "x" }, { status: 200 }]);
    await put("triggers", trigger("crafted", { broker: "replies", filters: [{ exact: { type: "ask.t" } }], subscriber: { uri: `${sub}/crafted-reply` } }, { "edge-eventing.dev/parallelism": "1" }));
    expect((await fetchRouter(`/${NS}/replies`, binaryEvent("ask-1", "ask.t"))).status).toBe(202);
    expect((await fetchRouter(`/${NS}/replies`, binaryEvent("ask-2", "ask.t"))).status).toBe(202);
    // The refused reply is a 502 for the first delivery (retried: the second step answers 200), then ask-2.
    const got = await receivedAtLeast(sub, "/crafted-reply", 3, 15_000);
    expect(new Set(got.map((r) => r.headers["ce-id"]))).toEqual(new Set(["ask-1", "ask-2"]));
  });

  it("in a polled Kafka record is read in linear time: that record is wrapped as Knative's Kafka event, the next delivered as sent", async () => {
    const kafka = await kafkaFake("crafted");
    await script(sub, "/crafted-kafka", [{ status: 200 }]);
    const structured = (id: string, datacontenttype: string) => JSON.stringify({ specversion: "1.0", id, source: "/kafka", type: "k.t", datacontenttype, data: "x" });
    await kafka.produce({ value: structured("k-1", CRAFTED) });
    await kafka.produce({ value: structured("k-2", "text/plain") });
    await applySource("kafkasources", "crafted", kafkaSpec(kafka.url, "crafted", { uri: `${sub}/crafted-kafka` }));
    const [wrapped, good] = await receivedAtLeast(sub, "/crafted-kafka", 2, 15_000);
    expect(wrapped.headers).toMatchObject({ "ce-type": "dev.knative.kafka.event", "ce-id": "partition:0/offset:0" });
    expect(JSON.parse(wrapped.body).datacontenttype).toBe(CRAFTED);
    expect(good.headers).toMatchObject({ "ce-id": "k-2", "content-type": "text/plain" });
    await eventually(async () => (await kafka.commits()).length > 0, 10_000, "offsets committed");
  });
});
