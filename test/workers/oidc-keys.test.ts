/**
 * Security review, round two (issue 22): one token must not lock out an issuer. Only a failed JWKS fetch is
 * remembered; a crafted token (an unknown `crit` extension, no `kid` against a JWKS of two keys of its
 * alg) is that token's 401 alone, and the next valid token of the issuer is accepted. Concurrent first
 * requests share one fetch of the issuer's keys. With several trusted issuers, a policy's `sub` names a
 * sender only of the issuer it is tied to.
 */
import { exports } from "cloudflare:workers";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { issuerClient } from "../support/oidc-issuer.ts";
import { auth, binaryEvent, broker, resourcePath } from "../support/client.ts";
import { applyManifest } from "../support/manifests.ts";

const NS = "keys";
const issuer = issuerClient(inject("oidcUrl"));
const fetchRouter = (path: string, init?: RequestInit) => exports.default.fetch(`http://router.test${path}`, init);
const AUDIENCE = `eventing.knative.dev/broker/${NS}/b`;
const SUB = "repo:org/app:ref:refs/heads/main";

const put = (path: string, body: unknown) => applyManifest(fetchRouter, path, body);

async function token(name: string, claims: Record<string, unknown> = {}, header?: Record<string, unknown>): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return issuer.token({ issuer: name, header, claims: { iss: issuer.issuerUrl(name), sub: SUB, aud: AUDIENCE, iat: now, exp: now + 600, ...claims } });
}

const send = (id: string, bearer: string) =>
  fetchRouter(`/${NS}/b`, {
    ...binaryEvent(id, "com.example.push"),
    headers: { ...(binaryEvent(id, "com.example.push").headers as Record<string, string>), authorization: `Bearer ${bearer}` },
  });

beforeAll(async () => {
  // Two RS256 keys published (and one ES256), before this isolate first fetches the JWKS.
  await issuer.rotate("keys", "RS256");
  await put(resourcePath(NS, "brokers", "b"), broker("b"));
  await put(`/apis/eventing.knative.dev/v1alpha1/namespaces/${NS}/eventpolicies/p`, {
    apiVersion: "eventing.knative.dev/v1alpha1",
    kind: "EventPolicy",
    metadata: { name: "p" },
    spec: {
      from: [{ sub: SUB, issuer: issuer.issuerUrl("keys") }, { sub: SUB, issuer: issuer.issuerUrl("trusted") }, { sub: "system:serviceaccount:apps:*" }],
    },
  });
});

describe("the keys of an issuer", () => {
  it("are fetched once for concurrent first requests", async () => {
    const before = await issuer.fetches("keys");
    const tokens = await Promise.all(Array.from({ length: 8 }, () => token("keys")));
    const answers = await Promise.all(tokens.map((t, i) => send(`first-${i}`, t)));
    expect(answers.map((r) => r.status)).toEqual(Array(8).fill(202));
    const after = await issuer.fetches("keys");
    expect({ discovery: after.discovery - before.discovery, jwks: after.jwks - before.jwks }).toEqual({ discovery: 1, jwks: 1 });
  });

  it("a token with a crit header naming an unknown extension is a 401 for that token; the next valid token is accepted", async () => {
    const crafted = await token("keys", {}, { crit: ["zzz"], zzz: 1 });
    const refused = await send("crit", crafted);
    expect(refused.status).toBe(401);
    expect(await refused.json()).toMatchObject({ reason: "invalid_token" });
    expect((await send("after-crit", await token("keys"))).status).toBe(202);
  });

  it("a token without kid, while the JWKS has two keys of its alg, is a 401 for that token; the next valid token is accepted", async () => {
    const refused = await send("no-kid", await token("keys", {}, { kid: null }));
    expect(refused.status).toBe(401);
    expect(await refused.json()).toMatchObject({ reason: "unknown_key", error: expect.stringContaining("kid") });
    expect((await send("after-no-kid", await token("keys"))).status).toBe(202);
  });
});

describe("a policy's sub with several trusted issuers", () => {
  it("names a sender only of the issuer it is tied to; a bare sub names no one, and the policy says so", async () => {
    expect((await send("tied-keys", await token("keys"))).status).toBe(202);
    expect((await send("tied-trusted", await token("trusted"))).status).toBe(202);
    // The same sub from another trusted issuer, which the policy does not name for it.
    const other = await send("other-issuer", await token("ci"));
    expect(other.status).toBe(403);
    expect(await other.json()).toMatchObject({ reason: "sender_not_allowed" });
    const bare = await send("bare", await token("trusted", { sub: "system:serviceaccount:apps:sender" }));
    expect(bare.status).toBe(403);
    const p = (await (await fetchRouter(`/apis/eventing.knative.dev/v1alpha1/namespaces/${NS}/eventpolicies/p`, { headers: auth })).json()) as {
      status: { conditions: { type: string; status: string; reason: string }[] };
    };
    expect(p.status.conditions.find((c) => c.type === "AuthenticationEnabled")).toMatchObject({ status: "False", reason: "IssuerRequired" });
  });
});
