/**
 * SaaS webhooks through the real endpoint (API.md §2): providers' published vectors and deliveries signed
 * with the providers' documented algorithms, secrets given as Worker bindings (vitest.config.ts), events
 * checked where a user sees them: at a real HTTP subscriber and in the broker's counters.
 */
import { env, exports } from "cloudflare:workers";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { broker, eventually, received, receivedAtLeast, resourcePath, script, settled, trigger } from "../support/client.ts";
import { applyManifest } from "../support/manifests.ts";
import { standardWebhook } from "../support/standard-webhooks.ts";

const sub = inject("subscriberUrl");
const NS = "wh";
const url = (path: string) => `http://router.test${path}`;
const hook = (source: string, init: RequestInit, query = "") => exports.default.fetch(url(`/webhooks/${NS}/${source}${query}`), { method: "POST", ...init });

const GITHUB_SOURCES = "/apis/sources.knative.dev/v1alpha1";
const PROJECT_SOURCES = "/apis/sources.edge-eventing.dev/v1alpha1";
const apply = (path: string, body: { metadata: { name: string } }) =>
  applyManifest((p, init) => exports.default.fetch(url(p), init), `${path}/${body.metadata.name}`, body);
const applyResource = (plural: string, body: { metadata: { name: string } }) => apply(resourcePath(NS, plural), body);
const githubSource = (name: string, spec: Record<string, unknown>) =>
  apply(`${GITHUB_SOURCES}/namespaces/${NS}/githubsources`, {
    apiVersion: "sources.knative.dev/v1alpha1",
    kind: "GitHubSource",
    metadata: { name },
    spec,
  } as never);
const webhookSource = (name: string, spec: Record<string, unknown>) =>
  apply(`${PROJECT_SOURCES}/namespaces/${NS}/webhooksources`, {
    apiVersion: "sources.edge-eventing.dev/v1alpha1",
    kind: "WebhookSource",
    metadata: { name },
    spec,
  } as never);
const toBroker = (name: string) => ({ ref: { apiVersion: "eventing.knative.dev/v1", kind: "Broker", name } });

const hubMetrics = () => env.BROKER.getByName(`${NS}/hub`).metrics();

async function counter(brokerName: string, name: string): Promise<number> {
  const m = await env.BROKER.getByName(`${NS}/${brokerName}`).metrics();
  return m.counters.find((c) => c.trigger === "" && c.name === name)?.value ?? 0;
}

const encoder = new TextEncoder();
/** HMAC-SHA256 as hex, computed here with Web Crypto, independently of shared/webhooks. */
async function hmacHex(secret: string, message: string): Promise<string> {
  const key = await crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, encoder.encode(message)));
  return [...mac].map((b) => b.toString(16).padStart(2, "0")).join("");
}
/** SHA-256 as hex, computed here with Web Crypto. */
async function sha256Hex(text: string): Promise<string> {
  return [...new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(text)))].map((b) => b.toString(16).padStart(2, "0")).join("");
}

// The secret of GitHub's documented example (docs.github.com, "Validating webhook deliveries").
const GITHUB_SECRET = "It's a Secret to Everybody";
const githubDelivery = async (delivery: string, event: string, body: string) => ({
  headers: {
    "content-type": "application/json",
    "x-github-event": event,
    "x-github-delivery": delivery,
    "x-hub-signature-256": `sha256=${await hmacHex(GITHUB_SECRET, body)}`,
  },
  body,
});
const pushBody = (after: string) =>
  JSON.stringify({
    ref: "refs/heads/main",
    compare: `https://github.com/octo/hello/compare/0000000...${after}`,
    repository: { name: "hello", owner: { login: "octo" }, html_url: "https://github.com/octo/hello" },
    pusher: { name: "octo" },
    sender: { login: "octo" },
  });

