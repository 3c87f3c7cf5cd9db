/**
 * EventPolicy at broker ingress (API.md §8) in workerd, against the local OIDC issuer of
 * test/support/oidc-issuer.ts over real HTTP: every way a token can be wrong is a 401 with a reason, a
 * sender or event no policy allows is a 403, and neither stores anything; allowed senders (exact and
 * wildcard subs, RS256 and ES256, after a key rotation) are stored and delivered.
 */
import { exports } from "cloudflare:workers";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { issuerClient } from "../support/oidc-issuer.ts";
import { auth, binaryEvent, broker, eventually, receivedAtLeast, received, resourcePath, script, trigger } from "../support/client.ts";
import { eventPolicy as policy, eventPolicyPath, putManifest } from "../support/manifests.ts";
import { brokerSubresource } from "../../shared/resources/broker-api.ts";
import { applySource, getSource, kafkaFake, kafkaSpec, NS as SOURCES_NS } from "../fakes/sources-client.ts";

const NS = "pol";
const sub = inject("subscriberUrl");
const issuer = issuerClient(inject("oidcUrl"));
const fetchRouter = (path: string, init?: RequestInit) => exports.default.fetch(`http://router.test${path}`, init);
const AUDIENCE = (name: string) => `eventing.knative.dev/broker/${NS}/${name}`;
const MAIN = "repo:org/app:ref:refs/heads/main";
const policyPath = (name: string) => eventPolicyPath(NS, name);
const put = (path: string, body: unknown) => putManifest(fetchRouter, path, body);

/** A token from the local issuer `name`, valid for ten minutes unless `claims` say otherwise. */
async function token(name: string, claims: Record<string, unknown> = {}, opts: { alg?: "RS256" | "ES256"; kid?: string } = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return issuer.token({
    issuer: name,
    ...opts,
    claims: { iss: issuer.issuerUrl(name), sub: MAIN, aud: AUDIENCE("guarded"), iat: now, exp: now + 600, ...claims },
  });
}

const withToken = (init: RequestInit, bearer: string | undefined): RequestInit => ({
  ...init,
  headers: { ...(init.headers as Record<string, string>), ...(bearer === undefined ? {} : { authorization: `Bearer ${bearer}` }) },
});

async function accepted(name: string): Promise<number> {
  const m = (await (await fetchRouter(brokerSubresource(NS, name, "metrics"), { headers: auth })).json()) as {
    counters: { trigger: string; name: string; value: number }[];
  };
  return m.counters.find((c) => c.trigger === "" && c.name === "accepted")?.value ?? 0;
}

const b64 = (v: unknown) => btoa(JSON.stringify(v)).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");

beforeAll(async () => {
  await script(sub, "/guarded", [{ status: 200 }]);
  for (const b of [broker("open"), broker("guarded", {}, {}), { ...broker("labelled"), metadata: { name: "labelled", labels: { team: "platform" } } }]) {
    expect((await put(resourcePath(NS, "brokers", b.metadata.name), b)).status).toBe(201);
  }
  expect(
    (await put(resourcePath(NS, "triggers", "guarded-all"), trigger("guarded-all", { broker: "guarded", subscriber: { uri: `${sub}/guarded` } }))).status,
  ).toBe(201);
  const ci = policy("ci-main", {
    to: [{ ref: { apiVersion: "eventing.knative.dev/v1", kind: "Broker", name: "guarded" } }],
    // OIDC_ISSUERS lists several issuers here: each sub names the issuer that signs it.
    from: [
      { sub: MAIN, issuer: issuer.issuerUrl("trusted") },
      { sub: MAIN, issuer: issuer.issuerUrl("rotating") },
      { sub: "repo:org/infra:*", issuer: issuer.issuerUrl("ci") },
    ],
    filters: [{ prefix: { type: "com.example." } }],
  });
  expect((await put(policyPath("ci-main"), ci)).status).toBe(201);
  const k8s = policy("k8s-senders", {
    to: [{ selector: { apiVersion: "eventing.knative.dev/v1", kind: "Broker", matchLabels: { team: "platform" } } }],
    from: [{ sub: "system:serviceaccount:apps:sender", issuer: issuer.issuerUrl("trusted") }],
    filters: [{ cesql: "source LIKE '/k8s/%'" }],
  });
  expect((await put(policyPath("k8s-senders"), k8s)).status).toBe(201);
});

