/**
 * The dashboard for a user RBAC limits, in a real browser (Debian's chromium through playwright-core)
 * against `wrangler dev` trusting a local OIDC issuer: a viewer of one namespace sees who it is, is told
 * which kinds it may not list in every namespace, sees its namespace's resources and not another's, and
 * may not read the audit trail; the admin token's dashboard shows the viewer's refusals in the trail.
 */
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auth, TOKEN, trigger } from "../support/client.ts";
import { OidcIssuer } from "../support/oidc-issuer.ts";
import { type RunningRouter, startRouter } from "../support/router.ts";

const CHROMIUM = "/usr/bin/chromium";
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) console.warn(`dashboard RBAC e2e skipped: ${CHROMIUM} is missing (CI installs Debian's chromium)`);

let router: RunningRouter;
let oidc: OidcIssuer;
let browser: BrowserContext;
let page: Page;
let vera: string;

async function put(path: string, body: unknown) {
  const r = await fetch(`${router.url}${path}`, { method: "PUT", headers: { ...auth, "content-type": "application/json" }, body: JSON.stringify(body) });
  expect(r.status).toBe(201);
}

async function signIn(token: string) {
  await page.goto(`${router.url}/ui`);
  if (await page.locator("#signout").isVisible()) await page.click("#signout");
  await page.fill("#token", token);
  await page.click("#login button[type=submit]");
}

describe.skipIf(!hasChromium)("dashboard under RBAC", () => {
  beforeAll(async () => {
    oidc = await new OidcIssuer().start();
    router = await startRouter({ vars: { OIDC_ISSUERS: oidc.issuerUrl("corp") } });
    for (const ns of ["default", "other"]) {
      await put(`/apis/eventing.knative.dev/v1/namespaces/${ns}/brokers/default`, {
        apiVersion: "eventing.knative.dev/v1",
        kind: "Broker",
        metadata: { name: "default" },
      });
      await put(
        `/apis/eventing.knative.dev/v1/namespaces/${ns}/triggers/${ns}-orders`,
        trigger(`${ns}-orders`, { broker: "default", subscriber: { uri: "https://orders.example.com/" } }),
      );
    }
    const binding = {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: { name: "vera-view" },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "view" },
      subjects: [{ kind: "User", apiGroup: "rbac.authorization.k8s.io", name: `${oidc.issuerUrl("corp")}#vera` }],
    };
    await put("/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings/vera-view", binding);
    const now = Math.floor(Date.now() / 1000);
    vera = await oidc.token({ issuer: "corp", claims: { iss: oidc.issuerUrl("corp"), sub: "vera", aud: "edge-eventing", iat: now, exp: now + 3600 } });
    browser = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), "edge-eventing-chromium-")), {
      executablePath: CHROMIUM,
      headless: true,
      args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
    page = await browser.newPage();
  });
  afterAll(async () => {
    await browser?.close();
    await router?.stop();
    await oidc?.close();
  });

  it("a viewer of one namespace sees who it is, that namespace's resources only, and no audit trail", async () => {
    await signIn(vera);
    await expect.poll(() => page.locator("#whoami").textContent()).toBe(`signed in as ${oidc.issuerUrl("corp")}#vera`);
    await expect.poll(() => page.locator("#forbidden").textContent()).toContain("may not list them in every namespace (pick a namespace): brokers, triggers");
    await page.fill("#namespace", "default");
    await page.press("#namespace", "Enter");
    const row = page.locator('table[data-kind="Triggers"] tr[data-name="default-orders"]');
    await row.waitFor();
    expect(await page.locator('table[data-kind="Triggers"] tr[data-name="other-orders"]').count()).toBe(0);
    expect(await page.locator("#forbidden").textContent()).toBe("");
    await expect.poll(() => page.locator("#audit-status").textContent()).toBe("This token may not read the audit trail of default.");
  });

  it("the admin token's dashboard shows the viewer's refusals in the audit trail", async () => {
    await signIn(TOKEN);
    await page.fill("#namespace", "");
    await page.press("#namespace", "Enter");
    await expect
      .poll(
        async () => {
          // A submit clears the table and renders the answer when it comes: count that answer's rows, not
          // the cleared table (a poll that clicked again before the answer never saw one).
          await page.click("#audit-form button[type=submit]");
          await page.locator("#audit tbody").waitFor({ timeout: 10_000 });
          return page.locator("#audit tbody tr", { hasText: "#vera" }).count();
        },
        { timeout: 30_000 },
      )
      .toBeGreaterThan(0);
    const refused = page.locator("#audit tbody tr", { hasText: "#vera" }).filter({ hasText: "brokers" }).first();
    expect(await refused.locator("td").nth(2).textContent()).toBe("list");
    expect(await refused.locator("td").nth(6).textContent()).toBe("403");
    expect(await page.locator("#whoami").textContent()).toBe("signed in as edge-eventing:admin");
  });
});
