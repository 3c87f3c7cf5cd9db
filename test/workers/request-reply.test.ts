import { exports } from "cloudflare:workers";
import { describe, expect, inject, it } from "vitest";
import { auth, binaryEvent, broker, resourcePath, script, trigger } from "../support/client.ts";
import { applyManifest } from "../support/manifests.ts";
import { requestReplyManifest, requestReplyScenarios } from "../scenarios/request-reply.ts";

const NS = "rr";
const sub = inject("subscriberUrl");
const fetchRouter = (path: string, init?: RequestInit) => exports.default.fetch(`http://router.test${path}`, init);
requestReplyScenarios({ fetch: fetchRouter, subscriber: () => sub }, NS);

const put = (path: string, body: unknown) => applyManifest(fetchRouter, path, body);
const rrPath = (name: string) => `/apis/eventing.knative.dev/v1alpha1/namespaces/${NS}/requestreplies/${name}`;
const echo = {
  status: 200,
  headers: { "ce-specversion": "1.0", "ce-id": "guarded-reply-{n}", "ce-source": "/responder", "ce-type": "rr.reply", "ce-replyid": "{h:ce-correlationid}" },
};

describe("who may ask: the broker's own ingress rules", () => {
  it("needs the broker's ingress token at the RequestReply's address", async () => {
    await script(sub, "/guarded", [echo]);
    await put(resourcePath(NS, "brokers", "guarded"), broker("guarded", { "edge-eventing.dev/ingress-token-secret": "SECRET_INGRESS_TOKEN" }));
    await put(
      resourcePath(NS, "triggers", "guarded"),
      trigger("guarded", { broker: "guarded", filter: { attributes: { type: "rr.request" } }, subscriber: { uri: `${sub}/guarded` } }),
    );
    await put(rrPath("ask-guarded"), requestReplyManifest("ask-guarded", { brokerRef: { kind: "Broker", name: "guarded" }, timeout: "PT10S" }));
    const ask = (id: string, headers: Record<string, string> = {}) => fetchRouter(`/requestreplies/${NS}/ask-guarded`, binaryEvent(id, "rr.request", headers));
    const missing = await ask("g-1");
    expect(missing.status).toBe(401);
    await missing.arrayBuffer();
    const wrong = await ask("g-2", { authorization: "Bearer not-it" });
    expect(wrong.status).toBe(403);
    await wrong.arrayBuffer();
    const allowed = await ask("g-3", { authorization: "Bearer producer-secret" });
    expect(allowed.status).toBe(200);
    expect(allowed.headers.get("ce-id")).toBe("guarded-reply-1");
    await allowed.arrayBuffer();
  });

  it("applies the broker's EventPolicies: no token, no request", async () => {
    await put(resourcePath(NS, "brokers", "policed"), broker("policed"));
    await put(rrPath("ask-policed"), requestReplyManifest("ask-policed", { brokerRef: { kind: "Broker", name: "policed" } }));
    const policy = {
      apiVersion: "eventing.knative.dev/v1alpha1",
      kind: "EventPolicy",
      metadata: { name: "only-ci" },
      spec: { to: [{ ref: { apiVersion: "eventing.knative.dev/v1", kind: "Broker", name: "policed" } }], from: [{ sub: "repo:example/*" }] },
    };
    await put(`/apis/eventing.knative.dev/v1alpha1/namespaces/${NS}/eventpolicies/only-ci`, policy);
    const r = await fetchRouter(`/requestreplies/${NS}/ask-policed`, binaryEvent("p-1", "rr.request"));
    expect(r.status).toBe(401);
    expect(await r.json()).toMatchObject({ reason: "missing_token" });
  });
});

describe("signing keys", () => {
  it("a RequestReply whose spec.secrets cannot be read is not Ready and answers 503 without sending", async () => {
    await put(resourcePath(NS, "brokers", "keyless"), broker("keyless"));
    await put(rrPath("ask-keyless"), requestReplyManifest("ask-keyless", { brokerRef: { kind: "Broker", name: "keyless" }, secrets: ["SECRET_NOT_SET"] }));
    const got = (await (await fetchRouter(rrPath("ask-keyless"), { headers: auth })).json()) as {
      status: { conditions: { type: string; status: string; reason: string; message: string }[] };
    };
    expect(got.status.conditions[0]).toMatchObject({ type: "Ready", status: "False", reason: "SigningKeyMissing" });
    expect(got.status.conditions[0].message).toContain("SECRET_NOT_SET");
    const r = await fetchRouter(`/requestreplies/${NS}/ask-keyless`, binaryEvent("k-1", "rr.request"));
    expect(r.status).toBe(503);
    await r.arrayBuffer();
    const metrics = (await (await fetchRouter(`/apis/eventing.knative.dev/v1/namespaces/${NS}/brokers/keyless/metrics`, { headers: auth })).json()) as {
      counters: { trigger: string; name: string; value: number }[];
    };
    expect(metrics.counters.find((c) => c.trigger === "" && c.name === "accepted")?.value ?? 0).toBe(0);
  });
});