describe("EventPolicy resources", () => {
  it("a broker shows its audience and the policies that apply; the policy is Ready", async () => {
    const guarded = (await (await fetchRouter(resourcePath(NS, "brokers", "guarded"), { headers: auth })).json()) as any;
    expect(guarded.status.address.audience).toBe(AUDIENCE("guarded"));
    expect(guarded.status.policies).toEqual([{ apiVersion: "eventing.knative.dev/v1alpha1", name: "ci-main" }]);
    const labelled = (await (await fetchRouter(resourcePath(NS, "brokers", "labelled"), { headers: auth })).json()) as any;
    expect(labelled.status.policies).toEqual([{ apiVersion: "eventing.knative.dev/v1alpha1", name: "k8s-senders" }]);
    const open = (await (await fetchRouter(resourcePath(NS, "brokers", "open"), { headers: auth })).json()) as any;
    expect(open.status.policies).toBeUndefined();
    const p = (await (await fetchRouter(policyPath("ci-main"), { headers: auth })).json()) as any;
    expect(p.status.conditions.find((c: any) => c.type === "Ready")).toMatchObject({ status: "True" });
    expect(p.status.from).toEqual([MAIN, MAIN, "repo:org/infra:*"]);
  });

  it("refuses an invalid policy with a 422 naming every field, and an unknown field by name (strict validation)", async () => {
    const bad = policy("bad", {
      to: [{ ref: { kind: "Trigger", name: "x" } }, { selector: { matchExpressions: [{ key: "a", operator: "Near" }] } }],
      from: [
        { sub: "repo:*:main" },
        { ref: { apiVersion: "sources.knative.dev/v1", kind: "ContainerSource", name: "c" } },
        { sub: "a", ref: { kind: "PingSource", name: "p" } },
      ],
      filters: [{ cesql: "type = " }],
    });
    const r = await put(policyPath("bad"), bad);
    expect(r.status).toBe(422);
    const fields = ((await r.json()) as any).details.causes.map((c: any) => c.field);
    expect(fields).toEqual(
      expect.arrayContaining([
        "spec.to[0].ref.kind",
        "spec.to[1].selector.matchExpressions[0].operator",
        "spec.from[0].sub",
        "spec.from[1].ref.kind",
        "spec.from[2]",
        "spec.filters[0].cesql",
      ]),
    );
    const unknown = await put(`${policyPath("typo")}?fieldValidation=Strict`, policy("typo", { from: [{ sub: "x", subject: "y" }] }));
    expect(unknown.status).toBe(400); // Kubernetes' strict decoding error
    expect(JSON.stringify(await unknown.json())).toContain("spec.from[0].subject");
    expect((await fetchRouter(policyPath("bad"), { headers: auth })).status).toBe(404);
  });
});

describe("ingress of a broker without policies", () => {
  it("takes events without a token, as before", async () => {
    expect((await fetchRouter(`/${NS}/open`, binaryEvent("open-1"))).status).toBe(202);
  });
});