beforeAll(async () => {
  await applyResource("brokers", broker("hub"));
  await applyResource(
    "triggers",
    trigger("github", { broker: "hub", filters: [{ prefix: { type: "dev.knative.source.github." } }], subscriber: { uri: `${sub}/wh-github` } }),
  );
  await applyResource(
    "triggers",
    trigger("twilio", { broker: "hub", filters: [{ prefix: { type: "dev.edge-eventing.webhook.twilio." } }], subscriber: { uri: `${sub}/wh-twilio` } }),
  );
  await githubSource("repo", {
    ownerAndRepository: "octo/hello",
    eventTypes: ["push"],
    secretToken: { secretKeyRef: { name: "SECRET_GITHUB_WEBHOOK_SECRET" } },
    sink: toBroker("hub"),
  });
});

describe("GitHubSource", () => {
  it("verifies GitHub's documented example vector over the raw bytes; one changed byte is 401", async () => {
    const documented = {
      "x-hub-signature-256": "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
      "x-github-event": "push",
      "x-github-delivery": "doc-1",
      "content-type": "text/plain",
    };
    // Verified: the documented body is not JSON, so it fails only at mapping (415), never at verification.
    const ok = await hook("repo", { headers: documented, body: "Hello, World!" });
    expect(ok.status).toBe(415);
    const bad = await hook("repo", { headers: documented, body: "Hello, World?" });
    expect(bad.status).toBe(401);
    expect(await bad.json()).toEqual({ error: "webhook verification failed" });
  });

  it("delivers a signed push as a CloudEvent whose id is the signed body's hash (the unsigned delivery id as an extension), answering 202 as eventing-github does", async () => {
    const body = pushBody("1111111");
    const r = await hook("repo", await githubDelivery("72d3162e-cc78-11e3-81ab-4c9367dc0958", "push", body));
    expect(r.status).toBe(202);
    expect(await r.text()).toBe("accepted");
    const [got] = await receivedAtLeast(sub, "/wh-github", 1);
    expect(got.headers).toMatchObject({
      "ce-id": await sha256Hex(body),
      "ce-providerdeliveryid": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
      "ce-type": "dev.knative.source.github.push",
      "ce-source": "https://github.com/octo/hello",
      "ce-subject": "0000000...1111111",
      "ce-pusher": "octo",
      "content-type": "application/json",
    });
    expect(got.body).toBe(body);
  });

  it("refuses a delivery with one byte changed: 401, nothing stored, nothing delivered", async () => {
    await script(sub, "/wh-github", [{ status: 200 }]);
    const before = await counter("hub", "accepted");
    const signed = await githubDelivery("tampered-1", "push", pushBody("2222222"));
    const r = await hook("repo", { headers: signed.headers, body: signed.body.replace("octo", "octp") });
    expect(r.status).toBe(401);
    expect(await counter("hub", "accepted")).toBe(before);
    await settled(hubMetrics, "github");
    expect(await received(sub, "/wh-github")).toHaveLength(0);
  });

  it("stores a redelivery (same X-GitHub-Delivery) once and answers it like the first", async () => {
    await script(sub, "/wh-github", [{ status: 200 }]);
    const [accepted, duplicates] = [await counter("hub", "accepted"), await counter("hub", "duplicates")];
    const delivery = await githubDelivery("redelivered-1", "push", pushBody("3333333"));
    for (let i = 0; i < 2; i++) {
      const r = await hook("repo", delivery);
      expect(r.status).toBe(202);
    }
    await receivedAtLeast(sub, "/wh-github", 1);
    await settled(hubMetrics, "github");
    expect((await received(sub, "/wh-github")).map((g) => g.headers["ce-providerdeliveryid"])).toEqual(["redelivered-1"]);
    expect(await counter("hub", "accepted")).toBe(accepted + 1);
    expect(await counter("hub", "duplicates")).toBe(duplicates + 1);
  });

  it("stores a captured delivery replayed with a fresh X-GitHub-Delivery and another X-GitHub-Event once", async () => {
    await githubSource("releases", {
      ownerAndRepository: "octo/hello",
      eventTypes: ["push", "release"],
      secretToken: { secretKeyRef: { name: "SECRET_GITHUB_WEBHOOK_SECRET" } },
      sink: toBroker("hub"),
    });
    await script(sub, "/wh-github", [{ status: 200 }]);
    const [accepted, duplicates] = [await counter("hub", "accepted"), await counter("hub", "duplicates")];
    const captured = await githubDelivery("original-1", "push", pushBody("5555555"));
    expect((await hook("releases", captured)).status).toBe(202);
    // GitHub signs only the body: the attacker keeps it and the signature, and changes the unsigned headers.
    const replay = { body: captured.body, headers: { ...captured.headers, "x-github-delivery": "forged-2", "x-github-event": "release" } };
    expect((await hook("releases", replay)).status).toBe(202);
    await receivedAtLeast(sub, "/wh-github", 1);
    await settled(hubMetrics, "github");
    const got = await received(sub, "/wh-github");
    expect(got.map((g) => [g.headers["ce-type"], g.headers["ce-providerdeliveryid"]])).toEqual([["dev.knative.source.github.push", "original-1"]]);
    expect(await counter("hub", "accepted")).toBe(accepted + 1);
    expect(await counter("hub", "duplicates")).toBe(duplicates + 1);
  });

  it("answers an event outside spec.eventTypes with 200 and stores nothing", async () => {
    const before = await counter("hub", "accepted");
    const r = await hook("repo", await githubDelivery("issue-1", "issues", JSON.stringify({ action: "opened", issue: { number: 1 } })));
    expect(r.status).toBe(200);
    expect(await r.text()).toBe("ignored: issues is not in spec.eventTypes");
    expect(await counter("hub", "accepted")).toBe(before);
  });

  it("answers when GitHubSource and WebhookSource share a name: the GitHubSource wins", async () => {
    await webhookSource("shared-name", { provider: "slack", secretKeyRef: { name: "SECRET_SLACK_SIGNING_SECRET" }, sink: toBroker("hub") });
    await githubSource("shared-name", {
      ownerAndRepository: "octo/hello",
      eventTypes: ["push"],
      secretToken: { secretKeyRef: { name: "SECRET_GITHUB_WEBHOOK_SECRET" } },
      sink: toBroker("hub"),
    });
    const r = await hook("shared-name", await githubDelivery("shared-1", "push", pushBody("4444444")));
    expect(r.status).toBe(202);
  });
});

