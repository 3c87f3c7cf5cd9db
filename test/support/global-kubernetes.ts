/**
 * vitest globalSetup: the fake Kubernetes API for the workerd test files, plus a small control server
 * (tests in workerd cannot reach the Node object) on another port:
 *   POST /workloads        {kind: "Deployment" | "StatefulSet", namespace, name, replicas, options?: WorkloadOptions}
 *   POST /knative-services {namespace, name, revision}
 *   POST /job-quota        {namespace, jobs}: a ResourceQuota count/jobs.batch (null removes it)
 *   GET  /requests          -> every request the fake API received, oldest first
 *   GET  /object?path=P     -> the object the fake API stores at P (404 when none)
 *   GET  /gateway?namespace=N&name=W -> what the fake cluster's gateway saw for workload W (GatewayStats)
 */
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import type { TestProject } from "vitest/node";
import { FakeKubernetesApi } from "../fakes/kubernetes-api.ts";

declare module "vitest" {
  export interface ProvidedContext {
    kubernetesUrl: string;
    kubernetesControlUrl: string;
  }
}

/** The ServiceAccount token the fake accepts: the workers project's SECRET_K8S_TOKEN binding (vitest.config.ts). */
export const KUBERNETES_TOKEN = "k8s-test-token";

async function json(req: IncomingMessage): Promise<any> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString("utf8"));
}

export default async function setup(project: TestProject) {
  const api = await new FakeKubernetesApi({ token: KUBERNETES_TOKEN }).start();
  const control = createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    const send = (code: number, body?: unknown) =>
      res.writeHead(code, { "content-type": "application/json" }).end(body === undefined ? "" : JSON.stringify(body));
    try {
      if (req.method === "POST" && url.pathname === "/workloads") {
        const w = await json(req);
        api.addWorkload(w.kind, w.namespace, w.name, w.replicas, w.options);
        return send(204);
      }
      if (req.method === "POST" && url.pathname === "/knative-services") {
        const s = await json(req);
        api.addKnativeService(s.namespace, s.name, s.revision);
        return send(204);
      }
      if (req.method === "POST" && url.pathname === "/job-quota") {
        const q = await json(req);
        api.setJobQuota(q.namespace, q.jobs);
        return send(204);
      }
      if (url.pathname === "/requests") return send(200, api.requests);
      if (url.pathname === "/gateway") return send(200, api.gateway(url.searchParams.get("namespace") ?? "", url.searchParams.get("name") ?? ""));
      if (url.pathname === "/object") {
        const object = api.object(url.searchParams.get("path") ?? "");
        return object ? send(200, object) : send(404, { error: "no such object" });
      }
      send(404, { error: `unknown control path ${url.pathname}` });
    } catch (e) {
      send(400, { error: (e as Error).message });
    }
  });
  await new Promise<void>((resolve) => control.listen(0, "127.0.0.1", resolve));
  project.provide("kubernetesUrl", api.url);
  project.provide("kubernetesControlUrl", `http://127.0.0.1:${(control.address() as AddressInfo).port}`);
  return async () => {
    await new Promise<void>((resolve) => control.close(() => resolve()));
    await api.stop();
  };
}
