import { env, exports } from "cloudflare:workers";
import { describe, expect, inject, it } from "vitest";
import { auth, eventually, received, script } from "../support/client.ts";
import { compositionScenarios } from "../scenarios/composition.ts";

const NS = "comp";
const sub = inject("subscriberUrl");
const fetchRouter = (path: string, init?: RequestInit) => exports.default.fetch(`http://router.test${path}`, init);
compositionScenarios({ fetch: fetchRouter, subscriber: () => sub }, NS);

const counter = async (channel: string, trigger: string, name: string) =>
  (await env.BROKER.getByName(`${NS}/${channel}`).metrics()).counters.find((c) => c.trigger === trigger && c.name === name)?.value ?? 0;

describe("Parallel filters, seen from the channels", () => {
  it("a filter that answers without an event keeps the event out of its branch", async () => {
    await script(sub, "/pf-filter", [{ status: 202 }]);
    await script(sub, "/pf-sub", [{ status: 200 }]);
    const manifest = {
      apiVersion: "flows.knative.dev/v1",
      kind: "Parallel",
      metadata: { name: "pf" },
      spec: { branches: [{ filter: { uri: `${sub}/pf-filter` }, subscriber: { uri: `${sub}/pf-sub` } }] },
    };
    const put = await fetchRouter(`/apis/flows.knative.dev/v1/namespaces/${NS}/parallels/pf`, {
      method: "PUT",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify(manifest),
    });
    expect(put.status).toBe(201);
    const sent = await fetchRouter(`/parallels/${NS}/pf`, {
      method: "POST",
      headers: { "content-type": "application/cloudevents+json" },
      body: JSON.stringify({ specversion: "1.0", id: "pf-1", source: "/t", type: "t" }),
    });
    expect(sent.status).toBe(202);
    // A reply is stored before its hop settles: once the filter hop is delivered, the branch has all it will get.
    await eventually(async () => (await counter("parallel:pf", "branch-0", "delivered")) === 1, 10_000, "the filter hop to settle");
    expect(await received(sub, "/pf-filter")).toHaveLength(1);
    expect(await counter("parallel:pf:0", "", "accepted")).toBe(0);
    expect(await received(sub, "/pf-sub")).toEqual([]);
  });

  it("a shorter Parallel clears the channels of the branches it dropped; deleting it clears the rest", async () => {
    const path = `/apis/flows.knative.dev/v1/namespaces/${NS}/parallels/shrink`;
    const branches = (n: number) => Array.from({ length: n }, (_, i) => ({ subscriber: { uri: `${sub}/shrink-${i}` } }));
    const apply = (n: number) =>
      fetchRouter(path, {
        method: "PUT",
        headers: { ...auth, "content-type": "application/json" },
        body: JSON.stringify({ apiVersion: "flows.knative.dev/v1", kind: "Parallel", metadata: { name: "shrink" }, spec: { branches: branches(n) } }),
      });
    const ingest = (channel: string, id: string) =>
      env.BROKER.getByName(`${NS}/${channel}`).ingest([{ attributes: { specversion: "1.0", id, source: "/t", type: "t" } }]);
    expect((await apply(3)).status).toBe(201);
    expect((await ingest("parallel:shrink:2", "a")).status).toBe(202);
    expect((await apply(1)).status).toBe(200);
    expect((await ingest("parallel:shrink:0", "b")).status).toBe(202);
    expect((await ingest("parallel:shrink:2", "c")).status).toBe(404);
    expect((await fetchRouter(path, { method: "DELETE", headers: auth })).status).toBe(200);
    expect((await ingest("parallel:shrink:0", "d")).status).toBe(404);
    expect(
      (
        await fetchRouter(`/parallels/${NS}/shrink`, {
          method: "POST",
          headers: { "content-type": "application/cloudevents+json" },
          body: JSON.stringify({ specversion: "1.0", id: "y", source: "/t", type: "t" }),
        })
      ).status,
    ).toBe(404);
  });
});
