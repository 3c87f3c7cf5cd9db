/**
 * Providers without published vectors (Stripe, Shopify, GitLab, generic HMAC) signed here with
 * node:crypto, an implementation independent of the module under test; the CloudEvent each
 * provider's delivery becomes; handshakes; limits.
 */
import { createHash, createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { MAX_WEBHOOK_BODY_BYTES, providerResponse, receiveWebhook } from "../../../shared/webhooks/receive.ts";
import type { WebhookOutcome } from "../../../shared/webhooks/types.ts";
import { config, request, tamper } from "./helpers.ts";

const NOW = Date.UTC(2026, 0, 1);
const NOW_S = NOW / 1000;
const JSON_TYPE = { "Content-Type": "application/json" };

function attributes(out: WebhookOutcome) {
  if (out.kind !== "event") throw new Error(`expected an event, got ${JSON.stringify(out)}`);
  return out.event.attributes;
}

describe("Stripe", () => {
  const secret = "whsec_test_secret";
  const body = JSON.stringify({ id: "evt_1", type: "payment_intent.succeeded", created: 1767225600, data: { object: { id: "pi_1" } } });
  const sign = (t: number, payload: string | Uint8Array = body, key = secret) => createHmac("sha256", key).update(`${t}.`).update(payload).digest("hex");

  it("maps a signed event: id is the event id, type the Stripe type", async () => {
    const headers = { ...JSON_TYPE, "Stripe-Signature": `t=${NOW_S},v1=${sign(NOW_S)},v0=deadbeef` };
    expect(attributes(await receiveWebhook(config("stripe", [secret]), request(headers, body), NOW))).toEqual({
      specversion: "1.0",
      id: "evt_1",
      source: "/apis/v1/namespaces/default/webhooksources/hooks",
      type: "dev.edge-eventing.webhook.stripe.payment_intent.succeeded",
      subject: "pi_1",
      time: "2026-01-01T00:00:00.000Z",
      datacontenttype: "application/json",
    });
  });

  it("accepts any of several v1 signatures (Stripe signs with each active secret)", async () => {
    const headers = { ...JSON_TYPE, "Stripe-Signature": `t=${NOW_S},v1=${sign(NOW_S, body, "whsec_other")},v1=${sign(NOW_S)}` };
    expect((await receiveWebhook(config("stripe", [secret]), request(headers, body), NOW)).kind).toBe("event");
  });

  it("refuses a changed byte, a stale t, only v0, and no t", async () => {
    const cfg = config("stripe", [secret]);
    const header = (h: string) => ({ ...JSON_TYPE, "Stripe-Signature": h });
    expect(await receiveWebhook(cfg, request(header(`t=${NOW_S},v1=${sign(NOW_S)}`), tamper(body)), NOW)).toMatchObject({ status: 401 });
    const stale = NOW_S - 301;
    expect(await receiveWebhook(cfg, request(header(`t=${stale},v1=${sign(stale)}`), body), NOW)).toMatchObject({
      status: 401,
      error: expect.stringContaining("tolerance"),
    });
    expect(await receiveWebhook(cfg, request(header(`t=${NOW_S},v0=${sign(NOW_S)}`), body), NOW)).toMatchObject({
      error: "Stripe-Signature has no v1 signature",
    });
    expect(await receiveWebhook(cfg, request(header(`v1=${sign(NOW_S)}`), body), NOW)).toMatchObject({ error: "Stripe-Signature has no t= timestamp" });
  });
});

describe("Shopify", () => {
  const secret = "shpss_client_secret";
  const body = JSON.stringify({ id: 820982911946154500, admin_graphql_api_id: "gid://shopify/Order/820982911946154508" });
  const headers = {
    ...JSON_TYPE,
    "X-Shopify-Hmac-Sha256": createHmac("sha256", secret).update(body).digest("base64"),
    "X-Shopify-Topic": "orders/create",
    "X-Shopify-Shop-Domain": "shop.myshopify.com",
    "X-Shopify-Event-Id": "98880550-7158-44d4-b7cd-2c97c8a091b5",
  };

  it("maps the topic; the unsigned shop domain and event id are extensions, the id is the signed body's hash", async () => {
    expect(attributes(await receiveWebhook(config("shopify", [secret]), request(headers, body), NOW))).toMatchObject({
      id: createHash("sha256").update(body).digest("hex"),
      providerdeliveryid: "98880550-7158-44d4-b7cd-2c97c8a091b5",
      shopifyshopdomain: "shop.myshopify.com",
      source: "/apis/v1/namespaces/default/webhooksources/hooks",
      type: "dev.edge-eventing.webhook.shopify.orders/create",
      subject: "gid://shopify/Order/820982911946154508",
    });
  });

  it("refuses a changed byte", async () => {
    expect(await receiveWebhook(config("shopify", [secret]), request(headers, tamper(body)), NOW)).toMatchObject({ status: 401 });
  });
});

describe("GitLab", () => {
  const body = JSON.stringify({ object_kind: "merge_request", project: { web_url: "https://gitlab.com/group/project" } });
  const base = { ...JSON_TYPE, "X-Gitlab-Event": "Merge Request Hook", "Idempotency-Key": "0b3c-retry-stable" };

  it("accepts the secret token and maps as Knative's eventing-gitlab does", async () => {
    const out = await receiveWebhook(config("gitlab", ["glsecret"]), request({ ...base, "X-Gitlab-Token": "glsecret" }, body), NOW);
    expect(attributes(out)).toMatchObject({
      id: createHash("sha256").update(body).digest("hex"),
      providerdeliveryid: "0b3c-retry-stable",
      source: "https://gitlab.com/group/project",
      type: "dev.knative.sources.gitlab.merge_request",
      comgitlabevent: "Merge Request Hook",
    });
  });

  it("refuses a wrong or missing token", async () => {
    expect(await receiveWebhook(config("gitlab", ["glsecret"]), request({ ...base, "X-Gitlab-Token": "glsecreT" }, body), NOW)).toMatchObject({ status: 401 });
    expect(await receiveWebhook(config("gitlab", ["glsecret"]), request(base, body), NOW)).toMatchObject({ status: 401 });
  });

  it("verifies GitLab's Standard Webhooks signing when its headers are present", async () => {
    const key = Buffer.alloc(32, 7);
    const signature = createHmac("sha256", key).update(`msg_1.${NOW_S}.${body}`).digest("base64");
    const headers = { ...base, "webhook-id": "msg_1", "webhook-timestamp": String(NOW_S), "webhook-signature": `v1,${signature}` };
    const cfg = config("gitlab", [`whsec_${key.toString("base64")}`]);
    expect(attributes(await receiveWebhook(cfg, request(headers, body), NOW)).type).toBe("dev.knative.sources.gitlab.merge_request");
    expect(await receiveWebhook(cfg, request(headers, tamper(body)), NOW)).toMatchObject({ status: 401 });
  });
});

describe("generic HMAC", () => {
  const generic = { header: "X-Signature", algorithm: "sha512", encoding: "base64", prefix: "hmac=" } as const;
  const body = "<note>raw</note>";
  const signature = `hmac=${createHmac("sha512", "k").update(body).digest("base64")}`;

  it("verifies the configured header, algorithm, encoding and prefix; id is the body's SHA-256", async () => {
    const out = await receiveWebhook(
      config("generic-hmac", ["k"], { generic }),
      request({ "X-Signature": signature, "Content-Type": "application/xml" }, body),
      NOW,
    );
    expect(out).toEqual({
      kind: "event",
      event: {
        attributes: {
          specversion: "1.0",
          id: createHash("sha256").update(body).digest("hex"),
          source: "/apis/v1/namespaces/default/webhooksources/hooks",
          type: "dev.edge-eventing.webhook.generic-hmac",
          datacontenttype: "application/xml",
        },
        data: { kind: "binary", bytes: new TextEncoder().encode(body) },
      },
    });
  });

  it("refuses a missing prefix and a hex signature where base64 is configured", async () => {
    const cfg = config("generic-hmac", ["k"], { generic });
    expect(await receiveWebhook(cfg, request({ "X-Signature": signature.slice(5) }, body), NOW)).toMatchObject({
      status: 401,
      error: 'X-Signature must start with "hmac="',
    });
    const hex = `hmac=${createHmac("sha512", "k").update(body).digest("hex")}`;
    expect(await receiveWebhook(cfg, request({ "X-Signature": hex }, body), NOW)).toMatchObject({ status: 401 });
  });
});

describe("Jira mapping", () => {
  it("types by webhookEvent, sources by the site, keeps X-Atlassian-Webhook-Identifier (unsigned) as an extension", async () => {
    const body = JSON.stringify({
      webhookEvent: "jira:issue_updated",
      timestamp: 1767225600000,
      issue: { key: "ENG-1", self: "https://acme.atlassian.net/rest/api/2/issue/10001" },
    });
    const headers = {
      ...JSON_TYPE,
      "X-Hub-Signature": `sha256=${createHmac("sha256", "j").update(body).digest("hex")}`,
      "X-Atlassian-Webhook-Identifier": "wh-7",
    };
    expect(attributes(await receiveWebhook(config("jira", ["j"]), request(headers, body), NOW))).toMatchObject({
      id: createHash("sha256").update(body).digest("hex"),
      providerdeliveryid: "wh-7",
      source: "https://acme.atlassian.net",
      type: "dev.edge-eventing.webhook.jira.jira:issue_updated",
      subject: "ENG-1",
      time: "2026-01-01T00:00:00.000Z",
    });
  });
});

describe("Slack", () => {
  const secret = "slack-signing";
  const signed = (body: string, contentType: string) => ({
    "Content-Type": contentType,
    "X-Slack-Request-Timestamp": String(NOW_S),
    "X-Slack-Signature": `v0=${createHmac("sha256", secret).update(`v0:${NOW_S}:${body}`).digest("hex")}`,
  });

  it("answers url_verification with the challenge once the request is verified, storing nothing", async () => {
    const body = JSON.stringify({ token: "t", challenge: "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P", type: "url_verification" });
    expect(await receiveWebhook(config("slack", [secret]), request(signed(body, "application/json"), body), NOW)).toEqual({
      kind: "reply",
      status: 200,
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ challenge: "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P" }),
    });
    const forged = await receiveWebhook(config("slack", ["other"]), request(signed(body, "application/json"), body), NOW);
    expect(forged).toMatchObject({ kind: "rejected", status: 401 });
  });

  it("answers the unsigned ssl_check with 200", async () => {
    const out = await receiveWebhook(config("slack", [secret]), request({ "Content-Type": "application/x-www-form-urlencoded" }, "ssl_check=1&token=x"), NOW);
    expect(out).toEqual({ kind: "reply", status: 200, body: "" });
  });

  it("maps an Events API callback: event_id, inner event type, event_time", async () => {
    const body = JSON.stringify({ type: "event_callback", event_id: "Ev08MFMKH6", event_time: 1767225600, event: { type: "app_mention", channel: "C1" } });
    expect(attributes(await receiveWebhook(config("slack", [secret]), request(signed(body, "application/json"), body), NOW))).toMatchObject({
      id: "Ev08MFMKH6",
      type: "dev.edge-eventing.webhook.slack.app_mention",
      subject: "C1",
      time: "2026-01-01T00:00:00.000Z",
    });
  });

  it("maps an interactivity payload= form by its payload type and trigger_id", async () => {
    const payload = JSON.stringify({ type: "block_actions", trigger_id: "13345224609.738474920.8088930838d88f008e0", channel: { id: "C2" } });
    const body = `payload=${encodeURIComponent(payload)}`;
    const out = await receiveWebhook(config("slack", [secret]), request(signed(body, "application/x-www-form-urlencoded"), body), NOW);
    expect(attributes(out)).toMatchObject({
      id: "13345224609.738474920.8088930838d88f008e0",
      type: "dev.edge-eventing.webhook.slack.block_actions",
      subject: "C2",
    });
  });
});

