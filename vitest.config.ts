import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { createServer } from "node:net";
import { defineConfig } from "vitest/config";

/**
 * The workerd tests' OIDC issuer (test/support/global-oidc.ts) listens on a port chosen here, once per
 * process, because OIDC_ISSUERS is a binding fixed before workerd starts.
 */
process.env.EDGE_EVENTING_OIDC_PORT ??= String(
  await new Promise<number>((ok, fail) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => ok(port));
    });
    s.on("error", fail);
  }),
);
const OIDC = `http://127.0.0.1:${process.env.EDGE_EVENTING_OIDC_PORT}`;
/** Trusted issuers of the workerd tests; `${OIDC}/untrusted` is served but not listed. */
const OIDC_ISSUERS = ["trusted", "ci", "rotating", "broken", "keys"].map((name) => `${OIDC}/${name}`).join(",");

export default defineConfig({
  test: {
    projects: [
      { test: { name: "unit", include: ["test/unit/**/*.test.ts"], environment: "node" } },
      {
        plugins: [
          cloudflareTest({
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: {
              bindings: {
                ADMIN_TOKEN: "test-token",
                REQUEST_REPLY_SECRET: "request-reply-test-secret",
                SECRET_INGRESS_TOKEN: "producer-secret",
                SECRET_GITHUB_WEBHOOK_SECRET: "It's a Secret to Everybody",
                SECRET_STANDARD_WEBHOOK_SECRET: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                SECRET_SLACK_SIGNING_SECRET: "8f742231b10e8888abcd99yyyzzz85a5",
                SECRET_TWILIO_AUTH_TOKEN: "12345",
                SECRET_K8S_TOKEN: "k8s-test-token",
                SECRET_K8S_WRONG_TOKEN: "not-the-cluster-token",
                OIDC_ISSUERS,
              },
            },
          }),
        ],
        test: {
          name: "workers",
          include: ["test/workers/**/*.test.ts"],
          globalSetup: [
            "test/support/global-subscriber.ts",
            "test/support/global-kubernetes.ts",
            "test/support/global-sources.ts",
            "test/support/global-oidc.ts",
          ],
          testTimeout: 30_000,
        },
      },
      { test: { name: "e2e", include: ["test/e2e/**/*.test.ts"], environment: "node", testTimeout: 60_000, hookTimeout: 120_000, fileParallelism: false } },
      {
        test: {
          name: "reliability",
          include: ["test/reliability/**/*.test.ts"],
          environment: "node",
          testTimeout: 240_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