describe("WebhookSource", () => {
  const std = standardWebhook;

  it("refuses a signature whose timestamp is outside the tolerance with 401 and stores nothing", async () => {
    await webhookSource("std", { provider: "standard-webhooks", secretKeyRef: { name: "SECRET_STANDARD_WEBHOOK_SECRET" }, sink: toBroker("hub") });
    const before = await counter("hub", "accepted");
    const r = await hook("std", { headers: std.headers, body: std.body });
    expect(r.status).toBe(401);
    expect(await r.json()).toEqual({ error: "webhook verification failed" });
    expect(await counter("hub", "accepted")).toBe(before);
  });

  it("delivers through its own channel to a uri sink (no broker), the vector replayed with tolerance 0", async () => {
    await webhookSource("std-replay", {
      provider: "standard-webhooks",
      secretKeyRef: { name: "SECRET_STANDARD_WEBHOOK_SECRET" },
      timestampToleranceSeconds: 0,
      sink: { uri: `${sub}/wh-direct` },
    });
    const r = await hook("std-replay", { headers: std.headers, body: std.body });
    expect(r.status).toBe(200);
    const [got] = await receivedAtLeast(sub, "/wh-direct", 1);
    expect(got.headers).toMatchObject({
      "ce-id": std.id,
      "ce-type": "dev.edge-eventing.webhook.standard-webhooks",
      "ce-source": `/apis/v1/namespaces/${NS}/webhooksources/std-replay`,
    });
    expect(got.body).toBe(std.body);
  });

  it("answers Slack's url_verification with the challenge and stores nothing", async () => {
    await webhookSource("slack", { provider: "slack", secretKeyRef: { name: "SECRET_SLACK_SIGNING_SECRET" }, sink: toBroker("hub") });
    const before = await counter("hub", "accepted");
    const body = JSON.stringify({
      token: "Jhj5dZrVaK7ZwHHjRyZWjbDl",
      challenge: "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
      type: "url_verification",
    });
    const ts = String(Math.floor(Date.now() / 1000));
    const signature = `v0=${await hmacHex("8f742231b10e8888abcd99yyyzzz85a5", `v0:${ts}:${body}`)}`;
    const r = await hook("slack", { headers: { "content-type": "application/json", "x-slack-request-timestamp": ts, "x-slack-signature": signature }, body });
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({ challenge: "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P" });
    expect(await counter("hub", "accepted")).toBe(before);
  });

  it("verifies Twilio's documented request against spec.publicUrl and answers empty TwiML", async () => {
    await webhookSource("twilio", {
      provider: "twilio",
      secretKeyRef: { name: "SECRET_TWILIO_AUTH_TOKEN" },
      publicUrl: "https://mycompany.com/myapp.php",
      sink: toBroker("hub"),
    });
    const body = new URLSearchParams({
      CallSid: "CA1234567890ABCDE",
      Caller: "+14158675309",
      Digits: "1234",
      From: "+14158675309",
      To: "+18005551212",
    }).toString();
    const headers = {
      "content-type": "application/x-www-form-urlencoded",
      "x-twilio-signature": "RSOYDt4T1cUTdK1PDd93/VVr8B8=",
      "i-twilio-idempotency-token": "twilio-1",
    };
    const r = await hook("twilio", { headers, body }, "?foo=1&bar=2");
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toBe("text/xml");
    expect(await r.text()).toBe('<?xml version="1.0" encoding="UTF-8"?><Response></Response>');
    const [got] = await receivedAtLeast(sub, "/wh-twilio", 1);
    expect(got.headers).toMatchObject({
      "ce-id": await sha256Hex(body),
      "ce-providerdeliveryid": "twilio-1",
      "ce-type": "dev.edge-eventing.webhook.twilio.call",
      "ce-subject": "CA1234567890ABCDE",
    });
    expect(got.body).toBe(body);
  });

  it("answers a source whose Worker secret is not set as it answers a bad signature: nothing names the secret", async () => {
    await webhookSource("unset", { provider: "stripe", secretKeyRef: { name: "SECRET_WH_SECRET_NOT_SET" }, sink: toBroker("hub") });
    const r = await hook("unset", { headers: { "content-type": "application/json", "stripe-signature": "t=1,v1=00" }, body: "{}" });
    expect(r.status).toBe(401);
    expect(await r.json()).toEqual({ error: "webhook verification failed" });
  });
});