describe("GitHubSource", () => {
  const secret = "gh";
  const body = JSON.stringify({
    zen: "Keep it logically awesome.",
    hook_id: 42,
    repository: { name: "repo", html_url: "https://github.com/o/repo", owner: { login: "o" } },
    sender: { login: "u" },
  });
  const headers = (event: string) => ({
    ...JSON_TYPE,
    "X-GitHub-Event": event,
    "X-GitHub-Delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
    "X-Hub-Signature-256": `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`,
  });
  const cfg = config("github", [secret], {
    source: { namespace: "default", name: "gh", kind: "GitHubSource" },
    ownerAndRepository: "o/repo",
    eventTypes: ["ping"],
  });

  it("emits Knative's type, source and subject for a listed event", async () => {
    expect(attributes(await receiveWebhook(cfg, request(headers("ping"), body), NOW))).toEqual({
      specversion: "1.0",
      id: createHash("sha256").update(body).digest("hex"),
      providerdeliveryid: "72d3162e-cc78-11e3-81ab-4c9367dc0958",
      source: "https://github.com/o/repo",
      type: "dev.knative.source.github.ping",
      subject: "42",
      datacontenttype: "application/json",
      owner: "o",
      repository: "repo",
      sender: "u",
    });
  });

  it("answers an event outside spec.eventTypes with 200 and stores nothing", async () => {
    expect(await receiveWebhook(cfg, request(headers("push"), body), NOW)).toMatchObject({ kind: "reply", status: 200 });
  });

  it("gives a redelivery the same event id, so the broker stores it once", async () => {
    const first = attributes(await receiveWebhook(cfg, request(headers("ping"), body), NOW));
    const again = attributes(await receiveWebhook(cfg, request(headers("ping"), body), NOW + 3_600_000));
    expect([again.source, again.id]).toEqual([first.source, first.id]);
  });

  it("reads a form-encoded delivery's payload= for the mapping and keeps the form as data", async () => {
    const form = `payload=${encodeURIComponent(body)}`;
    const formHeaders = {
      ...headers("ping"),
      "Content-Type": "application/x-www-form-urlencoded",
      "X-Hub-Signature-256": `sha256=${createHmac("sha256", secret).update(form).digest("hex")}`,
    };
    const out = await receiveWebhook(cfg, request(formHeaders, form), NOW);
    expect(attributes(out)).toMatchObject({ subject: "42", datacontenttype: "application/x-www-form-urlencoded" });
    expect(out.kind === "event" && out.event.data).toEqual({ kind: "binary", bytes: new TextEncoder().encode(form) });
  });

  it("refuses a delivery without X-GitHub-Event with 400", async () => {
    const { "X-GitHub-Event": _, ...rest } = headers("ping");
    expect(await receiveWebhook(config("github", [secret]), request(rest, body), NOW)).toEqual({
      kind: "rejected",
      status: 400,
      error: "X-GitHub-Event header is missing",
    });
  });
});

