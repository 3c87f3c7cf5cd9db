import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { auth, broker, resourcePath, trigger } from "../support/client.ts";

const api = (path: string, init: RequestInit = {}) =>
  exports.default.fetch(`http://router.test${path}`, { ...init, headers: { ...auth, "content-type": "application/json", ...(init.headers ?? {}) } });
const put = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  api(path, { method: "PUT", body: typeof body === "string" ? body : JSON.stringify(body), headers });

describe("management API", () => {
  it("refuses every call without the admin token, or with a wrong one", async () => {
    for (const headers of [{}, { authorization: "Bearer wrong" }, { authorization: "Basic dGVzdC10b2tlbg==" }] as Record<string, string>[]) {
      const r = await exports.default.fetch(`http://router.test${resourcePath("default", "brokers")}`, { headers });
      expect(r.status).toBe(401);
      expect(await r.json()).toMatchObject({ kind: "Status", status: "Failure", reason: "Unauthorized", code: 401 });
    }
  });

  it("applies a Knative Broker from YAML and reports its address and Ready", async () => {
    const yaml = `apiVersion: eventing.knative.dev/v1
kind: Broker
metadata:
  name: default
  namespace: demo
  annotations:
    eventing.knative.dev/broker.class: MTChannelBasedBroker
spec:
  delivery:
    retry: 3
    backoffPolicy: exponential
    backoffDelay: PT0.2S
`;
    const created = await put(resourcePath("demo", "brokers", "default"), yaml, { "content-type": "application/yaml" });
    expect(created.status).toBe(201);
    const b = (await created.json()) as any;
    expect(b.metadata).toMatchObject({ name: "default", namespace: "demo", generation: 1 });
    expect(b.metadata.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(b.status.address.url).toBe("http://router.test/demo/default");
    expect(b.status.conditions).toContainEqual(expect.objectContaining({ type: "Ready", status: "True" }));

    const again = await put(resourcePath("demo", "brokers", "default"), yaml, { "content-type": "application/yaml" });
    expect(again.status).toBe(200);
    expect(((await again.json()) as any).metadata).toMatchObject({ generation: 1, uid: b.metadata.uid });

    const list = (await (await api(resourcePath("demo", "brokers"))).json()) as any;
    expect(list).toMatchObject({ apiVersion: "eventing.knative.dev/v1", kind: "BrokerList" });
    expect(list.items.map((i: any) => i.metadata.name)).toEqual(["default"]);
  });

  it("stores a trigger whose broker is missing as not Ready, and makes it Ready when the broker appears", async () => {
    const t = trigger("t1", { broker: "later", subscriber: { ref: { apiVersion: "serving.knative.dev/v1", kind: "Service", name: "svc" } } });
    const r = await put(resourcePath("ns1", "triggers", "t1"), t);
    expect(r.status).toBe(201);
    const body = (await r.json()) as any;
    expect(body.status.conditions[0]).toMatchObject({ type: "Ready", status: "False", reason: "BrokerDoesNotExist" });
    expect(body.status.subscriberUri).toBe("https://svc.ns1.example.com");

    await put(resourcePath("ns1", "brokers", "later"), broker("later"));
    const now = (await (await api(resourcePath("ns1", "triggers", "t1"))).json()) as any;
    expect(now.status.conditions[0]).toMatchObject({ type: "Ready", status: "True" });
  });

  it("resolves a Service ref to the host the k8s.aliyun.com/domain annotation names (the whole host, as in Alibaba's manifests)", async () => {
    const t = trigger(
      "ali",
      { broker: "b", subscriber: { ref: { apiVersion: "serving.knative.dev/v1", kind: "Service", name: "asr" }, uri: "/events" } },
      { "k8s.aliyun.com/domain": "asr.live.ack.example.cn" },
    );
    const body = (await (await put(resourcePath("live", "triggers", "ali"), t)).json()) as any;
    expect(body.status.subscriberUri).toBe("https://asr.live.ack.example.cn/events");
  });

  it("refuses an invalid trigger with every cause and stores nothing", async () => {
    const bad = trigger("bad", {
      broker: "",
      subscriber: { uri: "not a url" },
      filters: [{ exact: { type: "a" }, prefix: { source: "b" } }, { exact: { "Bad-Name": "x" } }],
      delivery: { retry: -1, backoffPolicy: "fibonacci", backoffDelay: "soon", timeout: "PT0S" },
    });
    const r = await put(resourcePath("default", "triggers", "bad"), bad);
    expect(r.status).toBe(422);
    const s = (await r.json()) as any;
    expect(s).toMatchObject({ kind: "Status", reason: "Invalid", code: 422 });
    const fields = s.details.causes.map((c: any) => c.field);
    expect(fields).toEqual(
      expect.arrayContaining([
        "spec.broker",
        "spec.subscriber.uri",
        "spec.filters[0]",
        "spec.filters[1].exact.Bad-Name",
        "spec.delivery.retry",
        "spec.delivery.backoffPolicy",
        "spec.delivery.backoffDelay",
        "spec.delivery.timeout",
      ]),
    );
    expect((await api(resourcePath("default", "triggers", "bad"))).status).toBe(404);
  });

  it("refuses to move a trigger to another broker, as Knative does (spec.broker is immutable)", async () => {
    const path = resourcePath("imm", "triggers", "t");
    const t = (b: string) => trigger("t", { broker: b, subscriber: { uri: "https://svc.example/x" } });
    expect((await put(path, t("one"))).status).toBe(201);
    const moved = await put(path, t("two"));
    expect(moved.status).toBe(422);
    expect(((await moved.json()) as any).details.causes).toEqual([{ field: "spec.broker", message: 'is immutable (was "one")' }]);
    expect(((await (await api(path)).json()) as any).spec.broker).toBe("one");
  });

  it("answers 409 to a create of an existing name, 404 to unknown kinds and names, and deletes", async () => {
    const path = resourcePath("c", "brokers");
    expect((await api(path, { method: "POST", body: JSON.stringify(broker("x")) })).status).toBe(201);
    const dup = await api(path, { method: "POST", body: JSON.stringify(broker("x")) });
    expect(dup.status).toBe(409);
    expect(await dup.json()).toMatchObject({ reason: "AlreadyExists" });
    expect((await api("/apis/eventing.knative.dev/v1/namespaces/c/widgets")).status).toBe(404);
    expect((await api(resourcePath("c", "brokers", "nope"))).status).toBe(404);
    const del = await api(resourcePath("c", "brokers", "x"), { method: "DELETE" });
    expect(del.status).toBe(200);
    expect((await api(resourcePath("c", "brokers", "x"))).status).toBe(404);
  });

  it("answers a bad body with a 400 Status and a name mismatch with 422", async () => {
    const r = await put(resourcePath("d", "brokers", "b"), "{not json");
    expect(r.status).toBe(400);
    expect(await r.json()).toMatchObject({ kind: "Status", reason: "BadRequest" });
    const m = await put(resourcePath("d", "brokers", "b"), broker("other"));
    expect(m.status).toBe(422);
    expect(((await m.json()) as any).details.causes[0].field).toBe("metadata.name");
  });
});
