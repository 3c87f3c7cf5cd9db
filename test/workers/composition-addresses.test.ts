/**
 * The addresses of EventTransforms, Sequences and Parallels (security review, round two): an unknown name
 * is a 404 decided from the routing table, before any object is touched; EventPolicies apply to them as to
 * every Knative addressable (audience `{group}/{kind}/{namespace}/{name}`), and so does the ingress-token
 * annotation. A Sequence whose reply is a policy-protected broker is no way around that broker's policy
 * once a policy covers the Sequence too.
 */
import { env, exports } from "cloudflare:workers";
import { listDurableObjectIds } from "cloudflare:test";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { issuerClient } from "../support/oidc-issuer.ts";
import { auth, broker, receivedAtLeast, resourcePath, script, trigger } from "../support/client.ts";
import { applyManifest, eventPolicy, eventPolicyPath } from "../support/manifests.ts";

const NS = "addr";
const sub = inject("subscriberUrl");
const issuer = issuerClient(inject("oidcUrl"));
const fetchRouter = (path: string, init?: RequestInit) => exports.default.fetch(`http://router.test${path}`, init);
const SENDER = "repo:org/app:ref:refs/heads/main";

const put = (path: string, body: unknown) => applyManifest(fetchRouter, path, body);

const sequence = (name: string, spec: Record<string, unknown>, annotations: Record<string, string> = {}) => ({
  apiVersion: "flows.knative.dev/v1",
  kind: "Sequence",
  metadata: { name, annotations },
  spec,
});
const sequencePath = (name: string) => `/apis/flows.knative.dev/v1/namespaces/${NS}/sequences/${name}`;
const policyPath = (name: string) => eventPolicyPath(NS, name);

async function token(audience: string): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return issuer.token({ issuer: "trusted", claims: { iss: issuer.issuerUrl("trusted"), sub: SENDER, aud: audience, iat: now, exp: now + 600 } });
}

const post = (path: string, id: string, bearer?: string) =>
  fetchRouter(path, {
    method: "POST",
    headers: { "content-type": "application/cloudevents+json", ...(bearer ? { authorization: `Bearer ${bearer}` } : {}) },
    body: JSON.stringify({ specversion: "1.0", id, source: "/addr", type: "com.example.addr" }),
  });

describe("composition addresses", () => {
  beforeAll(async () => {
    await script(sub, "/addr-step", [{ status: 200 }]);
    await script(sub, "/addr-guarded", [{ status: 200 }]);
    await put(resourcePath(NS, "brokers", "guarded"), broker("guarded"));
    await put(resourcePath(NS, "triggers", "guarded-all"), trigger("guarded-all", { broker: "guarded", subscriber: { uri: `${sub}/addr-guarded` } }));
    await put(
      policyPath("guard-broker"),
      eventPolicy("guard-broker", {
        to: [{ ref: { apiVersion: "eventing.knative.dev/v1", kind: "Broker", name: "guarded" } }],
        from: [{ sub: SENDER, issuer: issuer.issuerUrl("trusted") }],
      }),
    );
    // The review's way in: a Sequence whose reply is the guarded broker (its one step replies with the event).
    const toGuarded = { ref: { apiVersion: "eventing.knative.dev/v1", kind: "Broker", name: "guarded" } };
    await put(`/apis/eventing.knative.dev/v1alpha1/namespaces/${NS}/eventtransforms/identity`, {
      apiVersion: "eventing.knative.dev/v1alpha1",
      kind: "EventTransform",
      metadata: { name: "identity" },
      spec: { jsonata: { expression: "$" } },
    });
    const identity = { ref: { apiVersion: "eventing.knative.dev/v1alpha1", kind: "EventTransform", name: "identity" } };
    await put(sequencePath("into-guarded"), sequence("into-guarded", { steps: [identity], reply: toGuarded }));
  });

  it("answer 404 for a name nothing declares, without touching an object", async () => {
    for (const plural of ["eventtransforms", "sequences", "parallels"]) {
      const name = `nothing-${crypto.randomUUID().slice(0, 8)}`;
      expect((await post(`/${plural}/${NS}/${name}`, "x")).status, plural).toBe(404);
      const channel = `${NS}/${{ eventtransforms: "eventtransform", sequences: "sequence", parallels: "parallel" }[plural]}:${name}`;
      const ids = await listDurableObjectIds(env.BROKER);
      expect(
        ids.some((id) => id.equals(env.BROKER.idFromName(channel))),
        channel,
      ).toBe(false);
    }
  });

  it("take EventPolicies naming them: a token with the Sequence's audience, and the Sequence shows the policy and its audience", async () => {
    expect((await post(`/sequences/${NS}/into-guarded`, "open-1")).status).toBe(202);
    await put(
      policyPath("guard-sequence"),
      eventPolicy("guard-sequence", {
        to: [{ ref: { apiVersion: "flows.knative.dev/v1", kind: "Sequence", name: "into-guarded" } }],
        from: [{ sub: SENDER, issuer: issuer.issuerUrl("trusted") }],
      }),
    );
    const refused = await post(`/sequences/${NS}/into-guarded`, "anon-1");
    expect(refused.status).toBe(401);
    expect(await refused.json()).toMatchObject({ reason: "missing_token" });
    expect((await post(`/sequences/${NS}/into-guarded`, "wrong-aud", await token(`eventing.knative.dev/broker/${NS}/guarded`))).status).toBe(401);
    expect((await post(`/sequences/${NS}/into-guarded`, "signed-1", await token(`flows.knative.dev/sequence/${NS}/into-guarded`))).status).toBe(202);
    const got = await receivedAtLeast(sub, "/addr-guarded", 2, 15_000);
    expect(got.map((r) => r.headers["ce-id"]).sort()).toEqual(["open-1", "signed-1"]);
    const shown = (await (await fetchRouter(sequencePath("into-guarded"), { headers: auth })).json()) as {
      status: { address: { audience: string }; policies: { name: string }[] };
    };
    expect(shown.status.address.audience).toBe(`flows.knative.dev/sequence/${NS}/into-guarded`);
    expect(shown.status.policies).toEqual([{ apiVersion: "eventing.knative.dev/v1alpha1", name: "guard-sequence" }]);
  });

  it("take the ingress-token annotation, as a broker does", async () => {
    await put(
      sequencePath("tokened"),
      sequence("tokened", { steps: [{ uri: `${sub}/addr-step` }] }, { "edge-eventing.dev/ingress-token-secret": "SECRET_INGRESS_TOKEN" }),
    );
    expect((await post(`/sequences/${NS}/tokened`, "t-1")).status).toBe(401);
    expect((await post(`/sequences/${NS}/tokened`, "t-2", "not-it")).status).toBe(403);
    expect((await post(`/sequences/${NS}/tokened`, "t-3", "producer-secret")).status).toBe(202);
    const bad = await fetchRouter(sequencePath("bad-token"), {
      method: "PUT",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify(sequence("bad-token", { steps: [{ uri: `${sub}/addr-step` }] }, { "edge-eventing.dev/ingress-token-secret": "ADMIN_TOKEN" })),
    });
    expect(bad.status).toBe(422);
  });
});