describe("limits and replies", () => {
  it("refuses a body over the limit with 413 before verifying", async () => {
    const out = await receiveWebhook(config("github", ["s"]), request({}, new Uint8Array(MAX_WEBHOOK_BODY_BYTES + 1)), NOW);
    expect(out).toMatchObject({ kind: "rejected", status: 413 });
  });

  it("refuses verified but unparseable JSON with 400", async () => {
    const body = "{not json";
    const headers = { ...JSON_TYPE, "X-Hub-Signature-256": `sha256=${createHmac("sha256", "s").update(body).digest("hex")}`, "X-GitHub-Event": "push" };
    expect(await receiveWebhook(config("github", ["s"]), request(headers, body), NOW)).toMatchObject({
      status: 400,
      error: expect.stringContaining("not valid JSON"),
    });
  });

  it("refuses every request when no secret is configured", async () => {
    expect(await receiveWebhook(config("github", []), request({}, "{}"), NOW)).toEqual({ kind: "rejected", status: 401, error: "no secret is configured" });
  });

  it("answers each provider as it expects", () => {
    expect(providerResponse("github")).toEqual({ status: 202, body: "accepted" });
    expect(providerResponse("twilio")).toMatchObject({
      status: 200,
      headers: { "content-type": "text/xml" },
      body: expect.stringContaining("<Response></Response>"),
    });
    expect(providerResponse("slack")).toEqual({ status: 200, body: "" });
  });
});
