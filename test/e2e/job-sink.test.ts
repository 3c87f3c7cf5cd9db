/**
 * JobSink and KubernetesCluster over real HTTP against `wrangler dev` (its own alarms, nothing stepped by
 * hand): the shared scenarios (test/scenarios/job-sink.ts) against the fake Kubernetes API in this process.
 */
import { afterAll, beforeAll } from "vitest";
import { FakeKubernetesApi } from "../fakes/kubernetes-api.ts";
import { type RunningRouter, startRouter } from "../support/router.ts";
import { startSubscriber, type Subscriber } from "../support/subscriber.ts";
import { jobSinkScenarios } from "../scenarios/job-sink.ts";

const K8S_TOKEN = "k8s-e2e-token";
let router: RunningRouter;
let sub: Subscriber;
let k8s: FakeKubernetesApi;

beforeAll(async () => {
  [sub, k8s] = await Promise.all([startSubscriber(), new FakeKubernetesApi({ token: K8S_TOKEN }).start()]);
  router = await startRouter({ vars: { SECRET_K8S_TOKEN: K8S_TOKEN, SECRET_INGRESS_TOKEN: "producer-secret" } });
});
afterAll(async () => {
  await Promise.all([router?.stop(), sub?.close(), k8s?.stop()]);
});

jobSinkScenarios(
  {
    fetch: (path, init) => fetch(`${router.url}${path}`, init),
    subscriber: () => sub.url,
    baseUrl: () => router.url,
    kubernetesUrl: () => k8s.url,
    kubernetesToken: () => K8S_TOKEN,
    object: async (path) => k8s.object(path) ?? null,
    requests: async (path) => k8s.requests.filter((r) => r.path === path),
    setJobQuota: async (namespace, jobs) => k8s.setJobQuota(namespace, jobs),
  },
  "e2e-jobs",
);
