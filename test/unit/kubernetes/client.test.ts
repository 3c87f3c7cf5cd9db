import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { KubernetesApiError } from "../../../shared/kubernetes/errors.ts";
import { KubernetesClient, MERGE_PATCH, type FetchLike } from "../../../shared/kubernetes/client.ts";
import { connectCluster } from "../../../shared/kubernetes/cluster.ts";
import { FakeKubernetesApi } from "../../fakes/kubernetes-api.ts";

const deployment = { apiVersion: "apps/v1", kind: "Deployment", name: "consumer", namespace: "shop" };
const ksvc = { apiVersion: "serving.knative.dev/v1", kind: "Service", name: "orders", namespace: "shop" };
const DEPLOY_PATH = "/apis/apps/v1/namespaces/shop/deployments/consumer";
const REV_PATH = "/apis/serving.knative.dev/v1/namespaces/shop/revisions/orders-00002";

let api: FakeKubernetesApi;
const client = (token = "t0k", f: FetchLike = fetch) => new KubernetesClient(f, { url: api.url, token });

beforeEach(async () => {
  api = await new FakeKubernetesApi({ token: "t0k" }).start();
  api.addWorkload("Deployment", "shop", "consumer", 2);
  api.addWorkload("StatefulSet", "shop", "ledger", 1);
  api.addKnativeService("shop", "orders", "orders-00002", 3);
});
afterEach(() => api.stop());

describe("Kubernetes actuation client against the fake API server", () => {
  it("reads and merge-patches the scale subresource of a Deployment", async () => {
    expect(await client().getScale(deployment)).toMatchObject({ replicas: 2, currentReplicas: 2 });
    const after = await client().setReplicas(deployment, 5);
    expect(after).toMatchObject({ replicas: 5, changed: true });
    const patch = api.requests.find((r) => r.method === "PATCH")!;
    expect(patch.path).toBe(`${DEPLOY_PATH}/scale`);
    expect(patch.headers["content-type"]).toBe(MERGE_PATCH);
    expect(patch.headers.authorization).toBe("Bearer t0k");
    expect(JSON.parse(patch.body).spec).toEqual({ replicas: 5 });
    expect(api.object(DEPLOY_PATH)!.spec.replicas).toBe(5);
  });

  it("scales a StatefulSet the same way", async () => {
    await client().setReplicas({ ...deployment, kind: "StatefulSet", name: "ledger" }, 0);
    expect(api.object("/apis/apps/v1/namespaces/shop/statefulsets/ledger")!.spec.replicas).toBe(0);
  });

  it("does not write when the replicas already match", async () => {
    expect(await client().setReplicas(deployment, 2)).toMatchObject({ changed: false });
    expect(api.requests.map((r) => r.method)).toEqual(["GET"]);
  });

  it("sets a Knative Service's floor on its latest ready Revision, leaving the Service template alone", async () => {
    const svcBefore = JSON.stringify(api.object("/apis/serving.knative.dev/v1/namespaces/shop/services/orders"));
    expect(await client().getScale(ksvc)).toMatchObject({ replicas: 0, currentReplicas: 3, revision: "orders-00002" });
    await client().setReplicas(ksvc, 4);
    expect(api.object(REV_PATH)!.metadata.annotations).toEqual({ "autoscaling.knative.dev/min-scale": "4" });
    expect(JSON.stringify(api.object("/apis/serving.knative.dev/v1/namespaces/shop/services/orders"))).toBe(svcBefore);
    const patch = api.requests.find((r) => r.method === "PATCH")!;
    expect([patch.path, patch.headers["content-type"]]).toEqual([REV_PATH, MERGE_PATCH]);
  });

  it("re-reads and retries when another writer changed the object (409)", async () => {
    let bumped = false;
    const racing: FetchLike = async (url, init) => {
      if (init.method === "PATCH" && !bumped) {
        bumped = true;
        api.touch(DEPLOY_PATH);
      }
      return fetch(url, init);
    };
    await client("t0k", racing).setReplicas(deployment, 7);
    expect(api.requests.map((r) => r.method)).toEqual(["GET", "PATCH", "GET", "PATCH"]);
    expect(api.object(DEPLOY_PATH)!.spec.replicas).toBe(7);
  });

  it("reports 401, 404 and a Service without a ready revision clearly", async () => {
    await expect(client("wrong").getScale(deployment)).rejects.toMatchObject({
      status: 401,
      reason: "Unauthorized",
      message: expect.stringContaining("secretKeyRef"),
    });
    await expect(client().getScale({ ...deployment, name: "gone" })).rejects.toMatchObject({
      status: 404,
      message: expect.stringContaining('deployments.apps "gone" not found'),
    });
    api.addKnativeService("shop", "fresh", null);
    await expect(client().getScale({ ...ksvc, name: "fresh" })).rejects.toThrow(/no ready revision/);
  });

  it("sends the Cloudflare Access service token and explains an Access redirect", async () => {
    await api.stop();
    api = await new FakeKubernetesApi({ token: "t0k", access: { clientId: "id.access", clientSecret: "s3cret" } }).start();
    api.addWorkload("Deployment", "shop", "consumer", 1);
    const err: unknown = await client()
      .getScale(deployment)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubernetesApiError);
    expect((err as Error).message).toMatch(/Cloudflare Access refused/);
    const ok = new KubernetesClient(fetch, { url: api.url, token: "t0k", access: { clientId: "id.access", clientSecret: "s3cret" } });
    expect(await ok.getScale(deployment)).toMatchObject({ replicas: 1 });
    expect(api.requests.at(-1)!.headers["cf-access-client-id"]).toBe("id.access");
  });
});

