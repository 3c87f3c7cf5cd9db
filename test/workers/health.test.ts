import { exports } from "cloudflare:workers";
import { expect, it } from "vitest";
it("answers healthz", async () => {
  const r = await exports.default.fetch("http://x/healthz");
  expect(r.status).toBe(200);
});
