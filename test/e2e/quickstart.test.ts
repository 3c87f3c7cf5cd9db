/**
 * The README walk-through, over real HTTP against `wrangler dev`: apply a Broker and a Trigger, post an
 * event, see it at the built-in event display and at a real HTTP subscriber.
 */
import { describe, expect, it } from "vitest";
import { auth, binaryEvent, eventually, receivedAtLeast } from "../support/client.ts";
import { routerWithSubscriber, startRouter } from "../support/router.ts";

const started = routerWithSubscriber();

const yaml = { ...auth, "content-type": "application/yaml" };

describe("quick start over HTTP", () => {
  it("answers healthz without a token and refuses management without one", async () => {
    const router = started.router();
    expect((await fetch(`${router.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${router.url}/apis/eventing.knative.dev/v1/namespaces/default/brokers`)).status).toBe(401);
  });

  it("routes an event from a Knative manifest to the event display and a subscriber", async () => {
    const router = started.router();
    const sub = started.subscriber();
    const manifests = {
      broker: `apiVersion: eventing.knative.dev/v1
kind: Broker
metadata:
  name: default
  namespace: default
`,
      display: `apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata:
  name: display
spec:
  broker: default
  filter:
    attributes:
      type: dev.example.greeting
  subscriber:
    ref:
      apiVersion: edge-eventing.dev/v1alpha1
      kind: EventDisplay
      name: event-display
`,
      service: `apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata:
  name: service
spec:
  broker: default
  filters:
    - prefix:
        type: dev.example.
  subscriber:
    uri: ${sub.url}/svc
`,
    };
    for (const [plural, name, body] of [
      ["brokers", "default", manifests.broker],
      ["triggers", "display", manifests.display],
      ["triggers", "service", manifests.service],
    ]) {
      const r = await fetch(`${router.url}/apis/eventing.knative.dev/v1/namespaces/default/${plural}/${name}`, { method: "PUT", headers: yaml, body });
      expect(r.status).toBe(201);
    }
    const sent = await fetch(`${router.url}/default/default`, binaryEvent("hello-1", "dev.example.greeting", {}, '{"msg":"hello"}'));
    expect(sent.status).toBe(202);
    const [got] = await receivedAtLeast(sub.url, "/svc", 1);
    expect(got.body).toBe('{"msg":"hello"}');
    const shown = await eventually(async () => {
      const r = (await (await fetch(`${router.url}/display/default/event-display`, { headers: auth })).json()) as {
        events: { event: { id: string; data: unknown } }[];
      };
      return r.events.length > 0 ? r.events : undefined;
    });
    expect(shown[0].event).toMatchObject({ id: "hello-1", type: "dev.example.greeting", data: { msg: "hello" } });
  });
});

describe("a router with no admin token configured", () => {
  it("fails closed: every management call is 401, ingress still answers", async () => {
    const bare = await startRouter({ vars: { ADMIN_TOKEN: "" } });
    try {
      const r = await fetch(`${bare.url}/apis/eventing.knative.dev/v1/namespaces/default/brokers`, { headers: auth });
      expect(r.status).toBe(401);
      expect(((await r.json()) as { message: string }).message).toMatch(/no ADMIN_TOKEN/);
      expect((await fetch(`${bare.url}/default/default`, binaryEvent("x"))).status).toBe(404);
    } finally {
      await bare.stop();
    }
  });
});
