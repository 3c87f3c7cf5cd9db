/** Manifest checks for GitHubSource and WebhookSource, and the config a stored resource yields. */
import { describe, expect, it } from "vitest";
import { secretReader } from "../../../shared/secrets.ts";
import { validateWebhookSpec, webhookConfig } from "../../../shared/webhooks/spec.ts";

const sink = { ref: { apiVersion: "eventing.knative.dev/v1", kind: "Broker", name: "default" } };

describe("validateWebhookSpec", () => {
  it("accepts Knative's GitHubSource sample unchanged", () => {
    const spec = {
      eventTypes: ["pull_request"],
      ownerAndRepository: "knative/eventing",
      accessToken: { secretKeyRef: { name: "SECRET_GITHUB_ACCESS_TOKEN", key: "accessToken" } },
      secretToken: { secretKeyRef: { name: "SECRET_GITHUB_SECRET_TOKEN", key: "secretToken" } },
      sink,
    };
    expect(validateWebhookSpec("GitHubSource", spec)).toEqual([]);
  });

  it("lists every GitHubSource problem with its field", () => {
    const errors = validateWebhookSpec("GitHubSource", {
      ownerAndRepository: "a/b/c",
      eventTypes: ["push", "pushed"],
      secretToken: { secretKeyRef: { name: "bad-name" } },
    });
    expect(errors.map((e) => e.field)).toEqual(["spec.ownerAndRepository", "spec.eventTypes[1]", "spec.secretToken.secretKeyRef.name", "spec.sink"]);
  });

  it("accepts a WebhookSource with rotated secrets and tolerance 0", () => {
    const spec = { provider: "stripe", secretKeyRef: [{ name: "SECRET_STRIPE_NEW" }, { name: "SECRET_STRIPE_OLD" }], timestampToleranceSeconds: 0, sink };
    expect(validateWebhookSpec("WebhookSource", spec)).toEqual([]);
  });

  it("keeps the timestamp tolerance within the brokers' default dedup window, so a replay inside it is a duplicate", () => {
    const spec = { provider: "stripe", secretKeyRef: { name: "SECRET_STRIPE" }, sink };
    expect(validateWebhookSpec("WebhookSource", { ...spec, timestampToleranceSeconds: 600 })).toEqual([]);
    expect(validateWebhookSpec("WebhookSource", { ...spec, timestampToleranceSeconds: 601 })).toEqual([
      { field: "spec.timestampToleranceSeconds", message: "must be an integer from 0 (no check) to 600" },
    ]);
  });

  it("lists every WebhookSource problem with its field", () => {
    const errors = validateWebhookSpec("WebhookSource", {
      provider: "paypal",
      secretKeyRef: [{ name: "SECRET_OK" }, { nam: "X" }],
      timestampToleranceSeconds: -1,
      publicUrl: "ftp://x",
      genericHmac: { header: "X-Sig" },
      sink,
    });
    expect(errors.map((e) => e.field)).toEqual([
      "spec.provider",
      "spec.secretKeyRef[1].name",
      "spec.timestampToleranceSeconds",
      "spec.publicUrl",
      "spec.genericHmac",
    ]);
  });

  it("requires complete generic-hmac settings for that provider", () => {
    const errors = validateWebhookSpec("WebhookSource", {
      provider: "generic-hmac",
      secretKeyRef: { name: "SECRET_K" },
      genericHmac: { header: "X Sig", algorithm: "md5", encoding: "hex" },
      sink,
    });
    expect(errors.map((e) => e.field)).toEqual(["spec.genericHmac.header", "spec.genericHmac.algorithm"]);
    expect(validateWebhookSpec("WebhookSource", { provider: "generic-hmac", secretKeyRef: { name: "SECRET_K" }, sink })).toEqual([
      { field: "spec.genericHmac", message: expect.stringContaining("is required") },
    ]);
  });

  it("refuses more than five secrets and a missing secretKeyRef", () => {
    const six = Array.from({ length: 6 }, (_, i) => ({ name: `S${i}` }));
    expect(validateWebhookSpec("WebhookSource", { provider: "slack", secretKeyRef: six, sink })[0].field).toBe("spec.secretKeyRef");
    expect(validateWebhookSpec("WebhookSource", { provider: "slack", sink })[0].field).toBe("spec.secretKeyRef");
  });
});

describe("webhookConfig", () => {
  const lookup = secretReader({ SECRET_NEW: "n", SECRET_OLD: "o", SECRET_GH: "g", SECRET_EMPTY: "" });

  it("reads each named Worker secret and defaults the tolerance to 300 s", () => {
    const resource = {
      kind: "WebhookSource" as const,
      metadata: { namespace: "ns", name: "pay" },
      spec: { provider: "stripe", secretKeyRef: [{ name: "SECRET_NEW" }, { name: "SECRET_OLD" }], sink },
    };
    expect(webhookConfig(resource, lookup)).toEqual({
      provider: "stripe",
      secrets: ["n", "o"],
      timestampToleranceSeconds: 300,
      publicUrl: undefined,
      generic: undefined,
      source: { namespace: "ns", name: "pay", kind: "WebhookSource" },
    });
  });

  it("turns a GitHubSource into a github config with its event filter", () => {
    const resource = {
      kind: "GitHubSource" as const,
      metadata: { namespace: "ns", name: "gh" },
      spec: { ownerAndRepository: "o/r", eventTypes: ["push"], secretToken: { secretKeyRef: { name: "SECRET_GH" } }, sink },
    };
    expect(webhookConfig(resource, lookup)).toMatchObject({ provider: "github", secrets: ["g"], ownerAndRepository: "o/r", eventTypes: ["push"] });
  });

  it("names a Worker secret that is not set", () => {
    const resource = {
      kind: "WebhookSource" as const,
      metadata: { namespace: "ns", name: "pay" },
      spec: { provider: "stripe", secretKeyRef: { name: "SECRET_MISSING" }, sink },
    };
    expect(webhookConfig(resource, lookup)).toEqual({
      error: "spec.secretKeyRef: Worker secret SECRET_MISSING is not set (wrangler secret put SECRET_MISSING)",
    });
    const empty = { ...resource, spec: { ...resource.spec, secretKeyRef: { name: "SECRET_EMPTY" } } };
    expect(webhookConfig(empty, lookup)).toEqual({ error: "spec.secretKeyRef: Worker secret SECRET_EMPTY is not set (wrangler secret put SECRET_EMPTY)" });
  });

  it("never reads a secret a manifest may not name, even from a configuration stored before the rule", () => {
    const resource = {
      kind: "WebhookSource" as const,
      metadata: { namespace: "ns", name: "pay" },
      spec: { provider: "stripe", secretKeyRef: { name: "ADMIN_TOKEN" }, sink },
    };
    expect(webhookConfig(resource, secretReader({ ADMIN_TOKEN: "admin" }))).toEqual({ error: "WebhookSource pay has an invalid secret reference" });
  });
});
