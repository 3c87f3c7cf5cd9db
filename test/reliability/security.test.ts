/**
 * Security: the management API refuses every call without the admin token or with a wrong one (401);
 * a webhook that fails verification stores nothing; a trigger whose subscriber is the router's own broker
 * URL cannot loop forever (the TTL hop count ends it).
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { received, script, TOKEN } from "../support/client.ts";
import { type RunningRouter, startRouter } from "../support/router.ts";
import { startSubscriber, type Subscriber } from "../support/subscriber.ts";
import { apply, broker, event, metrics, sleep, trigger } from "./harness.ts";

const NS = "sec";
const GITHUB_SECRET = "reliability-secret";

let router: RunningRouter;
let sub: Subscriber;
beforeAll(async () => {
  [router, sub] = await Promise.all([startRouter({ vars: { SECRET_GITHUB_WEBHOOK_SECRET: GITHUB_SECRET } }), startSubscriber()]);
  await apply(router.url, NS, "brokers", broker("b"));
});
afterAll(async () => {
  await router?.kill();
  await sub?.close();
});

const MANAGEMENT: [string, string, string?][] = [
  ["GET", "/apis/eventing.knative.dev/v1/brokers"],
  ["GET", `/apis/eventing.knative.dev/v1/namespaces/${NS}/brokers`],
  ["GET", `/apis/eventing.knative.dev/v1/namespaces/${NS}/brokers/b`],
  ["PUT", `/apis/eventing.knative.dev/v1/namespaces/${NS}/brokers/evil`, JSON.stringify(broker("evil"))],
  ["POST", `/apis/eventing.knative.dev/v1/namespaces/${NS}/brokers`, JSON.stringify(broker("evil"))],
  ["DELETE", `/apis/eventing.knative.dev/v1/namespaces/${NS}/brokers/b`],
  ["PUT", `/apis/sources.knative.dev/v1/namespaces/${NS}/pingsources/p`, "{}"],
  ["POST", "/apis/edge-eventing.dev/v1alpha1/filterreviews", "{}"],
  ["POST", "/apis/edge-eventing.dev/v1alpha1/expressionreviews", "{}"],
  ["GET", "/metrics"],
  ["GET", `/display/${NS}/d`],
];

it("answers 401 to every management call without a token, with a wrong one, or with another scheme", async () => {
  const credentials: (string | undefined)[] = [undefined, "Bearer wrong-token", `Bearer ${TOKEN}x`, `Basic ${btoa(`admin:${TOKEN}`)}`, "Bearer ", TOKEN];
  let calls = 0;
  for (const [method, path, body] of MANAGEMENT) {
    for (const authorization of credentials) {
      const r = await fetch(`${router.url}${path}`, {
        method,
        headers: { "content-type": "application/json", ...(authorization === undefined ? {} : { authorization }) },
        body,
      });
      await r.arrayBuffer();
      expect(r.status, `${method} ${path} with ${authorization ?? "no authorization"}`).toBe(401);
      calls++;
    }
  }
  // Nothing changed: the broker is still there and "evil" never was.
  const m = await fetch(`${router.url}/apis/eventing.knative.dev/v1/namespaces/${NS}/brokers`, { headers: { authorization: `Bearer ${TOKEN}` } });
  expect(((await m.json()) as { items: { metadata: { name: string } }[] }).items.map((i) => i.metadata.name)).toEqual(["b"]);
  console.log(`security: ${calls} unauthenticated management calls, all 401`);
});

it("stores nothing for webhooks that fail verification", async () => {
  await script(sub.url, "/sec-hook", [{ status: 200 }]);
  await apply(router.url, NS, "triggers", trigger("hook", { broker: "b", subscriber: { uri: `${sub.url}/sec-hook` } }));
  await apply(
    router.url,
    NS,
    "githubsources",
    {
      apiVersion: "sources.knative.dev/v1alpha1",
      kind: "GitHubSource",
      metadata: { name: "repo" },
      spec: {
        ownerAndRepository: "octo/hello",
        eventTypes: ["push"],
        secretToken: { secretKeyRef: { name: "SECRET_GITHUB_WEBHOOK_SECRET" } },
        sink: { ref: { apiVersion: "eventing.knative.dev/v1", kind: "Broker", name: "b" } },
      },
    } as never,
    "sources.knative.dev/v1alpha1",
  );
  const before = (await metrics(router.url, NS, "b"))("events_accepted_total");
  const body = JSON.stringify({ ref: "refs/heads/main", repository: { name: "hello", html_url: "https://github.com/octo/hello" } });
  const signatures = [undefined, `sha256=${"0".repeat(64)}`, "sha1=abc", "sha256=zz", "garbage"];
  for (const [i, signature] of signatures.entries()) {
    const headers: Record<string, string> = { "content-type": "application/json", "x-github-event": "push", "x-github-delivery": `forged-${i}` };
    if (signature) headers["x-hub-signature-256"] = signature;
    const r = await fetch(`${router.url}/webhooks/${NS}/repo`, { method: "POST", headers, body });
    await r.arrayBuffer();
    expect(r.status, `signature ${signature}`).toBe(401);
  }
  await sleep(500);
  expect((await metrics(router.url, NS, "b"))("events_accepted_total")).toBe(before);
  expect(await received(sub.url, "/sec-hook")).toEqual([]);
  console.log(`security: ${signatures.length} forged webhooks, all 401, 0 stored`);
});

it("ends a loop through the router's own broker URL by the TTL hop count", async () => {
  // Dedup off: with it on, the event's second arrival is a duplicate (same source and id) and the loop ends
  // after one hop; here it must be the TTL that ends it.
  await apply(router.url, NS, "brokers", broker("loop", { "edge-eventing.dev/dedup-window": "PT0S" }));
  await apply(router.url, NS, "triggers", trigger("self", { broker: "loop", subscriber: { uri: `${router.url}/${NS}/loop` } }));
  const r = await fetch(`${router.url}/${NS}/loop`, event("loop-1"));
  expect(r.status).toBe(202);
  // Bounded wait for the count to settle: it must stop growing.
  let accepted = -1;
  for (let i = 0; i < 60; i++) {
    await sleep(500);
    const now = (await metrics(router.url, NS, "loop"))("events_accepted_total");
    if (now === accepted && now > 1) break;
    accepted = now;
  }
  const m = await metrics(router.url, NS, "loop");
  console.log(
    `security: self-loop (dedup off) stopped after ${m("events_accepted_total")} hops (dropped ${m("events_dropped_total")}, failed ${m("events_failed_total", "self")}, backlog ${m("backlog")})`,
  );
  expect(m("events_accepted_total")).toBeGreaterThan(1);
  expect(m("events_accepted_total")).toBeLessThanOrEqual(256);
  expect(m("backlog")).toBe(0);
}, 60_000);