describe("webhook route errors", () => {
  it("answers an unknown source or an invalid name as a bad signature (so nobody learns which exist), 405 for another method", async () => {
    for (const name of ["nope", "Not_A_Name"]) {
      const r = await hook(name, { body: "{}" });
      expect(r.status).toBe(401);
      expect(await r.json()).toEqual({ error: "webhook verification failed" });
    }
    const get = await exports.default.fetch(url(`/webhooks/${NS}/repo`));
    expect(get.status).toBe(405);
    expect(get.headers.get("allow")).toBe("POST");
  });

  it("answers 413 for a body over 1 MiB without storing it", async () => {
    const before = await counter("hub", "accepted");
    const big = await githubDelivery("big-1", "push", JSON.stringify({ pad: "x".repeat(1024 * 1024) }));
    expect((await hook("repo", big)).status).toBe(413);
    expect(await counter("hub", "accepted")).toBe(before);
  });

  it("answers 503 with Retry-After while the sink Broker does not exist, so the provider retries later", async () => {
    await githubSource("to-absent", {
      ownerAndRepository: "octo/hello",
      eventTypes: ["push"],
      secretToken: { secretKeyRef: { name: "SECRET_GITHUB_WEBHOOK_SECRET" } },
      sink: toBroker("absent"),
    });
    const r = await hook("to-absent", await githubDelivery("absent-1", "push", pushBody("7777777")));
    expect(r.status).toBe(503);
    expect(r.headers.get("retry-after")).toBe("30");
    expect(await r.json()).toEqual({ error: `the sink of GitHubSource ${NS}/to-absent is not ready: broker ${NS}/absent does not exist` });
  });

  it("answers 503 with Retry-After when the sink's backlog is full, so the provider retries", async () => {
    await applyResource("brokers", broker("tiny", { "edge-eventing.dev/backlog-limit": "1" }));
    await script(sub, "/wh-stuck", [{ status: 500 }]);
    await applyResource(
      "triggers",
      trigger("stuck", { broker: "tiny", subscriber: { uri: `${sub}/wh-stuck` }, delivery: { retry: 5, backoffPolicy: "linear", backoffDelay: "PT10S" } }),
    );
    await githubSource("to-tiny", {
      ownerAndRepository: "octo/hello",
      eventTypes: ["push"],
      secretToken: { secretKeyRef: { name: "SECRET_GITHUB_WEBHOOK_SECRET" } },
      sink: toBroker("tiny"),
    });
    expect((await hook("to-tiny", await githubDelivery("tiny-1", "push", pushBody("5555555")))).status).toBe(202);
    await receivedAtLeast(sub, "/wh-stuck", 1);
    const full = await hook("to-tiny", await githubDelivery("tiny-2", "push", pushBody("6666666")));
    expect(full.status).toBe(503);
    expect(full.headers.get("retry-after")).toBe("5");
    expect(await eventually(async () => (await env.BROKER.getByName(`${NS}/tiny`).metrics()).backlog)).toBe(1);
  });
});

