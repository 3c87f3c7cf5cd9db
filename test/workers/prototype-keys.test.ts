/**
 * Prototype keys in management bodies (security review, round two): `__proto__`, `constructor` and
 * `prototype` are refused by field path in every manifest, merge patch and server-side apply, JSON or
 * YAML, and the isolate that read them is unchanged: unauthenticated ingress and other calls still work.
 */
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { auth, binaryEvent, broker, resourcePath, trigger } from "../support/client.ts";

const NS = "protokeys";
const api = (path: string, init: RequestInit = {}) =>
  exports.default.fetch(`http://router.test${path}`, { ...init, headers: { ...auth, ...(init.headers ?? {}) } });
const APPLY = "application/apply-patch+yaml";
const MERGE = "application/merge-patch+json";
const triggerPath = (name: string) => resourcePath(NS, "triggers", name);
const DISPLAY = { ref: { apiVersion: "edge-eventing.dev/v1alpha1", kind: "EventDisplay", name: "protokeys" } };

/** The isolate still answers as before: ingress without a token, a management read and a write. */
async function unchanged(): Promise<void> {
  expect((await exports.default.fetch(`http://router.test/${NS}/default`, binaryEvent(`after-${crypto.randomUUID()}`))).status).toBe(202);
  expect((await api(triggerPath("t"))).status).toBe(200);
  const label = await api(triggerPath("t"), {
    method: "PATCH",
    headers: { "content-type": MERGE },
    body: JSON.stringify({ metadata: { labels: { checked: "yes" } } }),
  });
  expect(label.status, await label.clone().text()).toBe(200);
}

describe("prototype keys in management bodies", () => {
  it("are refused with a Status naming the field, and leave the isolate unchanged", async () => {
    expect(
      (
        await api(resourcePath(NS, "brokers", "default"), {
          method: "PUT",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(broker("default")),
        })
      ).status,
    ).toBe(201);
    const created = await api(triggerPath("t"), {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(trigger("t", { broker: "default", subscriber: DISPLAY })),
    });
    expect(created.status).toBe(201);
    await unchanged();

    // The review's request: a server-side apply whose spec holds {"__proto__": {"error": 1}}.
    const apply = await api(`${triggerPath("t")}?fieldManager=x`, {
      method: "PATCH",
      headers: { "content-type": APPLY },
      body: '{"apiVersion": "eventing.knative.dev/v1", "kind": "Trigger", "metadata": {"name": "t"}, "spec": {"__proto__": {"error": 1}}}',
    });
    expect(apply.status).toBe(400);
    expect(await apply.json()).toMatchObject({ kind: "Status", code: 400, reason: "BadRequest", details: { causes: [{ field: "spec.__proto__" }] } });
    await unchanged();

    const cases: { method: string; type: string; body: string; field: string }[] = [
      {
        method: "PATCH",
        type: APPLY,
        body: "apiVersion: eventing.knative.dev/v1\nkind: Trigger\nmetadata:\n  name: t\nspec:\n  subscriber:\n    constructor:\n      prototype: 1\n",
        field: "spec.subscriber.constructor",
      },
      { method: "PATCH", type: MERGE, body: '{"metadata": {"labels": {"__proto__": {"polluted": "yes"}}}}', field: "metadata.labels.__proto__" },
      {
        method: "PUT",
        type: "application/json",
        body: '{"apiVersion": "eventing.knative.dev/v1", "kind": "Trigger", "metadata": {"name": "t"}, "spec": {"broker": "default", "filters": [{"exact": {"prototype": "x"}}]}}',
        field: "spec.filters[0].exact.prototype",
      },
      {
        method: "PUT",
        type: "application/yaml",
        body: 'apiVersion: eventing.knative.dev/v1\nkind: Trigger\nmetadata: {name: t, annotations: {"__proto__": "x"}}\nspec: {broker: default}\n',
        field: "metadata.annotations.__proto__",
      },
    ];
    for (const c of cases) {
      const r = await api(c.method === "PUT" ? triggerPath("t") : `${triggerPath("t")}?fieldManager=x`, {
        method: c.method,
        headers: { "content-type": c.type },
        body: c.body,
      });
      expect(r.status, c.field).toBe(400);
      expect(
        ((await r.json()) as { details: { causes: { field: string }[] } }).details.causes.map((x) => x.field),
        c.field,
      ).toEqual([c.field]);
      await unchanged();
    }
    const post = await api(resourcePath(NS, "triggers"), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"apiVersion": "eventing.knative.dev/v1", "kind": "Trigger", "metadata": {"name": "u"}, "spec": {"broker": "default", "__proto__": {"x": 1}}}',
    });
    expect(post.status).toBe(400);
    // The trigger is as it was created.
    expect(((await (await api(triggerPath("t"))).json()) as { spec: unknown }).spec).toEqual({ broker: "default", subscriber: DISPLAY });
  });
});
