/** The Kubernetes API protocol pieces kubectl relies on, in workerd (test/e2e/kubectl.test.ts drives kubectl itself). */
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { auth, broker, resourcePath, trigger } from "../support/client.ts";

const NS = "kube";
const api = (path: string, init: RequestInit = {}) =>
  exports.default.fetch(`http://router.test${path}`, { ...init, headers: { ...auth, ...(init.headers ?? {}) } });
const json = (body: unknown, type = "application/json") => ({ body: JSON.stringify(body), headers: { "content-type": type } });
const triggerPath = (name: string) => resourcePath(NS, "triggers", name);
const MERGE = "application/merge-patch+json";
const APPLY = "application/apply-patch+yaml";

async function create(name: string, uri = "https://a.example/") {
  const r = await api(`${triggerPath(name)}?fieldManager=setup`, { method: "PUT", ...json(trigger(name, { broker: "default", subscriber: { uri } })) });
  expect(r.status, await r.clone().text()).toBe(201);
  return r.json() as Promise<any>;
}

describe("the Kubernetes API as kubectl uses it", () => {
  it("serves /version to anyone, and discovery and OpenAPI only with the admin token", async () => {
    expect(await (await exports.default.fetch("http://router.test/version")).json()).toMatchObject({ major: "1", minor: "32" });
    for (const path of ["/api", "/apis", "/apis/eventing.knative.dev/v1", "/openapi/v3"]) {
      expect((await exports.default.fetch(`http://router.test${path}`)).status, path).toBe(401);
      expect((await api(path)).status, path).toBe(200);
    }
    expect((await api("/apis/eventing.knative.dev/v9")).status).toBe(404);
  });

  it("merge-patches a resource, refusing unknown fields by name and a non-patch media type", async () => {
    await api(resourcePath(NS, "brokers", "default"), { method: "PUT", ...json(broker("default")) });
    await create("mp");
    const r = await api(triggerPath("mp"), {
      method: "PATCH",
      ...json({ metadata: { labels: { tier: "gold" } }, spec: { subscriber: { uri: "https://b.example/" } } }, MERGE),
    });
    expect(r.status).toBe(200);
    const patched = (await r.json()) as any;
    expect(patched.spec.subscriber.uri).toBe("https://b.example/");
    expect(patched.metadata.labels).toEqual({ tier: "gold" });
    expect(patched.metadata.generation).toBe(2);
    const unknown = await api(triggerPath("mp"), { method: "PATCH", ...json({ spec: { subscribr: {} } }, MERGE) });
    expect(unknown.status).toBe(400);
    expect(((await unknown.json()) as any).message).toContain('unknown field "spec.subscribr" (did you mean "subscriber"?)');
    expect((await api(triggerPath("mp"), { method: "PATCH", ...json({}, "application/strategic-merge-patch+json") })).status).toBe(415);
    expect((await api(triggerPath("absent"), { method: "PATCH", ...json({}, MERGE) })).status).toBe(404);
  });

  it("refuses a write computed from a stale resourceVersion with 409, and stores nothing on dryRun=All", async () => {
    const t = await create("rv");
    const stale = await api(triggerPath("rv"), { method: "PUT", ...json({ ...t, metadata: { ...t.metadata, resourceVersion: "1" } }) });
    expect(stale.status).toBe(409);
    expect(await stale.json()).toMatchObject({ reason: "Conflict", message: expect.stringContaining("the object has been modified") });
    const dry = await api(`${triggerPath("rv")}?dryRun=All`, { method: "PATCH", ...json({ spec: { subscriber: { uri: "https://dry.example/" } } }, MERGE) });
    expect(dry.status).toBe(200);
    expect(((await dry.json()) as any).spec.subscriber.uri).toBe("https://dry.example/");
    expect(((await (await api(triggerPath("rv"))).json()) as any).spec.subscriber.uri).toBe("https://a.example/");
    expect((await api(`${triggerPath("rv")}?dryRun=Some`, { method: "DELETE" })).status).toBe(400);
    expect((await api(`${triggerPath("rv")}?dryRun=All`, { method: "DELETE" })).status).toBe(200);
    expect((await api(triggerPath("rv"))).status).toBe(200);
  });

  it("applies server-side with field managers: conflicts name the field and the owner, force takes it over", async () => {
    await create("ssa");
    const applied = (uri: string) => ({
      apiVersion: "eventing.knative.dev/v1",
      kind: "Trigger",
      metadata: { name: "ssa" },
      spec: { broker: "default", subscriber: { uri } },
    });
    expect((await api(triggerPath("ssa"), { method: "PATCH", ...json(applied("https://c.example/"), APPLY) })).status).toBe(400); // no fieldManager
    const conflict = await api(`${triggerPath("ssa")}?fieldManager=ci`, { method: "PATCH", ...json(applied("https://c.example/"), APPLY) });
    expect(conflict.status).toBe(409);
    expect(await conflict.json()).toMatchObject({
      reason: "Conflict",
      details: { causes: [{ reason: "FieldManagerConflict", field: ".spec.subscriber.uri", message: 'conflict with "setup"' }] },
    });
    const forced = await api(`${triggerPath("ssa")}?fieldManager=ci&force=true`, { method: "PATCH", ...json(applied("https://c.example/"), APPLY) });
    expect(forced.status).toBe(200);
    const object = (await forced.json()) as any;
    expect(object.spec.subscriber.uri).toBe("https://c.example/");
    expect(object.metadata.managedFields.map((e: any) => [e.manager, e.operation])).toEqual([
      ["setup", "Update"],
      ["ci", "Apply"],
    ]);
  });

  it("answers Tables with printer columns, filters by labels, and refuses a selector it cannot parse", async () => {
    await create("tab");
    await api(triggerPath("tab"), { method: "PATCH", ...json({ metadata: { labels: { app: "tab" } } }, MERGE) });
    const r = await api(`${resourcePath(NS, "triggers")}?labelSelector=app%3Dtab`, {
      headers: { accept: "application/json;as=Table;v=v1;g=meta.k8s.io,application/json" },
    });
    const table = (await r.json()) as any;
    expect(table.kind).toBe("Table");
    expect(table.columnDefinitions.map((c: any) => c.name)).toEqual(["Name", "Broker", "Subscriber_URI", "Age", "Ready", "Reason"]);
    expect(table.rows.map((row: any) => row.cells.slice(0, 3))).toEqual([["tab", "default", "https://a.example/"]]);
    expect((await api(`${resourcePath(NS, "triggers")}?labelSelector=app%3D%3D%3D`)).status).toBe(400);
  });

  it("streams ADDED, MODIFIED and DELETED events to a watch", async () => {
    await create("w");
    const r = await api(`${resourcePath(NS, "triggers")}?watch=true&fieldSelector=metadata.name%3Dw`);
    const reader = r.body!.pipeThrough(new TextDecoderStream()).getReader();
    const events: { type: string; object: any }[] = [];
    let buffer = "";
    const next = async () => {
      while (!buffer.includes("\n")) buffer += (await reader.read()).value ?? "";
      const line = buffer.slice(0, buffer.indexOf("\n"));
      buffer = buffer.slice(buffer.indexOf("\n") + 1);
      events.push(JSON.parse(line));
      return events.at(-1)!;
    };
    expect(await next()).toMatchObject({ type: "ADDED", object: { metadata: { name: "w" } } });
    await api(triggerPath("w"), { method: "PATCH", ...json({ spec: { subscriber: { uri: "https://w.example/" } } }, MERGE) });
    expect(await next()).toMatchObject({ type: "MODIFIED", object: { spec: { subscriber: { uri: "https://w.example/" } } } });
    await api(triggerPath("w"), { method: "DELETE" });
    expect(await next()).toMatchObject({ type: "DELETED", object: { metadata: { name: "w" } } });
    await reader.cancel();
  });
  it("merge-patches and applies nested objects that a Durable Object call carries (a JobSink's Job template)", async () => {
    const path = "/apis/sinks.knative.dev/v1alpha1/namespaces/kube/jobsinks/nested";
    const job = (image: string) => ({
      apiVersion: "batch/v1",
      kind: "Job",
      spec: { template: { spec: { containers: [{ name: "main", image }], restartPolicy: "Never" } } },
    });
    const sink = { apiVersion: "sinks.knative.dev/v1alpha1", kind: "JobSink", metadata: { name: "nested" }, spec: { job: job("v1") } };
    expect((await api(path, { method: "PUT", ...json(sink) })).status).toBe(201);
    const merged = await api(path, {
      method: "PATCH",
      ...json({ spec: { job: { spec: { template: { spec: { containers: [{ name: "main", image: "v2" }] } } } } } }, MERGE),
    });
    expect(merged.status, await merged.clone().text()).toBe(200);
    expect(((await merged.json()) as any).spec.job.spec.template.spec).toEqual({ containers: [{ name: "main", image: "v2" }], restartPolicy: "Never" });
    const applied = await api(`${path}?fieldManager=ci&force=true`, {
      method: "PATCH",
      body: JSON.stringify({ ...sink, spec: { job: job("v3") } }),
      headers: { "content-type": APPLY },
    });
    expect(applied.status, await applied.clone().text()).toBe(200);
    expect(((await applied.json()) as any).spec.job.spec.template.spec.containers).toEqual([{ name: "main", image: "v3" }]);
  });
});
