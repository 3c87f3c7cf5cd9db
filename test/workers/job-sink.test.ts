/**
 * JobSink and KubernetesCluster inside workerd: the shared scenarios (test/scenarios/job-sink.ts) against
 * the fake Kubernetes API of the workers project, and a ScaledObject naming its KubernetesCluster, whose
 * Autoscaler's alarm is stepped by hand.
 */
import { runDurableObjectAlarm } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { describe, expect, inject, it } from "vitest";
import { runnerKey } from "../../durable-objects/runner.ts";
import { auth, broker, resourcePath, trigger } from "../support/client.ts";
import { clusterPath, jobSinkScenarios, kubernetesCluster } from "../scenarios/job-sink.ts";

const k8s = inject("kubernetesUrl");
const control = inject("kubernetesControlUrl");
const sub = inject("subscriberUrl");
const url = (path: string) => `http://router.test${path}`;
const fetchRouter = (path: string, init?: RequestInit) => exports.default.fetch(url(path), init);

jobSinkScenarios({
  fetch: fetchRouter,
  subscriber: () => sub,
  baseUrl: () => "http://router.test",
  kubernetesUrl: () => k8s,
  kubernetesToken: () => "k8s-test-token", // test/support/global-kubernetes.ts
  object: async (path) => {
    const r = await fetch(`${control}/object?path=${encodeURIComponent(path)}`);
    return r.status === 200 ? r.json() : null;
  },
  requests: async (path) => ((await (await fetch(`${control}/requests`)).json()) as { method: string; path: string; body: string }[]).filter((r) => r.path === path),
  setJobQuota: async (namespace, jobs) => {
    await fetch(`${control}/job-quota`, { method: "POST", body: JSON.stringify({ namespace, jobs }) });
  },
}, "jobs");

async function apply(path: string, body: unknown): Promise<any> {
  const r = await fetchRouter(path, { method: "PUT", headers: { ...auth, "content-type": "application/json" }, body: JSON.stringify(body) });
  expect(r.status, await r.clone().text()).toBeLessThan(300);
  return r.json();
}
const get = async (path: string) => (await (await fetchRouter(path, { headers: auth })).json()) as any;
const ready = (m: any) => m.status?.conditions?.find((c: any) => c.type === "Ready");
const cluster = (name: string, token?: string) => kubernetesCluster(name, k8s, token);

describe("a ScaledObject naming its KubernetesCluster", () => {
  it("a ScaledObject that names a missing KubernetesCluster is not Ready; creating or changing the cluster pushes it again", async () => {
    const ns = "jobs-scale";
    await fetch(`${control}/workloads`, { method: "POST", body: JSON.stringify({ namespace: ns, kind: "Deployment", name: "worker", replicas: 1 }) });
    await apply(resourcePath(ns, "brokers", "default"), broker("default"));
    await apply(resourcePath(ns, "triggers", "work"), trigger("work", { broker: "default", subscriber: { uri: `${sub}/work` } }));
    const soPath = `/apis/keda.sh/v1alpha1/namespaces/${ns}/scaledobjects/worker`;
    const so = await apply(soPath, {
      apiVersion: "keda.sh/v1alpha1", kind: "ScaledObject", metadata: { name: "worker", annotations: { "edge-eventing.dev/cluster": "prod" } },
      spec: { pollingInterval: 1, minReplicaCount: 1, scaleTargetRef: { name: "worker" }, triggers: [{ type: "edge-eventing", metadata: { broker: "default", trigger: "work", metric: "backlog", target: "5" } }] },
    });
    expect(ready(so)).toMatchObject({ status: "False", reason: "KubernetesClusterNotFound" });

    const autoscaler = env.AUTOSCALER.getByName(runnerKey("ScaledObject", ns, "worker"));
    await apply(clusterPath(ns, "prod"), cluster("prod"));
    await runDurableObjectAlarm(autoscaler);
    expect(ready(await get(soPath))).toMatchObject({ status: "True" });

    // The cluster's token changes to one the API server refuses: the autoscaler uses the new connection.
    await apply(clusterPath(ns, "prod"), cluster("prod", "SECRET_K8S_WRONG_TOKEN"));
    await runDurableObjectAlarm(autoscaler);
    expect(ready(await get(soPath))).toMatchObject({ status: "False", reason: "Unauthorized" });
  });
});
