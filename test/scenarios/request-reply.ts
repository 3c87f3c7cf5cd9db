/**
 * RequestReply as a Knative user sees it, written once and run twice: inside workerd
 * (test/workers/request-reply.test.ts) and over real HTTP against `wrangler dev`
 * (test/e2e/request-reply.test.ts). The responder is the test subscriber answering each request with a
 * reply event that copies the request's `correlationid` into `replyid`, as Knative's documentation asks
 * of a RequestReply's responder.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { partitionOfKey } from "../../shared/partitions.ts";
import { brokerSubresource } from "../../shared/resources/broker-api.ts";
import { auth, binaryEvent, broker, eventually, received, receivedAtLeast, resourcePath, script, trigger } from "../support/client.ts";
import { applyManifest, putManifest } from "../support/manifests.ts";
import type { Harness } from "./delivery.ts";

export const requestReplyManifest = (name: string, spec: Record<string, unknown>) => ({
  apiVersion: "eventing.knative.dev/v1alpha1",
  kind: "RequestReply",
  metadata: { name },
  spec,
});

/** The value shape docs/API.md documents: `{uuid}:{replica}:{expiresAt}:{signature}`. */
const VALUE = /^[0-9a-f-]{36}:\d+:\d{13}:[A-Za-z0-9_-]{43}$/;

/** A reply event in binary mode: `ce-replyid` is the request's correlation value, `ce-inreplyto` its id. */
const replyStep = (type: string) => ({
  status: 200,
  headers: {
    "ce-specversion": "1.0",
    "ce-id": "reply-{n}",
    "ce-source": "/responder",
    "ce-type": type,
    "ce-replyid": "{h:ce-correlationid}",
    "ce-inreplyto": "{h:ce-id}",
    "content-type": "application/json",
  },
  body: '{"answer":42}',
});

