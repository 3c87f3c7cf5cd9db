/**
 * Signature vectors the providers publish (docs examples, their SDKs' tests), each run through
 * receiveWebhook, plus negatives derived from them: one byte changed, a missing prefix, a stale
 * timestamp, an unknown version tag, and secret rotation.
 */
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { receiveWebhook } from "../../../shared/webhooks/receive.ts";
import { config, request, tamper } from "./helpers.ts";

const NOW = Date.UTC(2026, 0, 1);

describe("GitHub (docs.github.com, validating webhook deliveries)", () => {
  const secret = "It's a Secret to Everybody";
  const body = "Hello, World!";
  const signature = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
  const headers = { "X-Hub-Signature-256": signature, "X-GitHub-Event": "ping", "X-GitHub-Delivery": "d-1", "Content-Type": "text/plain" };

  it("accepts the documented signature", async () => {
    const out = await receiveWebhook(config("github", [secret]), request(headers, body), NOW);
    // The documented body is not JSON, so the signature passes and the mapping then refuses the media type.
    expect(out).toEqual({ kind: "rejected", status: 415, error: expect.stringContaining("github deliveries must be") });
  });

  it("refuses the body with one byte changed", async () => {
    const out = await receiveWebhook(config("github", [secret]), request(headers, tamper(body)), NOW);
    expect(out).toEqual({ kind: "rejected", status: 401, error: "X-Hub-Signature-256 does not match the body" });
  });

  it("refuses the signature without its sha256= prefix", async () => {
    const out = await receiveWebhook(config("github", [secret]), request({ ...headers, "X-Hub-Signature-256": signature.slice(7) }, body), NOW);
    expect(out).toMatchObject({ kind: "rejected", status: 401, error: 'X-Hub-Signature-256 must start with "sha256="' });
  });

  it("accepts it with the old secret still listed during a rotation, in either slot", async () => {
    for (const secrets of [
      ["new-secret", secret],
      [secret, "new-secret"],
    ]) {
      const out = await receiveWebhook(config("github", secrets), request(headers, body), NOW);
      expect(out).toMatchObject({ status: 415 });
    }
    const out = await receiveWebhook(config("github", ["new-secret"]), request(headers, body), NOW);
    expect(out).toMatchObject({ status: 401 });
  });
});

describe("Slack (api.slack.com, verifying requests from Slack)", () => {
  const secret = "8f742231b10e8888abcd99yyyzzz85a5";
  const timestamp = "1531420618";
  const body =
    "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
  const signature = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";
  const headers = { "X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": signature, "Content-Type": "application/x-www-form-urlencoded" };
  const at = (offsetSeconds: number) => Number(timestamp) * 1000 + offsetSeconds * 1000;

  it("accepts the documented slash command and maps it", async () => {
    const out = await receiveWebhook(config("slack", [secret]), request(headers, body), at(60));
    expect(out.kind).toBe("event");
    if (out.kind !== "event") return;
    expect(out.event.attributes).toEqual({
      specversion: "1.0",
      id: "398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c",
      source: "/apis/v1/namespaces/default/webhooksources/hooks",
      type: "dev.edge-eventing.webhook.slack.slash_command",
      subject: "/webhook-collect",
      datacontenttype: "application/x-www-form-urlencoded",
    });
    expect(out.event.data).toEqual({ kind: "binary", bytes: new TextEncoder().encode(body) });
  });

  it("refuses a stale timestamp, and accepts it when the tolerance is 0 (replay)", async () => {
    const stale = await receiveWebhook(config("slack", [secret]), request(headers, body), at(301));
    expect(stale).toMatchObject({ kind: "rejected", status: 401, error: expect.stringContaining("over the 300s tolerance") });
    const early = await receiveWebhook(config("slack", [secret]), request(headers, body), at(-301));
    expect(early).toMatchObject({ status: 401 });
    const replay = await receiveWebhook(config("slack", [secret], { timestampToleranceSeconds: 0 }), request(headers, body), NOW);
    expect(replay.kind).toBe("event");
  });

  it("refuses one changed byte and an unknown version tag", async () => {
    expect(await receiveWebhook(config("slack", [secret]), request(headers, tamper(body)), at(0))).toMatchObject({ status: 401 });
    const v1 = await receiveWebhook(config("slack", [secret]), request({ ...headers, "X-Slack-Signature": signature.replace("v0=", "v1=") }, body), at(0));
    expect(v1).toMatchObject({ status: 401, error: "X-Slack-Signature has an unknown version (expected v0=)" });
  });
});

