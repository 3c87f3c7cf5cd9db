/**
 * EventPolicy end to end over real HTTP: `wrangler dev` trusting a local OIDC issuer (a real HTTP server
 * with RS256 and ES256 keys), a CI pipeline's token (GitHub Actions' subject format) and a Kubernetes
 * service account's; every bad token a 401, a sender no policy allows a 403, nothing stored for either;
 * a rotated key accepted; `edge-eventing describe broker` and /metrics show the policies at work.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startCli } from "../support/cli.ts";
import { auth, eventually, received, receivedAtLeast, script } from "../support/client.ts";
import { OidcIssuer } from "../support/oidc-issuer.ts";
import { type RunningRouter, startRouter } from "../support/router.ts";
import { type Subscriber, startSubscriber } from "../support/subscriber.ts";

let router: RunningRouter;
let sub: Subscriber;
let oidc: OidcIssuer;
const AUDIENCE = "eventing.knative.dev/broker/team/events";
const MAIN = "repo:org/repo:ref:refs/heads/main";

async function put(path: string, body: unknown): Promise<Response> {
  return fetch(`${router.url}${path}`, { method: "PUT", headers: { ...auth, "content-type": "application/json" }, body: JSON.stringify(body) });
}

async function token(issuer: string, claims: Record<string, unknown> = {}, opts: { alg?: "RS256" | "ES256"; kid?: string } = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return oidc.token({ issuer, ...opts, claims: { iss: oidc.issuerUrl(issuer), sub: MAIN, aud: AUDIENCE, iat: now, exp: now + 300, ...claims } });
}

function send(id: string, bearer?: string, type = "dev.example.build", source = "/ci"): Promise<Response> {
  const headers: Record<string, string> = { "ce-specversion": "1.0", "ce-id": id, "ce-source": source, "ce-type": type, "content-type": "application/json" };
  if (bearer !== undefined) headers.authorization = `Bearer ${bearer}`;
  return fetch(`${router.url}/team/events`, { method: "POST", headers, body: '{"ok":true}' });
}

async function history(): Promise<string[]> {
  const r = await fetch(`${router.url}/apis/edge-eventing.dev/v1alpha1/namespaces/team/brokers/events/events?limit=1000`, { headers: auth });
  return ((await r.json()) as { items: { event: { id: string } }[] }).items.map((i) => i.event.id);
}

beforeAll(async () => {
  oidc = await new OidcIssuer().start();
  [router, sub] = await Promise.all([startRouter({ vars: { OIDC_ISSUERS: `${oidc.issuerUrl("github")},${oidc.issuerUrl("cluster")}` } }), startSubscriber()]);
  await script(sub.url, "/events", [{ status: 200 }]);
  expect(
    (
      await put("/apis/eventing.knative.dev/v1/namespaces/team/brokers/events", {
        apiVersion: "eventing.knative.dev/v1",
        kind: "Broker",
        metadata: { name: "events" },
      })
    ).status,
  ).toBe(201);
  const t = {
    apiVersion: "eventing.knative.dev/v1",
    kind: "Trigger",
    metadata: { name: "all" },
    spec: { broker: "events", subscriber: { uri: `${sub.url}/events` } },
  };
  expect((await put("/apis/eventing.knative.dev/v1/namespaces/team/triggers/all", t)).status).toBe(201);
});

afterAll(async () => {
  await router?.stop();
  await sub?.close();
  await oidc?.close();
});

describe("EventPolicy over HTTP", () => {
  it("leaves the ingress open until a policy applies, then shows it on the broker", async () => {
    expect((await send("before-policy")).status).toBe(202);
    const policy = {
      apiVersion: "eventing.knative.dev/v1alpha1",
      kind: "EventPolicy",
      metadata: { name: "ci-and-cluster" },
      spec: {
        to: [{ ref: { apiVersion: "eventing.knative.dev/v1", kind: "Broker", name: "events" } }],
        // Two trusted issuers: each sub is tied to the one that signs it.
        from: [
          { sub: MAIN, issuer: oidc.issuerUrl("github") },
          { sub: "system:serviceaccount:apps:*", issuer: oidc.issuerUrl("cluster") },
        ],
        filters: [{ prefix: { type: "dev.example." } }],
      },
    };
    expect((await put("/apis/eventing.knative.dev/v1alpha1/namespaces/team/eventpolicies/ci-and-cluster", policy)).status).toBe(201);
    const b = (await (await fetch(`${router.url}/apis/eventing.knative.dev/v1/namespaces/team/brokers/events`, { headers: auth })).json()) as any;
    expect(b.status.address).toEqual({ url: `${router.url}/team/events`, audience: AUDIENCE });
    expect(b.status.policies).toEqual([{ apiVersion: "eventing.knative.dev/v1alpha1", name: "ci-and-cluster" }]);
    const described = await startCli(router.url, ["describe", "broker", "events", "-n", "team"]).done;
    expect(described.code, described.stderr).toBe(0);
    expect(described.stdout).toMatch(/Policies:\s+ci-and-cluster \(senders need an OIDC token for audience eventing\.knative\.dev\/broker\/team\/events\)/);
    const listed = await startCli(router.url, ["get", "eventpolicies", "-n", "team"]).done;
    expect(listed.stdout).toContain("ci-and-cluster");
  });

  it("answers 401 with a reason for every bad token and 403 for a sender or event not allowed, storing nothing", async () => {
    const now = Math.floor(Date.now() / 1000);
    const good = await token("github");
    const [h, p] = good.split(".");
    const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");
    const cases: [number, string, string | undefined][] = [
      [401, "missing_token", undefined],
      [401, "malformed_token", "definitely not a token"],
      [
        401,
        "unknown_issuer",
        await oidc.token({ issuer: "elsewhere", claims: { iss: oidc.issuerUrl("elsewhere"), sub: MAIN, aud: AUDIENCE, exp: now + 300 } }),
      ],
      [401, "expired", await token("github", { exp: now - 600, iat: now - 900 })],
      [401, "wrong_audience", await token("github", { aud: "eventing.knative.dev/broker/team/other" })],
      [401, "bad_signature", `${h}.${p}.${(await token("cluster")).split(".")[2]}`],
      [401, "algorithm_not_allowed", `${b64({ alg: "none" })}.${p}.`],
      [403, "sender_not_allowed", await token("github", { sub: "repo:org/repo:pull_request" })],
      [403, "event_not_allowed", undefined],
    ];
    for (const [i, [status, reason, bearer]] of cases.entries()) {
      const r = reason === "event_not_allowed" ? await send(`refused-${i}`, good, "com.attacker.wipe") : await send(`refused-${i}`, bearer);
      const text = await r.text();
      expect(r.status, `${reason}: ${text}`).toBe(status);
      expect(JSON.parse(text)).toMatchObject({ reason });
      if (bearer) expect(text).not.toContain(bearer);
    }
    // JWKS that cannot be fetched: the cluster issuer's key service is down.
    await oidc.setBroken("cluster", true);
    const down = await send("refused-jwks", await token("cluster", { sub: "system:serviceaccount:apps:sender" }));
    expect(down.status).toBe(401);
    expect(await down.json()).toMatchObject({ reason: "jwks_unavailable" });
    await oidc.setBroken("cluster", false);
    expect((await history()).filter((id) => id.startsWith("refused-"))).toEqual([]);
  });

  it("stores and delivers what a CI pipeline and a Kubernetes service account send with valid tokens", async () => {
    expect((await send("from-ci", await token("github"))).status).toBe(202);
    // The cluster's JWKS failed a moment ago: it is asked again after the cooldown.
    await eventually(
      async () => (await send("from-cluster", await token("cluster", { sub: "system:serviceaccount:apps:sender" }, { alg: "ES256" }))).status === 202,
      30_000,
      "the cluster token accepted",
    );
    const got = await receivedAtLeast(sub.url, "/events", 3, 15_000);
    expect(got.map((g) => g.headers["ce-id"])).toEqual(expect.arrayContaining(["before-policy", "from-ci", "from-cluster"]));
    expect(got.some((g) => String(g.headers["ce-id"]).startsWith("refused-"))).toBe(false);
  });

  it("accepts a rotated signing key once the issuer publishes it", async () => {
    const kid = await oidc.rotate("github", "ES256");
    await eventually(async () => (await send("after-rotation", await token("github", {}, { kid }))).status === 202, 30_000, "the rotated key accepted");
    expect((await history()).filter((id) => id === "after-rotation")).toHaveLength(1);
  });

  it("counts refusals per broker in /metrics", async () => {
    await eventually(
      async () => {
        const text = await (await fetch(`${router.url}/metrics`, { headers: auth })).text();
        const count = (code: number) =>
          Number(new RegExp(`edge_eventing_ingress_refused_total\\{namespace="team",broker="events",code="${code}"\\} (\\d+)`).exec(text)?.[1] ?? 0);
        return count(401) >= 8 && count(403) >= 2;
      },
      15_000,
      "refusals in /metrics",
    );
    expect((await received(sub.url, "/events")).length).toBeGreaterThanOrEqual(3);
  });
});
