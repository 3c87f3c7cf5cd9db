/**
 * EventPolicies at a RequestReply's and a JobSink's address, as Knative lets a policy name every
 * addressable (audiences `eventing.knative.dev/requestreply/{ns}/{name}` and
 * `sinks.knative.dev/jobsink/{ns}/{name}`), and a RequestReply's caller that goes away: its wait ends.
 */
import { runInDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { beforeAll, describe, expect, inject, it } from "vitest";
import type { ReplyWaiter } from "../../durable-objects/reply-waiter.ts";
import { brokerSubresource } from "../../shared/resources/broker-api.ts";
import { auth, binaryEvent, broker, eventually, receivedAtLeast, resourcePath, script, trigger } from "../support/client.ts";
import { applyManifest, eventPolicy, eventPolicyPath } from "../support/manifests.ts";
import { issuerClient } from "../support/oidc-issuer.ts";
import { clusterPath, jobSinkPath, kubernetesCluster } from "../scenarios/job-sink.ts";
import { requestReplyManifest } from "../scenarios/request-reply.ts";

const NS = "addressables";
const sub = inject("subscriberUrl");
const issuer = issuerClient(inject("oidcUrl"));
const fetchRouter = (path: string, init?: RequestInit) => exports.default.fetch(`http://router.test${path}`, init);
const SENDER = "repo:org/asker:ref:refs/heads/main";

const put = (path: string, body: unknown) => applyManifest(fetchRouter, path, body);
const get = async (path: string) => (await (await fetchRouter(path, { headers: auth })).json()) as any;

const policyPath = (name: string) => eventPolicyPath(NS, name);
const fromSender = [{ sub: SENDER, issuer: issuer.issuerUrl("trusted") }];
const rrPath = (name: string) => `/apis/eventing.knative.dev/v1alpha1/namespaces/${NS}/requestreplies/${name}`;

async function token(audience: string, subject = SENDER): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return issuer.token({ issuer: "trusted", claims: { iss: issuer.issuerUrl("trusted"), sub: subject, aud: audience, iat: now, exp: now + 600 } });
}
const bearer = (jwt: string) => ({ authorization: `Bearer ${jwt}` });
const withHeaders = (init: RequestInit, headers: Record<string, string>): RequestInit => ({
  ...init,
  headers: { ...(init.headers as Record<string, string>), ...headers },
});

async function counter(brokerName: string, name: string): Promise<number> {
  const m = (await (await fetchRouter(brokerSubresource(NS, brokerName, "metrics"), { headers: auth })).json()) as {
    counters: { trigger: string; name: string; value: number }[];
  };
  return m.counters.find((c) => c.trigger === "" && c.name === name)?.value ?? 0;
}

beforeAll(async () => {
  // A policy naming some other Broker: it must not touch the RequestReplies or JobSinks below.
  await put(resourcePath(NS, "brokers", "elsewhere"), broker("elsewhere"));
  await put(
    policyPath("guard-elsewhere"),
    eventPolicy("guard-elsewhere", {
      to: [{ ref: { apiVersion: "eventing.knative.dev/v1", kind: "Broker", name: "elsewhere" } }],
      from: [{ sub: "repo:someone/else", issuer: issuer.issuerUrl("trusted") }],
    }),
  );
});

