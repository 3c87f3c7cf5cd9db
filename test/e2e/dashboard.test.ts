/**
 * The dashboard in a real browser (Debian's chromium through playwright-core) against `wrangler dev`:
 * sign in with the token, see the triggers with their Ready condition, watch a chart move as events are
 * sent, and redeliver a dead letter. Screenshots go to a temporary folder; with UPDATE_SCREENSHOTS=1 they
 * replace the README's in docs/screenshots/.
 */
import { existsSync, mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auth, binaryEvent, received, receivedAtLeast, script, TOKEN, trigger } from "../support/client.ts";
import { type RunningRouter, startRouter } from "../support/router.ts";
import { type Subscriber, startSubscriber } from "../support/subscriber.ts";

const CHROMIUM = "/usr/bin/chromium";
const SHOTS = process.env.UPDATE_SCREENSHOTS ? resolve(import.meta.dirname, "../../docs/screenshots") : mkdtempSync(join(tmpdir(), "edge-eventing-shots-"));
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) console.warn(`dashboard e2e skipped: ${CHROMIUM} is missing (CI installs Debian's chromium)`);

let router: RunningRouter;
let sub: Subscriber;
let browser: BrowserContext;
let page: Page;

async function put(plural: string, body: { metadata: { name: string } }) {
  const r = await fetch(`${router.url}/apis/eventing.knative.dev/v1/namespaces/default/${plural}/${body.metadata.name}`, {
    method: "PUT",
    headers: { ...auth, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  expect(r.status).toBe(201);
}

describe.skipIf(!hasChromium)("dashboard in headless chromium", () => {
  beforeAll(async () => {
    [router, sub] = await Promise.all([startRouter(), startSubscriber()]);
    await put("brokers", { apiVersion: "eventing.knative.dev/v1", kind: "Broker", metadata: { name: "default" }, spec: {} } as never);
    await put(
      "triggers",
      trigger("orders", { broker: "default", filter: { attributes: { type: "com.example.order" } }, subscriber: { uri: `${sub.url}/orders` } }),
    );
    await put(
      "triggers",
      trigger("flaky", {
        broker: "default",
        filter: { attributes: { type: "com.example.flaky" } },
        subscriber: { uri: `${sub.url}/flaky` },
        delivery: { retry: 0 },
      }),
    );
    const flow = { apiVersion: "flows.knative.dev/v1", kind: "Sequence", metadata: { name: "enrich" }, spec: { steps: [{ uri: `${sub.url}/enrich` }] } };
    const r = await fetch(`${router.url}/apis/flows.knative.dev/v1/namespaces/default/sequences/enrich`, {
      method: "PUT",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify(flow),
    });
    expect(r.status).toBe(201);
    const ask = {
      apiVersion: "eventing.knative.dev/v1alpha1",
      kind: "RequestReply",
      metadata: { name: "ask" },
      spec: { brokerRef: { kind: "Broker", name: "default" } },
    };
    const rr = await fetch(`${router.url}/apis/eventing.knative.dev/v1alpha1/namespaces/default/requestreplies/ask`, {
      method: "PUT",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify(ask),
    });
    expect(rr.status).toBe(201);
    // A JobSink whose KubernetesCluster does not exist: listed, not Ready, saying why.
    const jobs = {
      apiVersion: "sinks.knative.dev/v1alpha1",
      kind: "JobSink",
      metadata: { name: "transcode" },
      spec: { job: { spec: { template: { spec: { restartPolicy: "Never", containers: [{ name: "main", image: "bash" }] } } } } },
    };
    const js = await fetch(`${router.url}/apis/sinks.knative.dev/v1alpha1/namespaces/default/jobsinks/transcode`, {
      method: "PUT",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify(jobs),
    });
    expect(js.status).toBe(201);
    // A fresh profile directory every run: nothing carries over between runs.
    browser = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), "edge-eventing-chromium-")), {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1280, height: 1000 },
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
    page = await browser.newPage();
    mkdirSync(SHOTS, { recursive: true });
  });
  afterAll(async () => {
    await browser?.close();
    await Promise.all([router?.stop(), sub?.close()]);
  });

  it("asks for the token, then shows the triggers and their Ready condition", async () => {
    await page.goto(`${router.url}/ui`);
    await page.fill("#token", TOKEN);
    await page.click("#login button[type=submit]");
    const row = page.locator('table[data-kind="Triggers"] tr[data-name="orders"]');
    await row.waitFor();
    expect(await row.locator("td").nth(3).textContent()).toBe("True");
    const flow = page.locator('table[data-kind="Transforms and flows"] tr[data-name="enrich"]');
    expect(await flow.locator("td").first().textContent()).toBe("Sequence");
    expect(await flow.locator("td").nth(3).textContent()).toBe("True");
    expect(await page.locator('table[data-kind="Request-reply"] tr[data-name="ask"] td').nth(3).textContent()).toBe("True");
    const jobSink = page.locator('table[data-kind="Job sinks and clusters"] tr[data-name="transcode"]');
    expect(await jobSink.locator("td").first().textContent()).toBe("JobSink");
    expect(await jobSink.locator("td").nth(3).textContent()).toBe("False");
    expect(await jobSink.locator("td").nth(4).textContent()).toBe("KubernetesClusterNotFound");
    await page.locator('article[data-trigger="default/orders"]').waitFor();
    await expect.poll(() => page.locator("#conn").textContent(), { timeout: 10_000 }).toBe("live: 1/1 brokers");
  });

  it("moves the trigger's chart when events are sent", async () => {
    const card = page.locator('article[data-trigger="default/orders"]');
    const before = await card.locator('polyline[data-series="delivered"]').getAttribute("points");
    for (let i = 0; i < 3; i++) expect((await fetch(`${router.url}/default/default`, binaryEvent(`order-${i}`, "com.example.order"))).status).toBe(202);
    await receivedAtLeast(sub.url, "/orders", 3);
    await expect.poll(() => card.locator('span[data-series="delivered"]').getAttribute("data-total"), { timeout: 10_000 }).toBe("3");
    expect(await card.locator('span[data-series="accepted"]').getAttribute("data-total")).toBe("3");
    expect(await card.locator('polyline[data-series="delivered"]').getAttribute("points")).not.toBe(before);
    await expect.poll(() => page.locator("#tail li").count()).toBeGreaterThanOrEqual(6);
    expect(await page.locator("#tail").textContent()).toContain("id=order-2");
    await expect.poll(() => card.locator('span[data-series="latency"]').textContent(), { timeout: 10_000 }).toMatch(/^latency \d+ ms$/);
    await page.screenshot({ path: join(SHOTS, "dashboard.png"), fullPage: true });
  });

  it("shows a trigger's rate limit, and pauses and resumes it", async () => {
    const path = `${router.url}/apis/eventing.knative.dev/v1/namespaces/default/triggers/limited`;
    await put(
      "triggers",
      trigger(
        "limited",
        { broker: "default", filter: { attributes: { type: "com.example.limited" } }, subscriber: { uri: `${sub.url}/limited` } },
        { "edge-eventing.dev/rate-limit": "5/s" },
      ),
    );
    await page.click("#refresh");
    const flow = page.locator('article[data-trigger="default/limited"] .flow');
    await expect.poll(() => flow.textContent(), { timeout: 10_000 }).toBe("rate limit 5/s Pause");
    await flow.locator("button").click();
    await expect.poll(() => flow.getAttribute("data-paused"), { timeout: 10_000 }).toBe("true");
    const paused = (await (await fetch(path, { headers: auth })).json()) as any;
    expect(paused.metadata.annotations).toEqual({ "edge-eventing.dev/rate-limit": "5/s", "edge-eventing.dev/paused": "true" });
    expect(paused.status.conditions).toContainEqual(expect.objectContaining({ type: "Paused", status: "True" }));
    expect((await fetch(`${router.url}/default/default`, binaryEvent("limited-1", "com.example.limited"))).status).toBe(202);
    await page.screenshot({ path: join(SHOTS, "paused-trigger.png"), fullPage: true });
    await flow.locator("button").click();
    await expect.poll(() => flow.getAttribute("data-paused"), { timeout: 10_000 }).toBe("false");
    const [got] = await receivedAtLeast(sub.url, "/limited", 1);
    expect(got.headers["ce-id"]).toBe("limited-1");
    expect(((await (await fetch(path, { headers: auth })).json()) as any).metadata.annotations).toEqual({ "edge-eventing.dev/rate-limit": "5/s" });
  });

  it("lists a dead letter and redelivers it", async () => {
    await script(sub.url, "/flaky", [{ status: 500 }]);
    expect((await fetch(`${router.url}/default/default`, binaryEvent("flaky-1", "com.example.flaky"))).status).toBe(202);
    const dead = page.locator("#dead tr[data-dead]");
    await dead.waitFor();
    expect(await dead.textContent()).toContain("flaky-1");
    await page.screenshot({ path: join(SHOTS, "dead-letters.png"), fullPage: true });
    await script(sub.url, "/flaky", [{ status: 200 }]);
    await dead.locator("button").click();
    const [got] = await receivedAtLeast(sub.url, "/flaky", 1);
    expect(got.headers["ce-id"]).toBe("flaky-1");
    await page.locator("#dead tr[data-dead]").waitFor({ state: "detached" });
    expect(await page.locator("#dead-status").textContent()).toContain("queued for redelivery");
  });

  it("searches the event history, shows an event's timeline, and replays after showing the dry-run count", async () => {
    await script(sub.url, "/flaky", [{ status: 503, body: "closed for lunch" }]);
    expect((await fetch(`${router.url}/default/default`, binaryEvent("lunch-1", "com.example.flaky"))).status).toBe(202);
    await page.selectOption("#h-broker", "default/default");
    await page.fill("#h-id", "lunch-1");
    await page.selectOption("#h-state", "failed");
    const row = page.locator('#history tr[data-event-id="lunch-1"]');
    await expect
      .poll(
        async () => {
          await page.click("#history-form button[type=submit]");
          return row.count();
        },
        { timeout: 15_000 },
      )
      .toBe(1);
    expect(await row.textContent()).toContain("flaky failed");
    await row.click();
    const attempt = page.locator('#timeline li[data-trigger="flaky"] li[data-attempt]');
    await attempt.waitFor();
    expect(await attempt.textContent()).toMatch(/status 503 {2}\d+ ms {2}closed for lunch/);
    await page.screenshot({ path: join(SHOTS, "history.png"), fullPage: true });

    await script(sub.url, "/flaky", [{ status: 200 }]);
    await page.click("#replay-check");
    await expect.poll(() => page.locator("#replay-status").textContent()).toBe("1 delivery would be sent again (dry run: nothing sent yet).");
    expect(await received(sub.url, "/flaky")).toEqual([]);
    await page.click("#replay-go");
    const [again] = await receivedAtLeast(sub.url, "/flaky", 1);
    expect(again.headers).toMatchObject({ "ce-id": "lunch-1", "ce-replay": expect.stringMatching(/^replay-/) });
    expect(await page.locator("#replay-status").textContent()).toContain("started");
  });

  it("shows which EventPolicies guard a broker, and the policies themselves", async () => {
    await put("brokers", { apiVersion: "eventing.knative.dev/v1", kind: "Broker", metadata: { name: "guarded" }, spec: {} } as never);
    const policy = {
      apiVersion: "eventing.knative.dev/v1alpha1",
      kind: "EventPolicy",
      metadata: { name: "ci-only" },
      spec: { to: [{ ref: { kind: "Broker", name: "guarded" } }], from: [{ sub: "repo:org/repo:ref:refs/heads/main" }] },
    };
    const r = await fetch(`${router.url}/apis/eventing.knative.dev/v1alpha1/namespaces/default/eventpolicies/ci-only`, {
      method: "PUT",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify(policy),
    });
    expect(r.status).toBe(201);
    await page.click("#refresh");
    const broker = page.locator('table[data-kind="Brokers"] tr[data-name="guarded"] .policies');
    await broker.waitFor();
    expect(await broker.textContent()).toBe(" policies: ci-only");
    expect(await page.locator('table[data-kind="Brokers"] tr[data-name="default"] .policies').count()).toBe(0);
    expect(await page.locator('table[data-kind="Event policies"] tr[data-name="ci-only"] td').nth(3).textContent()).toBe("False"); // no OIDC_ISSUERS on this router
  });
});