export function requestReplyScenarios(h: Harness, ns: string): void {
  const sub = () => h.subscriber();
  const put = (path: string, body: unknown) => putManifest(h.fetch, path, body);
  const apply = (plural: string, body: { metadata: { name: string } }) => {
    const path =
      plural === "requestreplies"
        ? `/apis/eventing.knative.dev/v1alpha1/namespaces/${ns}/requestreplies/${body.metadata.name}`
        : resourcePath(ns, plural, body.metadata.name);
    return applyManifest(h.fetch, path, body);
  };
  const ask = (rr: string, init: RequestInit) => h.fetch(`/requestreplies/${ns}/${rr}`, init);
  const counter = async (brokerName: string, name: string) => {
    const m = (await (await h.fetch(brokerSubresource(ns, brokerName, "metrics"), { headers: auth })).json()) as {
      counters: { trigger: string; name: string; value: number }[];
    };
    return m.counters.find((c) => c.trigger === "" && c.name === name)?.value ?? 0;
  };
  /** A reply posted to the broker as a new event, with the given reply attribute. */
  const postReply = (brokerName: string, id: string, replyid: string) =>
    h.fetch(`/${ns}/${brokerName}`, binaryEvent(id, "rr.late-answer", { "ce-replyid": replyid }));

  beforeAll(async () => {
    await apply("brokers", broker("rr"));
    await script(sub(), "/responder", [replyStep("rr.reply")]);
    await script(sub(), "/silent", [{ status: 202 }]);
    await apply("triggers", trigger("responder", { broker: "rr", filter: { attributes: { type: "rr.request" } }, subscriber: { uri: `${sub()}/responder` } }));
    await apply("triggers", trigger("silent", { broker: "rr", filter: { attributes: { type: "rr.later" } }, subscriber: { uri: `${sub()}/silent` } }));
    await apply(
      "requestreplies",
      requestReplyManifest("ask", { brokerRef: { apiVersion: "eventing.knative.dev/v1", kind: "Broker", name: "rr" }, timeout: "PT20S" }),
    );
    await apply("requestreplies", requestReplyManifest("quick", { brokerRef: { kind: "Broker", name: "rr" }, timeout: "PT1S" }));
  });

  describe("the RequestReply kind", () => {
    it("is addressable and Ready once its broker exists, with Knative's defaults", async () => {
      const got = (await (await h.fetch(`/apis/eventing.knative.dev/v1alpha1/namespaces/${ns}/requestreplies/ask`, { headers: auth })).json()) as any;
      expect(got.status.address.url).toMatch(new RegExp(`/requestreplies/${ns}/ask$`));
      expect(got.status.conditions.find((c: { type: string }) => c.type === "Ready")).toMatchObject({ status: "True" });
      const orphan = await apply("requestreplies", requestReplyManifest("orphan", { brokerRef: { kind: "Broker", name: "nope" } }));
      expect(orphan.status.conditions[0]).toMatchObject({ type: "Ready", status: "False", reason: "BrokerDoesNotExist" });
    });

    it("refuses unknown fields, bad attributes and timeouts by name", async () => {
      const path = `/apis/eventing.knative.dev/v1alpha1/namespaces/${ns}/requestreplies/bad`;
      const r = await put(
        path,
        requestReplyManifest("bad", {
          brokerRef: { kind: "Trigger", name: "rr" },
          correlationAttribute: "id",
          replyAttribute: "Bad-Name",
          timeout: "PT10M",
          secrets: ["ADMIN_TOKEN"],
        }),
      );
      expect(r.status).toBe(422);
      const fields = ((await r.json()) as any).details.causes.map((c: { field: string }) => c.field);
      expect(fields).toEqual(
        expect.arrayContaining(["spec.brokerRef.kind", "spec.correlationAttribute", "spec.replyAttribute", "spec.timeout", "spec.secrets[0]"]),
      );
      const unknown = await put(path, requestReplyManifest("bad", { brokerRef: { kind: "Broker", name: "rr" }, colour: "red" }));
      expect(unknown.status).toBe(400);
      expect(await unknown.text()).toContain("spec.colour");
    });
  });

  describe("requests and replies", () => {
    it("answers a binary request with its reply, in binary mode, the request stamped with a signed correlation value", async () => {
      const started = Date.now();
      const r = await ask("ask", binaryEvent("q-1", "rr.request", { "ce-myext": "kept" }));
      expect(r.status).toBe(200);
      expect(r.headers.get("ce-type")).toBe("rr.reply");
      expect(r.headers.get("ce-inreplyto")).toBe("q-1");
      expect(r.headers.get("ce-knativebrokerttl")).toBeNull();
      expect(await r.json()).toEqual({ answer: 42 });
      expect(Date.now() - started).toBeLessThan(20_000);
      const [seen] = (await received(sub(), "/responder")).filter((x) => x.headers["ce-id"] === "q-1");
      expect(seen.headers["ce-correlationid"]).toMatch(VALUE);
      expect(seen.headers["ce-myext"]).toBe("kept");
      expect(r.headers.get("ce-replyid")).toBe(seen.headers["ce-correlationid"]);
    });

    it("answers a structured request in structured mode", async () => {
      const r = await ask("ask", {
        method: "POST",
        headers: { "content-type": "application/cloudevents+json" },
        body: JSON.stringify({ specversion: "1.0", id: "q-s", source: "/test", type: "rr.request", data: { q: 1 } }),
      });
      expect(r.status).toBe(200);
      expect(r.headers.get("content-type")).toMatch(/^application\/cloudevents\+json/);
      expect(await r.json()).toMatchObject({ type: "rr.reply", inreplyto: "q-s", data: { answer: 42 } });
    });

    it("gives each of a dozen concurrent requests its own reply", async () => {
      const ids = Array.from({ length: 12 }, (_, i) => `q-many-${i}`);
      const answers = await Promise.all(ids.map((id) => ask("ask", binaryEvent(id, "rr.request"))));
      expect(answers.map((a) => a.status)).toEqual(ids.map(() => 200));
      expect(answers.map((a) => a.headers.get("ce-inreplyto"))).toEqual(ids);
      await Promise.all(answers.map((a) => a.arrayBuffer()));
    });

    it("takes a reply posted later as a new event to the broker", async () => {
      const waiting = ask("ask", binaryEvent("q-later", "rr.later"));
      const [seen] = await receivedAtLeast(sub(), "/silent", 1);
      expect((await postReply("rr", "later-answer-1", seen.headers["ce-correlationid"])).status).toBe(202);
      const r = await waiting;
      expect(r.status).toBe(200);
      expect(r.headers.get("ce-id")).toBe("later-answer-1");
      await r.arrayBuffer();
    });

    it("answers 504 when no reply comes within the timeout, and counts a reply that comes after it as late", async () => {
      await script(sub(), "/silent", [{ status: 202 }]);
      const started = Date.now();
      const r = await ask("quick", binaryEvent("q-timeout", "rr.later"));
      expect(r.status).toBe(504);
      expect(Date.now() - started).toBeGreaterThanOrEqual(950);
      expect(((await r.json()) as { error: string }).error).toMatch(/no reply within 1 s/);
      const [seen] = await receivedAtLeast(sub(), "/silent", 1);
      const late = await counter("rr", "requestreply_late");
      expect((await postReply("rr", "late-answer", seen.headers["ce-correlationid"])).status).toBe(202);
      await eventually(async () => (await counter("rr", "requestreply_late")) === late + 1, 10_000, "the late reply to be counted");
    });

    it("never hands a forged value to the waiting request, and drops a second reply to an answered one", async () => {
      await script(sub(), "/silent", [{ status: 202 }]);
      const waiting = ask("quick", binaryEvent("q-forged", "rr.later"));
      const [seen] = await receivedAtLeast(sub(), "/silent", 1);
      const genuine = seen.headers["ce-correlationid"];
      const forged = genuine.replace(/:[A-Za-z0-9_-]{43}$/, `:${"A".repeat(43)}`);
      const refused = await counter("rr", "requestreply_refused");
      expect((await postReply("rr", "forged-answer", forged)).status).toBe(202);
      expect((await postReply("rr", "garbage-answer", "not-a-value")).status).toBe(202);
      await eventually(async () => (await counter("rr", "requestreply_refused")) === refused + 2, 10_000, "both forged replies to be refused");
      const r = await waiting;
      expect(r.status).toBe(504);
      await r.arrayBuffer();

      const answered = await ask("ask", binaryEvent("q-twice", "rr.request"));
      expect(answered.status).toBe(200);
      const value = answered.headers.get("ce-replyid")!;
      await answered.arrayBuffer();
      const duplicates = await counter("rr", "requestreply_duplicate");
      expect((await postReply("rr", "second-answer", value)).status).toBe(202);
      await eventually(async () => (await counter("rr", "requestreply_duplicate")) === duplicates + 1, 10_000, "the second reply to be counted");
    });

    it("answers a refused request with the broker's own answer", async () => {
      const bad = await ask("ask", { method: "POST", headers: { "ce-specversion": "1.0", "ce-source": "/test", "ce-type": "rr.request" }, body: "" });
      expect(bad.status).toBe(400);
      expect(((await bad.json()) as { field?: string }).field).toBe("id");
      const batch = await ask("ask", { method: "POST", headers: { "content-type": "application/cloudevents-batch+json" }, body: "[]" });
      expect(batch.status).toBe(415);
      await batch.arrayBuffer();
      expect((await ask("nope", binaryEvent("q-404", "rr.request"))).status).toBe(404);
      const get = await h.fetch(`/requestreplies/${ns}/ask`);
      expect(get.status).toBe(405);
      expect(get.headers.get("allow")).toBe("POST, OPTIONS");
      await get.arrayBuffer();
      const handshake = await h.fetch(`/requestreplies/${ns}/ask`, { method: "OPTIONS", headers: { "webhook-request-origin": "eventemitter.example.com" } });
      expect(handshake.headers.get("webhook-allowed-origin")).toBe("eventemitter.example.com");
      await handshake.arrayBuffer();
      const first = await ask("ask", binaryEvent("q-dup", "rr.request"));
      expect(first.status).toBe(200);
      await first.arrayBuffer();
      const again = await ask("ask", binaryEvent("q-dup", "rr.request"));
      expect(again.status).toBe(409);
      await again.arrayBuffer();
    });
  });

  describe("a partitioned broker", () => {
    beforeAll(async () => {
      await apply("brokers", broker("rrp", { "edge-eventing.dev/partitions": "4" }));
      await apply(
        "triggers",
        trigger("rrp-responder", { broker: "rrp", filter: { attributes: { type: "rr.request" } }, subscriber: { uri: `${sub()}/rrp-responder` } }),
      );
      await apply("requestreplies", requestReplyManifest("askp", { brokerRef: { kind: "Broker", name: "rrp" }, timeout: "PT20S" }));
    });

    it("finds the caller when the reply lands on another partition than the request", async () => {
      const requestKey = "k-request";
      const replyKey = ["k-a", "k-b", "k-c", "k-d", "k-e", "k-f"].find((k) => partitionOfKey(k, 4) !== partitionOfKey(requestKey, 4))!;
      await script(sub(), "/rrp-responder", [{ ...replyStep("rr.reply"), headers: { ...replyStep("rr.reply").headers, "ce-partitionkey": replyKey } }]);
      const r = await ask("askp", binaryEvent("qp-1", "rr.request", { "ce-partitionkey": requestKey }));
      expect(r.status).toBe(200);
      expect(r.headers.get("ce-partitionkey")).toBe(replyKey);
      expect(r.headers.get("ce-inreplyto")).toBe("qp-1");
      await r.arrayBuffer();
      expect(await counter("rrp", "requestreply_delivered")).toBeGreaterThanOrEqual(1);
    });
  });
}