describe("a RequestReply named by an EventPolicy", () => {
  const rrAudience = `eventing.knative.dev/requestreply/${NS}/guarded`;

  beforeAll(async () => {
    await script(sub, "/addressables-responder", [
      {
        status: 200,
        headers: {
          "ce-specversion": "1.0",
          "ce-id": "answer-{n}",
          "ce-source": "/responder",
          "ce-type": "asked.reply",
          "ce-replyid": "{h:ce-correlationid}",
          "ce-inreplyto": "{h:ce-id}",
        },
      },
    ]);
    await put(resourcePath(NS, "brokers", "asked"), broker("asked"));
    await put(
      resourcePath(NS, "triggers", "responder"),
      trigger("responder", { broker: "asked", filter: { attributes: { type: "asked.request" } }, subscriber: { uri: `${sub}/addressables-responder` } }),
    );
    const brokerRef = { apiVersion: "eventing.knative.dev/v1", kind: "Broker", name: "asked" };
    await put(rrPath("guarded"), requestReplyManifest("guarded", { brokerRef, timeout: "PT20S" }));
    await put(rrPath("open"), requestReplyManifest("open", { brokerRef, timeout: "PT20S" }));
    await put(
      policyPath("guard-rr"),
      eventPolicy("guard-rr", { to: [{ ref: { apiVersion: "eventing.knative.dev/v1alpha1", kind: "RequestReply", name: "guarded" } }], from: fromSender }),
    );
  });

  it("refuses a missing token (401) and another sender (403) before sending anything, and answers the allowed one", async () => {
    const accepted = await counter("asked", "accepted");
    const missing = await fetchRouter(`/requestreplies/${NS}/guarded`, binaryEvent("rr-anon", "asked.request"));
    expect(missing.status).toBe(401);
    expect(await missing.json()).toMatchObject({ reason: "missing_token" });
    const stranger = await fetchRouter(
      `/requestreplies/${NS}/guarded`,
      withHeaders(binaryEvent("rr-stranger", "asked.request"), bearer(await token(rrAudience, "repo:org/intruder:ref:refs/heads/main"))),
    );
    expect(stranger.status).toBe(403);
    expect(await stranger.json()).toMatchObject({ reason: "sender_not_allowed" });
    // The broker's audience is not the RequestReply's.
    const brokerAudience = await fetchRouter(
      `/requestreplies/${NS}/guarded`,
      withHeaders(binaryEvent("rr-broker-aud", "asked.request"), bearer(await token(`eventing.knative.dev/broker/${NS}/asked`))),
    );
    expect(brokerAudience.status).toBe(401);
    expect(await brokerAudience.json()).toMatchObject({ reason: "wrong_audience" });
    expect(await counter("asked", "accepted")).toBe(accepted);

    const allowed = await fetchRouter(
      `/requestreplies/${NS}/guarded`,
      withHeaders(binaryEvent("rr-allowed", "asked.request"), bearer(await token(rrAudience))),
    );
    expect(allowed.status, await allowed.clone().text()).toBe(200);
    expect(allowed.headers.get("ce-inreplyto")).toBe("rr-allowed");
    await allowed.arrayBuffer();
  });

  it("shows its policies and audience; a RequestReply no policy names stays open", async () => {
    const guarded = await get(rrPath("guarded"));
    expect(guarded.status.address).toMatchObject({ url: `http://router.test/requestreplies/${NS}/guarded`, audience: rrAudience });
    expect(guarded.status.policies).toEqual([{ apiVersion: "eventing.knative.dev/v1alpha1", name: "guard-rr" }]);
    const open = await get(rrPath("open"));
    expect(open.status.address.audience).toBe(`eventing.knative.dev/requestreply/${NS}/open`);
    expect(open.status.policies).toBeUndefined();
    const r = await fetchRouter(`/requestreplies/${NS}/open`, binaryEvent("rr-open", "asked.request"));
    expect(r.status, await r.clone().text()).toBe(200);
    await r.arrayBuffer();
  });

  it("still applies its broker's policies to the same sender, with the RequestReply's audience", async () => {
    await put(resourcePath(NS, "brokers", "strict"), broker("strict"));
    await put(
      resourcePath(NS, "triggers", "strict-responder"),
      trigger("strict-responder", {
        broker: "strict",
        filter: { attributes: { type: "asked.request" } },
        subscriber: { uri: `${sub}/addressables-responder` },
      }),
    );
    await put(rrPath("strict-ask"), requestReplyManifest("strict-ask", { brokerRef: { kind: "Broker", name: "strict" }, timeout: "PT20S" }));
    await put(
      policyPath("guard-strict-ask"),
      eventPolicy("guard-strict-ask", { to: [{ ref: { kind: "RequestReply", name: "strict-ask" } }], from: fromSender }),
    );
    await put(
      policyPath("guard-strict"),
      eventPolicy("guard-strict", { to: [{ ref: { kind: "Broker", name: "strict" } }], from: fromSender, filters: [{ prefix: { type: "asked." } }] }),
    );
    const audience = `eventing.knative.dev/requestreply/${NS}/strict-ask`;
    const filtered = await fetchRouter(
      `/requestreplies/${NS}/strict-ask`,
      withHeaders(binaryEvent("strict-1", "other.request"), bearer(await token(audience))),
    );
    expect(filtered.status).toBe(403);
    expect(await filtered.json()).toMatchObject({ reason: "event_not_allowed" });
    const allowed = await fetchRouter(`/requestreplies/${NS}/strict-ask`, withHeaders(binaryEvent("strict-2", "asked.request"), bearer(await token(audience))));
    expect(allowed.status, await allowed.clone().text()).toBe(200);
    await allowed.arrayBuffer();
  });
});

describe("a RequestReply's caller that goes away", () => {
  beforeAll(async () => {
    await script(sub, "/addressables-silent", [{ status: 202 }]);
    await put(resourcePath(NS, "brokers", "slow"), broker("slow"));
    await put(resourcePath(NS, "triggers", "silent"), trigger("silent", { broker: "slow", subscriber: { uri: `${sub}/addressables-silent` } }));
    await put(rrPath("patient"), requestReplyManifest("patient", { brokerRef: { kind: "Broker", name: "slow" }, timeout: "PT60S" }));
  });

  it("ends its wait: the waiter frees its place, and a reply that comes later is counted late, not handed over", async () => {
    const caller = new AbortController();
    const asking = fetchRouter(`/requestreplies/${NS}/patient`, { ...binaryEvent("gone-1", "slow.request"), signal: caller.signal });
    const [seen] = await receivedAtLeast(sub, "/addressables-silent", 1);
    const correlation = seen.headers["ce-correlationid"];
    const replica = Number(correlation.split(":")[1]);
    const waiter = env.REPLIES.get(env.REPLIES.idFromName(`${NS}/patient#${replica}`));
    const waitingNow = () => runInDurableObject(waiter, (instance: ReplyWaiter) => (instance as unknown as { rendezvous: { size: number } }).rendezvous.size);
    expect(await waitingNow()).toBe(1);

    caller.abort(); // the router sees its request's signal abort, as when a client disconnects
    await expect(asking).rejects.toThrow();
    await eventually(async () => (await waitingNow()) === 0, 10_000, "the waiter to free the place");

    const [late, handed] = [await counter("slow", "requestreply_late"), await counter("slow", "requestreply_replies")];
    const reply = await fetchRouter(`/${NS}/slow`, binaryEvent("gone-reply", "slow.reply", { "ce-replyid": correlation }));
    expect(reply.status).toBe(202);
    await eventually(async () => (await counter("slow", "requestreply_late")) === late + 1, 10_000, "the reply to be counted late");
    expect(await counter("slow", "requestreply_replies")).toBe(handed);
  });
});