describe("Standard Webhooks (standard-webhooks libraries' tests)", () => {
  const vectors = [
    {
      secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
      id: "msg_p5jXN8AQM9LWM0D4loKWxJek",
      timestamp: "1614265330",
      body: '{"test": 2432232314}',
      signature: "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    },
    {
      secret: "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
      id: "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
      timestamp: "1649367553",
      body: '{"email":"test@example.com","username":"test_user"}',
      signature: "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=",
    },
  ];
  const headersOf = (v: (typeof vectors)[number], prefix = "webhook") => ({
    [`${prefix}-id`]: v.id,
    [`${prefix}-timestamp`]: v.timestamp,
    [`${prefix}-signature`]: v.signature,
    "content-type": "application/json",
  });

  it("accepts both vectors with webhook-* and svix-* headers; the event id is the message id", async () => {
    for (const v of vectors) {
      for (const prefix of ["webhook", "svix"]) {
        const out = await receiveWebhook(config("standard-webhooks", [v.secret]), request(headersOf(v, prefix), v.body), Number(v.timestamp) * 1000);
        expect(out.kind).toBe("event");
        if (out.kind !== "event") continue;
        expect(out.event.attributes.id).toBe(v.id);
        expect(out.event.data).toEqual({ kind: "json", json: v.body });
      }
    }
  });

  it("accepts a secret given without whsec_, and a v1 entry among other versions", async () => {
    const v = vectors[0];
    const headers = { ...headersOf(v), "webhook-signature": `v1a,AAAA v1,Ym9ndXM= ${v.signature}` };
    const out = await receiveWebhook(config("standard-webhooks", [v.secret.slice(6)]), request(headers, v.body), Number(v.timestamp) * 1000);
    expect(out.kind).toBe("event");
  });

  it("refuses a changed byte, an unknown version only, a stale timestamp and a changed id", async () => {
    const v = vectors[0];
    const ts = Number(v.timestamp) * 1000;
    const cfg = config("standard-webhooks", [v.secret]);
    expect(await receiveWebhook(cfg, request(headersOf(v), tamper(v.body)), ts)).toMatchObject({ status: 401 });
    expect(await receiveWebhook(cfg, request({ ...headersOf(v), "webhook-signature": v.signature.replace("v1,", "v2,") }, v.body), ts)).toMatchObject({
      status: 401,
      error: "webhook-signature has no v1 signature",
    });
    expect(await receiveWebhook(cfg, request(headersOf(v), v.body), ts + 301_000)).toMatchObject({ status: 401 });
    expect(await receiveWebhook(cfg, request({ ...headersOf(v), "webhook-id": "msg_other" }, v.body), ts)).toMatchObject({ status: 401 });
  });
});

describe("Twilio (docs example and SDK RequestValidator tests)", () => {
  const token = "12345";
  const url = "https://mycompany.com/myapp.php?foo=1&bar=2";
  const form = (caller: string) =>
    new URLSearchParams({ CallSid: "CA1234567890ABCDE", Caller: caller, Digits: "1234", From: caller, To: "+18005551212" }).toString();
  const twilio = (signature: string, body: string, requestUrl = url, contentType = "application/x-www-form-urlencoded") =>
    request({ "X-Twilio-Signature": signature, "Content-Type": contentType, "I-Twilio-Idempotency-Token": "tok-1" }, body, requestUrl);

  it("accepts the documented form-encoded requests and maps the call", async () => {
    for (const [caller, signature] of [
      ["+14158675309", "RSOYDt4T1cUTdK1PDd93/VVr8B8="],
      ["+14158675310", "GvWf1cFY/Q7PnoempGyD5oXAezc="],
    ]) {
      const out = await receiveWebhook(config("twilio", [token]), twilio(signature, form(caller)), NOW);
      expect(out.kind).toBe("event");
      if (out.kind !== "event") continue;
      // Twilio signs the URL and the parameters, not the idempotency header: the id is the signed body's hash.
      const id = createHash("sha256").update(form(caller)).digest("hex");
      expect(out.event.attributes).toMatchObject({
        id,
        providerdeliveryid: "tok-1",
        type: "dev.edge-eventing.webhook.twilio.call",
        subject: "CA1234567890ABCDE",
      });
    }
  });

  it("signs the configured public URL with the request's query, not the URL the Worker saw", async () => {
    const behindProxy = "http://127.0.0.1:8787/webhooks/default/hooks?foo=1&bar=2";
    const cfg = config("twilio", [token], { publicUrl: "https://mycompany.com/myapp.php" });
    expect((await receiveWebhook(cfg, twilio("RSOYDt4T1cUTdK1PDd93/VVr8B8=", form("+14158675309"), behindProxy), NOW)).kind).toBe("event");
    const withoutPublicUrl = await receiveWebhook(config("twilio", [token]), twilio("RSOYDt4T1cUTdK1PDd93/VVr8B8=", form("+14158675309"), behindProxy), NOW);
    expect(withoutPublicUrl).toMatchObject({ status: 401 });
  });

  it("does not depend on parameter order, and refuses a changed parameter", async () => {
    const reversed = new URLSearchParams([...new URLSearchParams(form("+14158675309"))].reverse()).toString();
    expect((await receiveWebhook(config("twilio", [token]), twilio("RSOYDt4T1cUTdK1PDd93/VVr8B8=", reversed), NOW)).kind).toBe("event");
    const changed = await receiveWebhook(config("twilio", [token]), twilio("RSOYDt4T1cUTdK1PDd93/VVr8B8=", form("+14158675300")), NOW);
    expect(changed).toMatchObject({ status: 401 });
  });

  it("tries the URL without its port and with the default port, as the SDKs do", async () => {
    const cases: [string, string][] = [
      ["https://mycompany.com:1234/myapp.php?foo=1&bar=2", "RSOYDt4T1cUTdK1PDd93/VVr8B8="], // port removed
      [url, "kvajT1Ptam85bY51eRf/AJRuM3w="], // signed with :443
      ["http://mycompany.com/myapp.php?foo=1&bar=2", "0ZXoZLH/DfblKGATFgpif+LLRf4="], // signed with :80
      ["http://mycompany.com:1234/myapp.php?foo=1&bar=2", "Zmvh+3yNM1Phv2jhDCwEM3q5ebU="], // signed with its own port
    ];
    for (const [requestUrl, signature] of cases) {
      const out = await receiveWebhook(config("twilio", [token]), twilio(signature, form("+14158675309"), requestUrl), NOW);
      expect(out.kind, requestUrl).toBe("event");
    }
  });

  it("collapses a repeated parameter to its distinct values, sorted (twilio-php test)", async () => {
    const body = "Sid=CA123&SidAccount=AC123&Digits=5678&Digits=1234&Digits=1234";
    expect((await receiveWebhook(config("twilio", [token]), twilio("IK+Dwps556ElfBT0I3Rgjkr1wJU=", body), NOW)).kind).toBe("event");
  });

  it("verifies a JSON body through bodySHA256 in the URL, and refuses a changed body", async () => {
    const body = '{"property": "value", "boolean": true}';
    const hash = "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620";
    const ok = await receiveWebhook(
      config("twilio", [token]),
      twilio("a9nBmqA0ju/hNViExpshrM61xv4=", body, `${url}&bodySHA256=${hash}`, "application/json"),
      NOW,
    );
    expect(ok.kind).toBe("event");
    const onlyHash = await receiveWebhook(
      config("twilio", [token]),
      twilio("y77kIzt2vzLz71DgmJGsen2scGs=", body, `https://mycompany.com/myapp.php?bodySHA256=${hash}`, "application/json"),
      NOW,
    );
    expect(onlyHash.kind).toBe("event");
    const changed = await receiveWebhook(
      config("twilio", [token]),
      twilio("a9nBmqA0ju/hNViExpshrM61xv4=", '{"property": "evil", "boolean": true}', `${url}&bodySHA256=${hash}`, "application/json"),
      NOW,
    );
    expect(changed).toMatchObject({ status: 401, error: "body does not match the bodySHA256 URL parameter" });
    const unsignedJson = await receiveWebhook(config("twilio", [token]), twilio("RSOYDt4T1cUTdK1PDd93/VVr8B8=", body, url, "application/json"), NOW);
    expect(unsignedJson).toMatchObject({ status: 401 });
  });
});

describe("Jira Cloud admin webhooks (WebSub X-Hub-Signature)", () => {
  it("accepts the published vector and refuses a changed byte", async () => {
    const headers = { "X-Hub-Signature": "sha256=a4771c39fbe90f317c7824e83ddef3caae9cb3d976c214ace1f2937e133263c9" };
    const ok = await receiveWebhook(config("jira", ["It's a Secret to Everybody"]), request(headers, "Hello World!"), NOW);
    expect(ok).toMatchObject({ status: 415 }); // verified; the vector's body is not a Jira JSON payload
    const bad = await receiveWebhook(config("jira", ["It's a Secret to Everybody"]), request(headers, tamper("Hello World!")), NOW);
    expect(bad).toMatchObject({ status: 401, error: "X-Hub-Signature does not match the body" });
  });
});