describe("ingress of a broker with policies", () => {
  it("refuses every bad token with 401, a reason, never the token, and stores nothing", async () => {
    const before = await accepted("guarded");
    const good = await token("trusted");
    const [header, payload, signature] = good.split(".");
    const now = Math.floor(Date.now() / 1000);
    await issuer.setBroken("broken", true);
    const cases: [string, string | undefined][] = [
      ["missing_token", undefined],
      ["malformed_token", "not-a-jwt"],
      ["malformed_token", "a.b.c"],
      [
        "unknown_issuer",
        await issuer.token({ issuer: "untrusted", claims: { iss: issuer.issuerUrl("untrusted"), sub: MAIN, aud: AUDIENCE("guarded"), exp: now + 600 } }),
      ],
      ["expired", await token("trusted", { exp: now - 3600, iat: now - 4000 })],
      ["not_yet_valid", await token("trusted", { nbf: now + 3600 })],
      ["wrong_audience", await token("trusted", { aud: AUDIENCE("open") })],
      ["bad_signature", `${header}.${payload}.${signature.slice(0, -6)}${signature.slice(-6) === "AAAAAA" ? "BBBBBB" : "AAAAAA"}`],
      [
        "bad_signature",
        `${header}.${b64({ ...JSON.parse(atob(payload.replace(/-/g, "+").replace(/_/g, "/"))), sub: "repo:org/app:ref:refs/heads/evil" })}.${signature}`,
      ],
      ["algorithm_not_allowed", `${b64({ alg: "none", typ: "JWT" })}.${payload}.`],
      ["algorithm_not_allowed", `${b64({ alg: "HS256", typ: "JWT" })}.${payload}.${signature}`],
      ["jwks_unavailable", await token("broken")],
    ];
    for (const [reason, bearer] of cases) {
      const r = await fetchRouter(`/${NS}/guarded`, withToken(binaryEvent(`bad-${reason}`, "com.example.push"), bearer));
      const text = await r.text();
      expect(r.status, `${reason}: ${text}`).toBe(401);
      expect(JSON.parse(text), text).toMatchObject({ reason });
      expect(r.headers.get("www-authenticate")).toBe(
        bearer === undefined ? 'Bearer realm="edge-eventing ingress"' : 'Bearer realm="edge-eventing ingress", error="invalid_token"',
      );
      if (bearer) expect(text).not.toContain(bearer);
    }
    expect(await accepted("guarded")).toBe(before);
    await issuer.setBroken("broken", false);
  });

  it("accepts an allowed sender's events (RS256 and ES256, exact and wildcard sub) in every mode", async () => {
    const before = await accepted("guarded");
    expect((await fetchRouter(`/${NS}/guarded`, withToken(binaryEvent("ok-rs", "com.example.push"), await token("trusted")))).status).toBe(202);
    expect(
      (await fetchRouter(`/${NS}/guarded`, withToken(binaryEvent("ok-es", "com.example.push"), await token("trusted", {}, { alg: "ES256" })))).status,
    ).toBe(202);
    const infra = await token("ci", { sub: "repo:org/infra:ref:refs/heads/release" });
    const structured = { specversion: "1.0", id: "ok-structured", source: "/ci", type: "com.example.deploy" };
    const r = await fetchRouter(
      `/${NS}/guarded`,
      withToken({ method: "POST", headers: { "content-type": "application/cloudevents+json" }, body: JSON.stringify(structured) }, infra),
    );
    expect(r.status).toBe(202);
    const batch = [1, 2].map((i) => ({ specversion: "1.0", id: `ok-batch-${i}`, source: "/ci", type: "com.example.batch" }));
    const rb = await fetchRouter(
      `/${NS}/guarded`,
      withToken({ method: "POST", headers: { "content-type": "application/cloudevents-batch+json" }, body: JSON.stringify(batch) }, infra),
    );
    expect(rb.status).toBe(202);
    expect(await accepted("guarded")).toBe(before + 5);
    const got = await receivedAtLeast(sub, "/guarded", 5);
    expect(got.map((g) => g.headers["ce-id"] ?? JSON.parse(g.body).id)).toEqual(
      expect.arrayContaining(["ok-rs", "ok-es", "ok-structured", "ok-batch-1", "ok-batch-2"]),
    );
    // The token was the sender's proof for the router, not something to hand on to subscribers.
    expect(got.every((g) => g.headers.authorization === undefined)).toBe(true);
  });

  it("refuses with 403 a sender no policy names, and an event the policy's filters refuse; a batch is refused whole", async () => {
    const before = await accepted("guarded");
    const stranger = await fetchRouter(
      `/${NS}/guarded`,
      withToken(binaryEvent("no-1", "com.example.push"), await token("trusted", { sub: "repo:org/app:ref:refs/heads/feature" })),
    );
    expect(stranger.status).toBe(403);
    expect(await stranger.json()).toMatchObject({ reason: "sender_not_allowed" });
    const wildcardIsPrefixOnly = await fetchRouter(
      `/${NS}/guarded`,
      withToken(binaryEvent("no-2", "com.example.push"), await token("trusted", { sub: "repo:org/infrastructure:ref:refs/heads/main" })),
    );
    expect(wildcardIsPrefixOnly.status).toBe(403);
    const filtered = await fetchRouter(`/${NS}/guarded`, withToken(binaryEvent("no-3", "org.other.push"), await token("trusted")));
    expect(filtered.status).toBe(403);
    expect(await filtered.json()).toMatchObject({ reason: "event_not_allowed" });
    const batch = [
      { specversion: "1.0", id: "mixed-1", source: "/ci", type: "com.example.ok" },
      { specversion: "1.0", id: "mixed-2", source: "/ci", type: "org.other.no" },
    ];
    const rb = await fetchRouter(
      `/${NS}/guarded`,
      withToken({ method: "POST", headers: { "content-type": "application/cloudevents-batch+json" }, body: JSON.stringify(batch) }, await token("trusted")),
    );
    expect(rb.status).toBe(403);
    expect(await rb.json()).toMatchObject({ reason: "event_not_allowed", error: expect.stringContaining("[1]") });
    expect(await accepted("guarded")).toBe(before);
    expect((await received(sub, "/guarded")).some((g) => String(g.headers["ce-id"]).startsWith("mixed-"))).toBe(false);
  });

  it("applies a selector's policy with its CESQL filter", async () => {
    const aud = { aud: AUDIENCE("labelled"), sub: "system:serviceaccount:apps:sender" };
    const ok = await fetchRouter(`/${NS}/labelled`, withToken(binaryEvent("k-1", "t", { "ce-source": "/k8s/apps" }), await token("trusted", aud)));
    expect(ok.status).toBe(202);
    const no = await fetchRouter(`/${NS}/labelled`, withToken(binaryEvent("k-2", "t", { "ce-source": "/elsewhere" }), await token("trusted", aud)));
    expect(no.status).toBe(403);
  });

  it("accepts a rotated key once the JWKS is fetched again, and a flood of unknown kids fetches it at most once per cooldown", async () => {
    const first = await token("rotating");
    expect((await fetchRouter(`/${NS}/guarded`, withToken(binaryEvent("rot-1", "com.example.push"), first))).status).toBe(202);
    const fetchedBefore = (await issuer.fetches("rotating")).jwks;
    for (let i = 0; i < 20; i++) {
      const bogus = await token("rotating", {}, {});
      const [, p, s] = bogus.split(".");
      const r = await fetchRouter(
        `/${NS}/guarded`,
        withToken(binaryEvent(`rot-bogus-${i}`, "com.example.push"), `${b64({ alg: "RS256", kid: `made-up-${i}` })}.${p}.${s}`),
      );
      expect(r.status).toBe(401);
    }
    expect((await issuer.fetches("rotating")).jwks - fetchedBefore).toBeLessThanOrEqual(1);
    const kid = await issuer.rotate("rotating");
    const rotated = await token("rotating", {}, { kid });
    // Within the cooldown the new kid is unknown (401, nothing stored); after it, the JWKS is fetched again.
    await eventually(
      async () => (await fetchRouter(`/${NS}/guarded`, withToken(binaryEvent("rot-2", "com.example.push"), rotated))).status === 202,
      25_000,
      "the rotated key accepted",
    );
    expect((await received(sub, "/guarded")).filter((g) => g.headers["ce-id"] === "rot-2")).toHaveLength(1);
  });

  it("counts 401 and 403 per broker in /metrics", async () => {
    await eventually(
      async () => {
        const text = await (await fetchRouter("/metrics", { headers: auth })).text();
        const count = (code: number) =>
          Number(new RegExp(`edge_eventing_ingress_refused_total\\{namespace="${NS}",broker="guarded",code="${code}"\\} (\\d+)`).exec(text)?.[1] ?? 0);
        return count(401) >= 12 && count(403) >= 4;
      },
      10_000,
      "refusals counted",
    );
  });

  it("checks an empty batch like any other request", async () => {
    const empty = { method: "POST", headers: { "content-type": "application/cloudevents-batch+json" }, body: "[]" };
    expect((await fetchRouter(`/${NS}/guarded`, empty)).status).toBe(401);
    expect((await fetchRouter(`/${NS}/guarded`, withToken(empty, await token("trusted")))).status).toBe(202);
  });

  it("takes the sender's JWT in place of the broker's shared ingress token", async () => {
    const b = broker("both", { "edge-eventing.dev/ingress-token-secret": "SECRET_INGRESS_TOKEN" });
    expect((await put(resourcePath(NS, "brokers", "both"), b)).status).toBe(201);
    expect((await fetchRouter(`/${NS}/both`, withToken(binaryEvent("both-0"), "producer-secret"))).status).toBe(202);
    expect(
      (
        await put(
          policyPath("both"),
          policy("both", { to: [{ ref: { kind: "Broker", name: "both" } }], from: [{ sub: MAIN, issuer: issuer.issuerUrl("trusted") }] }),
        )
      ).status,
    ).toBe(201);
    expect((await fetchRouter(`/${NS}/both`, withToken(binaryEvent("both-1"), "producer-secret"))).status).toBe(401);
    expect((await fetchRouter(`/${NS}/both`, withToken(binaryEvent("both-2"), await token("trusted", { aud: AUDIENCE("both") })))).status).toBe(202);
  });

  it("opens the ingress again when the last applying policy is deleted", async () => {
    const p = policy("only-for-this", { to: [{ ref: { kind: "Broker", name: "open" } }], from: [{ sub: "nobody" }] });
    expect((await put(policyPath("only-for-this"), p)).status).toBe(201);
    expect((await fetchRouter(`/${NS}/open`, binaryEvent("open-2"))).status).toBe(401);
    expect((await fetchRouter(policyPath("only-for-this"), { method: "DELETE", headers: auth })).status).toBe(200);
    expect((await fetchRouter(`/${NS}/open`, binaryEvent("open-3"))).status).toBe(202);
  });
});