describe("fake API server protocol", () => {
  const patch = (path: string, type: string, body: unknown, token = "t0k") =>
    fetch(api.url + path, { method: "PATCH", headers: { "Content-Type": type, Authorization: `Bearer ${token}` }, body: JSON.stringify(body) });

  it("refuses strategic merge patch on a custom resource with 415 and a Status", async () => {
    const res = await patch(REV_PATH, "application/strategic-merge-patch+json", { metadata: { annotations: { a: "b" } } });
    expect(res.status).toBe(415);
    expect(await res.json()).toMatchObject({ kind: "Status", status: "Failure", reason: "UnsupportedMediaType", code: 415 });
  });

  it("accepts a JSON patch with ~1-escaped annotation keys and validates replicas with 422", async () => {
    const ok = await patch(REV_PATH, "application/json-patch+json", [
      { op: "add", path: "/metadata/annotations", value: {} },
      { op: "add", path: "/metadata/annotations/autoscaling.knative.dev~1min-scale", value: "2" },
    ]);
    expect(ok.status).toBe(200);
    expect(api.object(REV_PATH)!.metadata.annotations["autoscaling.knative.dev/min-scale"]).toBe("2");
    const bad = await patch(`${DEPLOY_PATH}/scale`, "application/merge-patch+json", { spec: { replicas: -1 } });
    expect(bad.status).toBe(422);
    expect(await bad.json()).toMatchObject({ kind: "Status", reason: "Invalid", code: 422 });
  });
});

describe("cluster connection from the Worker environment", () => {
  const conn = { url: "https://kubernetes.default.svc", secretKeyRef: { name: "SECRET_K8S_TOKEN" }, vpcService: "K8S_API" };

  it("routes through the Workers VPC binding with the token secret", async () => {
    const seen: string[] = [];
    const binding = {
      fetch: async (url: string) => {
        seen.push(url);
        return new Response("{}");
      },
    };
    const { fetch: f, credentials } = connectCluster(conn, { SECRET_K8S_TOKEN: "tok", K8S_API: binding });
    await f("https://kubernetes.default.svc/apis", {});
    expect([credentials.token, seen]).toEqual(["tok", ["https://kubernetes.default.svc/apis"]]);
  });

  it("names the missing secret or binding", () => {
    expect(() => connectCluster(conn, { K8S_API: { fetch } })).toThrow(/spec.cluster.secretKeyRef.name: Worker secret SECRET_K8S_TOKEN is not set/);
    expect(() => connectCluster(conn, { SECRET_K8S_TOKEN: "tok" })).toThrow(/no Workers VPC binding named K8S_API/);
  });
});
