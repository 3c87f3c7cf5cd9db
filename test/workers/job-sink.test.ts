/**
 * JobSink and KubernetesCluster inside workerd: the shared scenarios (test/scenarios/job-sink.ts) against
 * the fake Kubernetes API of the workers project, a ScaledObject naming its KubernetesCluster (its
 * Autoscaler's alarm stepped by hand), and a JobSink as a webhook source's sink.
 */
import { runDurableObjectAlarm } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { describe, expect, inject, it } from "vitest";
import { runnerKey } from "../../clients/runner.ts";
import { auth, broker, eventually, resourcePath, trigger } from "../support/client.ts";
import { applyManifest } from "../support/manifests.ts";
import { standardWebhook } from "../support/standard-webhooks.ts";
import { jobName } from "../../shared/kubernetes/job-sink.ts";
import { clusterPath, jobSinkPath, jobSinkScenarios, kubernetesCluster } from "../scenarios/job-sink.ts";

const k8s = inject("kubernetesUrl");
const control = inject("kubernetesControlUrl");
const sub = inject("subscriberUrl");
const url = (path: string) => `http://router.test${path}`;
const fetchRouter = (path: string, init?: RequestInit) => exports.default.fetch(url(path), init);

jobSinkScenarios(
  {
    fetch: fetchRouter,
    subscriber: () => sub,
    baseUrl: () => "http://router.test",
    kubernetesUrl: () => k8s,
    kubernetesToken: () => "k8s-test-token", // test/support/global-kubernetes.ts
    object: async (path) => {
      const r = await fetch(`${control}/object?path=${encodeURIComponent(path)}`);
      return r.status === 200 ? r.json() : null;
    },
    requests: async (path) =>
      ((await (await fetch(`${control}/requests`)).json()) as { method: string; path: string; body: string }[]).filter((r) => r.path === path),
    setJobQuota: async (namespace, jobs) => {
      await fetch(`${control}/job-quota`, { method: "POST", body: JSON.stringify({ namespace, jobs }) });
    },
  },
  "jobs",
);

const apply = (path: string, body: unknown) => applyManifest(fetchRouter, path, body);
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
      apiVersion: "keda.sh/v1alpha1",
      kind: "ScaledObject",
      metadata: { name: "worker", annotations: { "edge-eventing.dev/cluster": "prod" } },
      spec: {
        pollingInterval: 1,
        minReplicaCount: 1,
        scaleTargetRef: { name: "worker" },
        triggers: [{ type: "edge-eventing", metadata: { broker: "default", trigger: "work", metric: "backlog", target: "5" } }],
      },
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

describe("a JobSink as a source's sink", () => {
  it("a WebhookSource's events become Jobs through the source's channel", async () => {
    const ns = "jobs-source";
    await apply(clusterPath(ns, "k8s"), cluster("k8s"));
    await apply(jobSinkPath(ns, "hooks"), {
      apiVersion: "sinks.knative.dev/v1alpha1",
      kind: "JobSink",
      metadata: { name: "hooks", annotations: { "edge-eventing.dev/cluster": "k8s" } },
      spec: { job: { spec: { template: { spec: { restartPolicy: "OnFailure", containers: [{ name: "main", image: "bash" }] } } } } },
    });
    const source = await apply(`/apis/sources.edge-eventing.dev/v1alpha1/namespaces/${ns}/webhooksources/std`, {
      apiVersion: "sources.edge-eventing.dev/v1alpha1",
      kind: "WebhookSource",
      metadata: { name: "std" },
      spec: {
        provider: "standard-webhooks",
        secretKeyRef: { name: "SECRET_STANDARD_WEBHOOK_SECRET" },
        timestampToleranceSeconds: 0,
        sink: { ref: { apiVersion: "sinks.knative.dev/v1alpha1", kind: "JobSink", name: "hooks" } },
      },
    });
    expect(source.status.sinkUri).toBe(`http://router.test/jobsinks/${ns}/hooks`);
    // The Standard Webhooks specification's own test vector (replayed with tolerance 0, as in webhooks.test.ts).
    const r = await fetchRouter(`/webhooks/${ns}/std`, { method: "POST", headers: standardWebhook.headers, body: standardWebhook.body });
    expect(r.status).toBe(200);
    const name = jobName("hooks", `/apis/v1/namespaces/${ns}/webhooksources/std`, standardWebhook.id);
    const job = await eventually(
      async () => {
        const o = await fetch(`${control}/object?path=${encodeURIComponent(`/apis/batch/v1/namespaces/${ns}/jobs/${name}`)}`);
        return o.status === 200 ? ((await o.json()) as any) : undefined;
      },
      10_000,
      "the Job",
    );
    expect(job.metadata.labels["sinks.knative.dev/job-sink-name"]).toBe("hooks");
  });
});