describe("a source the router runs, sending to a broker with policies", () => {
  it("hands over only as a source a policy names in from.ref; a refused hand-off is held, uncommitted, until a policy allows it", async () => {
    await script(sub, "/kguard", [{ status: 200 }]);
    expect((await put(resourcePath(NS, "brokers", "kguard"), broker("kguard"))).status).toBe(201);
    expect(
      (await put(resourcePath(NS, "triggers", "kguard-all"), trigger("kguard-all", { broker: "kguard", subscriber: { uri: `${sub}/kguard` } }))).status,
    ).toBe(201);
    const allowing = (names: string[]) =>
      policy("kafka-only", {
        to: [{ ref: { kind: "Broker", name: "kguard" } }],
        from: names.map((name) => ({ ref: { apiVersion: "sources.knative.dev/v1beta1", kind: "KafkaSource", name, namespace: SOURCES_NS } })),
      });
    expect((await put(policyPath("kafka-only"), allowing(["pol-allowed"]))).status).toBe(201);
    const sink = { ref: { apiVersion: "eventing.knative.dev/v1", kind: "Broker", name: "kguard", namespace: NS } };
    const record = (id: string) => ({ value: JSON.stringify({ specversion: "1.0", id, source: "/kafka", type: "k.t" }) });

    const allowed = await kafkaFake("pol-allowed");
    await allowed.produce(record("ka-1"));
    await applySource("kafkasources", "pol-allowed", kafkaSpec(allowed.url, "pol-allowed", sink));
    const denied = await kafkaFake("pol-denied");
    await denied.produce(record("kd-1"));
    await applySource("kafkasources", "pol-denied", kafkaSpec(denied.url, "pol-denied", sink));

    expect((await receivedAtLeast(sub, "/kguard", 1, 15_000)).map((g) => g.headers["ce-id"])).toEqual(["ka-1"]);
    const status = await eventually(
      async () => {
        const ready = (await getSource("kafkasources", "pol-denied")).status?.conditions?.find((c: any) => c.type === "Ready");
        return ready?.reason === "EventPolicyDenied" ? ready : undefined;
      },
      15_000,
      "the denied source's status",
    );
    expect(status).toMatchObject({ status: "False", message: expect.stringContaining("403") });
    expect(await denied.commits()).toEqual([]);

    // Allowed now: the held record goes through with the source's next attempt, and is committed.
    expect((await put(policyPath("kafka-only"), allowing(["pol-allowed", "pol-denied"]))).status).toBe(200);
    const got = await receivedAtLeast(sub, "/kguard", 2, 45_000);
    expect(got.map((g) => g.headers["ce-id"])).toEqual(["ka-1", "kd-1"]);
    await eventually(async () => (await denied.commits()).length > 0, 15_000, "the held record committed");
  });
});