describe("a source's sink ref to an EventTransform or a Sequence", () => {
  it("delivers the transformed event to the transform's sink, and through the Sequence's steps", async () => {
    await script(sub, "/wh-transformed", [{ status: 200 }]);
    await script(sub, "/wh-step", [{ status: 200 }]);
    const expression = '{"specversion":"1.0","id":id,"source":source,"type":"repo.pushed","data":{"compare":data.compare}}';
    await apply(`/apis/eventing.knative.dev/v1alpha1/namespaces/${NS}/eventtransforms`, {
      apiVersion: "eventing.knative.dev/v1alpha1",
      kind: "EventTransform",
      metadata: { name: "slim" },
      spec: { jsonata: { expression }, sink: { uri: `${sub}/wh-transformed` } },
    } as never);
    await apply(`/apis/flows.knative.dev/v1/namespaces/${NS}/sequences`, {
      apiVersion: "flows.knative.dev/v1",
      kind: "Sequence",
      metadata: { name: "steps" },
      spec: { steps: [{ uri: `${sub}/wh-step` }] },
    } as never);
    const secretToken = { secretKeyRef: { name: "SECRET_GITHUB_WEBHOOK_SECRET" } };
    await githubSource("to-transform", {
      ownerAndRepository: "octo/hello",
      eventTypes: ["push"],
      secretToken,
      sink: { ref: { apiVersion: "eventing.knative.dev/v1alpha1", kind: "EventTransform", name: "slim" } },
    });
    await githubSource("to-sequence", {
      ownerAndRepository: "octo/hello",
      eventTypes: ["push"],
      secretToken,
      sink: { ref: { apiVersion: "flows.knative.dev/v1", kind: "Sequence", name: "steps" } },
    });
    expect((await hook("to-transform", await githubDelivery("tr-1", "push", pushBody("7777777")))).status).toBe(202);
    expect((await hook("to-sequence", await githubDelivery("seq-1", "push", pushBody("8888888")))).status).toBe(202);
    const [transformed] = await receivedAtLeast(sub, "/wh-transformed", 1);
    expect(transformed.headers["ce-type"]).toBe("repo.pushed");
    expect(JSON.parse(transformed.body)).toEqual({ compare: "https://github.com/octo/hello/compare/0000000...7777777" });
    const [step] = await receivedAtLeast(sub, "/wh-step", 1);
    expect(step.headers).toMatchObject({ "ce-type": "dev.knative.source.github.push", "ce-providerdeliveryid": "seq-1" });
  });
});