describe("a JobSink named by an EventPolicy", () => {
  const jsAudience = `sinks.knative.dev/jobsink/${NS}/guarded`;
  const jobSink = (name: string, annotations: Record<string, string> = {}) => ({
    apiVersion: "sinks.knative.dev/v1alpha1",
    kind: "JobSink",
    metadata: { name, annotations: { "edge-eventing.dev/cluster": "k8s", ...annotations } },
    spec: {
      job: {
        spec: {
          template: {
            spec: {
              restartPolicy: "Never",
              containers: [{ name: "main", image: "docker.io/library/bash:5", env: [{ name: "FAKE_JOB_DURATION_MS", value: "60000" }] }],
            },
          },
        },
      },
    },
  });
  const post = (name: string, id: string, headers: Record<string, string> = {}, type = "video.uploaded") =>
    fetchRouter(`/jobsinks/${NS}/${name}`, withHeaders(binaryEvent(id, type, { "ce-source": "/cameras/1" }), headers));

  beforeAll(async () => {
    await put(clusterPath(NS, "k8s"), kubernetesCluster("k8s", inject("kubernetesUrl")));
    await put(
      `/apis/sinks.knative.dev/v1alpha1/namespaces/${NS}/jobsinks/guarded`,
      jobSink("guarded", { "edge-eventing.dev/ingress-token-secret": "SECRET_INGRESS_TOKEN" }),
    );
    await put(jobSinkPath(NS, "open"), jobSink("open"));
    await put(
      policyPath("guard-js"),
      eventPolicy("guard-js", {
        to: [{ ref: { apiVersion: "sinks.knative.dev/v1alpha1", kind: "JobSink", name: "guarded" } }],
        from: fromSender,
        filters: [{ prefix: { type: "video." } }],
      }),
    );
  });

  it("refuses a missing token (401), another sender (403) and a filtered event (403) before making a Job, and takes the allowed one", async () => {
    const missing = await post("guarded", "js-anon");
    expect(missing.status).toBe(401);
    expect(await missing.json()).toMatchObject({ reason: "missing_token" });
    // The policies replace the token annotation: its shared token is no JWT.
    const shared = await post("guarded", "js-shared", { authorization: "Bearer producer-secret" });
    expect(shared.status).toBe(401);
    expect(await shared.json()).toMatchObject({ reason: "malformed_token" });
    const stranger = await post("guarded", "js-stranger", bearer(await token(jsAudience, "repo:org/intruder:ref:refs/heads/main")));
    expect(stranger.status).toBe(403);
    expect(await stranger.json()).toMatchObject({ reason: "sender_not_allowed" });
    const filtered = await post("guarded", "js-filtered", bearer(await token(jsAudience)), "audio.uploaded");
    expect(filtered.status).toBe(403);
    expect(await filtered.json()).toMatchObject({ reason: "event_not_allowed" });

    const allowed = await post("guarded", "js-allowed", bearer(await token(jsAudience)));
    expect(allowed.status, await allowed.clone().text()).toBe(202);
    const location = allowed.headers.get("location")!;
    // The Location answers only senders the policies allow (it carries no event, so filters do not apply).
    expect((await fetchRouter(location)).status).toBe(401);
    expect((await fetchRouter(location, { headers: bearer(await token(jsAudience, "repo:org/intruder:ref:refs/heads/main")) })).status).toBe(403);
    const state = await fetchRouter(location, { headers: bearer(await token(jsAudience)) });
    expect(state.status).toBe(202);
    expect(await state.json()).toMatchObject({ reason: "Running" });
  });

  it("shows its policies and audience; a JobSink no policy names stays open", async () => {
    const guarded = await get(jobSinkPath(NS, "guarded"));
    expect(guarded.status.address).toMatchObject({ url: `http://router.test/jobsinks/${NS}/guarded`, audience: jsAudience });
    expect(guarded.status.policies).toEqual([{ apiVersion: "eventing.knative.dev/v1alpha1", name: "guard-js" }]);
    const open = await get(jobSinkPath(NS, "open"));
    expect(open.status.address.audience).toBe(`sinks.knative.dev/jobsink/${NS}/open`);
    expect(open.status.policies).toBeUndefined();
    const r = await post("open", "js-open");
    expect(r.status, await r.clone().text()).toBe(202);
  });
});