describe("a webhook source sending to a broker with policies", () => {
  const GITHUB_SECRET = "It's a Secret to Everybody"; // the SECRET_GITHUB_WEBHOOK_SECRET binding (vitest.config.ts)
  async function signed(body: string): Promise<string> {
    const enc = new TextEncoder();
    const key = await crypto.subtle.importKey("raw", enc.encode(GITHUB_SECRET), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    return [...new Uint8Array(await crypto.subtle.sign("HMAC", key, enc.encode(body)))].map((b) => b.toString(16).padStart(2, "0")).join("");
  }
  const source = (name: string) => ({
    apiVersion: "sources.knative.dev/v1alpha1",
    kind: "GitHubSource",
    metadata: { name },
    spec: {
      ownerAndRepository: "org/repo",
      eventTypes: ["push"],
      secretToken: { secretKeyRef: { name: "SECRET_GITHUB_WEBHOOK_SECRET" } },
      sink: { ref: { apiVersion: "eventing.knative.dev/v1", kind: "Broker", name: "ghguard" } },
    },
  });
  const deliver = async (name: string, delivery: string) => {
    const body = JSON.stringify({ ref: "refs/heads/main", after: delivery, repository: { full_name: "org/repo", html_url: "https://github.com/org/repo" } });
    const headers = {
      "content-type": "application/json",
      "x-github-event": "push",
      "x-github-delivery": delivery,
      "x-hub-signature-256": `sha256=${await signed(body)}`,
    };
    return fetchRouter(`/webhooks/${NS}/${name}`, { method: "POST", headers, body });
  };

  it("stores a delivery of the GitHubSource a policy names, and answers another source's delivery 403 with nothing stored", async () => {
    expect((await put(resourcePath(NS, "brokers", "ghguard"), broker("ghguard"))).status).toBe(201);
    for (const name of ["gh-allowed", "gh-denied"])
      expect((await put(`/apis/sources.knative.dev/v1alpha1/namespaces/${NS}/githubsources/${name}`, source(name))).status).toBe(201);
    const p = policy("github-only", {
      to: [{ ref: { kind: "Broker", name: "ghguard" } }],
      from: [{ ref: { apiVersion: "sources.knative.dev/v1alpha1", kind: "GitHubSource", name: "gh-allowed" } }],
    });
    expect((await put(policyPath("github-only"), p)).status).toBe(201);

    const refused = await deliver("gh-denied", "d-1");
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({ reason: "sender_not_allowed", error: expect.stringContaining(`GitHubSource ${NS}/gh-denied`) });
    expect(await accepted("ghguard")).toBe(0);
    expect((await deliver("gh-allowed", "a-1")).status).toBeLessThan(300);
    expect(await accepted("ghguard")).toBe(1);
  });
});
