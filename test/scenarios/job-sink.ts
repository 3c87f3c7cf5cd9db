/**
 * JobSink and KubernetesCluster as a user sees them, written once and run inside workerd
 * (test/workers/job-sink.test.ts) and over real HTTP against `wrangler dev` (test/e2e/job-sink.test.ts),
 * against the fake Kubernetes API (test/fakes/kubernetes-api.ts): a Job per event with the event
 * mounted, its immutable Secret, one Job for the same event twice, the Location's answers while the Job
 * runs, once it completed and once it failed, the ingress token, a Trigger delivering to a JobSink, and a
 * cluster refusing the Job (retried, then dead-lettered). Waits are on what the router answers, never sleeps.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { jobName } from "../../shared/kubernetes/job-sink.ts";
import { auth, binaryEvent, broker, eventually, receivedAtLeast, resourcePath, script, trigger } from "../support/client.ts";
import { applyManifest } from "../support/manifests.ts";
import type { Harness } from "./delivery.ts";

export interface JobSinkHarness extends Harness {
  /** The router's base URL as its addresses show it. */
  baseUrl(): string;
  kubernetesUrl(): string;
  /** The ServiceAccount token the fake API server takes (the router's SECRET_K8S_TOKEN). */
  kubernetesToken(): string;
  /** The object the fake API server stores at a path, or null (none yet). */
  object(path: string): Promise<any>;
  /** The requests the fake API server received at exactly this path. */
  requests(path: string): Promise<{ method: string; path: string; body: string }[]>;
  /** A ResourceQuota of `count/jobs.batch` in a namespace. */
  setJobQuota(namespace: string, jobs: number): Promise<void>;
}

export const clusterPath = (ns: string, name: string) => `/apis/edge-eventing.dev/v1alpha1/namespaces/${ns}/kubernetesclusters/${name}`;
export const jobSinkPath = (ns: string, name: string) => `/apis/sinks.knative.dev/v1alpha1/namespaces/${ns}/jobsinks/${name}`;
const jobPath = (ns: string, name: string) => `/apis/batch/v1/namespaces/${ns}/jobs/${name}`;
const secretPath = (ns: string, name: string) => `/api/v1/namespaces/${ns}/secrets/${name}`;
const ready = (m: any) => m.status?.conditions?.find((c: any) => c.type === "Ready");

/** A KubernetesCluster reaching the fake API server with the Worker secret `token`. */
export const kubernetesCluster = (name: string, url: string, token = "SECRET_K8S_TOKEN") => ({
  apiVersion: "edge-eventing.dev/v1alpha1",
  kind: "KubernetesCluster",
  metadata: { name },
  spec: { url, secretKeyRef: { name: token } },
});

export function jobSinkScenarios(h: JobSinkHarness, NS: string): void {
  const apply = (path: string, body: unknown) => applyManifest(h.fetch, path, body);
  const get = async (path: string) => (await (await h.fetch(path, { headers: auth })).json()) as any;
  const cluster = (name: string) => kubernetesCluster(name, h.kubernetesUrl());
  /** A JobSink whose Jobs run two containers for `durationMs`, ending with `exitCode`. */
  const jobSink = (name: string, opts: { cluster?: string; durationMs?: number; exitCode?: number; annotations?: Record<string, string> } = {}) => ({
    apiVersion: "sinks.knative.dev/v1alpha1",
    kind: "JobSink",
    metadata: { name, annotations: { "edge-eventing.dev/cluster": opts.cluster ?? "k8s", ...opts.annotations } },
    spec: {
      job: {
        apiVersion: "batch/v1",
        kind: "Job",
        metadata: { labels: { app: "transcode" } },
        spec: {
          completions: 1,
          parallelism: 1,
          template: {
            spec: {
              restartPolicy: "Never",
              containers: [
                {
                  name: "main",
                  image: "docker.io/library/bash:5",
                  command: ["cat", "/etc/jobsink-event/event"],
                  env: [
                    { name: "FAKE_JOB_DURATION_MS", value: String(opts.durationMs ?? 1500) },
                    { name: "FAKE_JOB_EXIT_CODE", value: String(opts.exitCode ?? 0) },
                  ],
                },
                { name: "sidecar", image: "docker.io/library/busybox:1" },
              ],
            },
          },
        },
      },
    },
  });
  const post = (ns: string, name: string, id: string, source = "/cameras/7", extra: Record<string, string> = {}) =>
    h.fetch(`/jobsinks/${ns}/${name}`, { ...binaryEvent(id, "video.uploaded", { "ce-source": source, ...extra }, '{"file":"clip.mp4"}') });

  beforeAll(async () => {
    await apply(clusterPath(NS, "k8s"), cluster("k8s"));
  });

  describe("KubernetesCluster and JobSink", () => {
    it("a JobSink is Ready once the KubernetesCluster it names exists, and has Knative's address and job selector", async () => {
      let js = await apply(jobSinkPath(NS, "waiting"), jobSink("waiting", { cluster: "later" }));
      expect(ready(js)).toMatchObject({
        status: "False",
        reason: "KubernetesClusterNotFound",
        message: `KubernetesCluster "later" does not exist in namespace "${NS}"`,
      });
      expect(js.status.address.url).toBe(`${h.baseUrl()}/jobsinks/${NS}/waiting`);
      expect(js.status.job.selector).toBe("sinks.knative.dev/job-sink-name=waiting");
      const refused = await post(NS, "waiting", "w-1");
      expect(refused.status).toBe(500);
      expect(refused.headers.get("reason")).toContain('KubernetesCluster "later" does not exist');

      await apply(clusterPath(NS, "later"), cluster("later"));
      js = await get(jobSinkPath(NS, "waiting"));
      expect(ready(js)).toMatchObject({ status: "True", reason: "JobSinkReady" });
      const table = (await (
        await h.fetch(jobSinkPath(NS, "waiting"), { headers: { ...auth, accept: "application/json;as=Table;v=v1;g=meta.k8s.io" } })
      ).json()) as any;
      expect(table.columnDefinitions.map((c: any) => c.name)).toEqual(["Name", "URL", "Age", "Ready", "Reason"]);
      expect(table.rows[0].cells).toEqual(["waiting", `${h.baseUrl()}/jobsinks/${NS}/waiting`, expect.any(String), "True", ""]);
    });

    it("makes one Job per event with the event mounted from its immutable Secret, and the same event twice is one Job", async () => {
      await apply(jobSinkPath(NS, "transcode"), jobSink("transcode"));
      const r = await post(NS, "transcode", "evt-1");
      expect(r.status, await r.clone().text()).toBe(202);
      expect(r.headers.get("location")).toBe(`/jobsinks/namespaces/${NS}/name/transcode/sources/%2Fcameras%2F7/ids/evt-1`);
      const name = jobName("transcode", "/cameras/7", "evt-1");
      expect(((await r.json()) as any).job).toBe(name);

      const job = await h.object(jobPath(NS, name));
      expect(job.metadata.labels).toEqual({ app: "transcode", "sinks.knative.dev/job-sink-id": name, "sinks.knative.dev/job-sink-name": "transcode" });
      expect(job.metadata.ownerReferences).toBeUndefined();
      const pod = job.spec.template.spec;
      expect(pod.volumes).toEqual([{ name: "jobsink-event", secret: { secretName: name } }]);
      for (const c of pod.containers) {
        expect(c.volumeMounts).toEqual([{ name: "jobsink-event", readOnly: true, mountPath: "/etc/jobsink-event" }]);
        expect(c.env).toContainEqual({ name: "K_EVENT_PATH", value: "/etc/jobsink-event" });
        expect(c.env).toContainEqual({ name: "KNATIVE_EXECUTION_MODE", value: "batch" });
      }

      const secret = await h.object(secretPath(NS, name));
      expect(secret).toMatchObject({ type: "Opaque", immutable: true, metadata: { labels: { "sinks.knative.dev/job-sink-id": name } } });
      expect(secret.metadata.ownerReferences).toEqual([
        { apiVersion: "batch/v1", kind: "Job", name, uid: job.metadata.uid, controller: true, blockOwnerDeletion: false },
      ]);
      expect(Object.keys(secret.data)).toEqual(["event"]);
      const event = JSON.parse(atob(secret.data.event));
      expect(event).toMatchObject({ specversion: "1.0", id: "evt-1", source: "/cameras/7", type: "video.uploaded", data: { file: "clip.mp4" } });

      // The Secret cannot change, as the API server keeps an immutable one.
      const rewrite = await fetch(`${h.kubernetesUrl()}${secretPath(NS, name)}`, {
        method: "PUT",
        headers: { authorization: `Bearer ${h.kubernetesToken()}`, "content-type": "application/json" },
        body: JSON.stringify({ ...secret, data: { event: btoa("{}") } }),
      });
      expect(rewrite.status).toBe(422);

      // The same event again: 202 with the same Location, no second Job (the create met 409 AlreadyExists).
      const again = await post(NS, "transcode", "evt-1");
      expect(again.status).toBe(202);
      expect(again.headers.get("location")).toBe(r.headers.get("location"));
      expect((await h.requests(`/apis/batch/v1/namespaces/${NS}/jobs`)).filter((q) => JSON.parse(q.body).metadata.name === name)).toHaveLength(2);
      expect((await h.object(jobPath(NS, name))).metadata.uid).toBe(job.metadata.uid);
      const metrics = async () =>
        (await (await h.fetch("/metrics", { headers: auth })).text()).match(
          new RegExp(`edge_eventing_jobsink_jobs_created_total\\{namespace="${NS}",jobsink="transcode"\\} (\\d+)`),
        )?.[1];
      expect(await eventually(metrics, 5_000, "the Jobs created metric")).toBe("1");
    });

    it("answers the Location as Knative does: 202 while the Job runs, 200 Complete, and 400 Failed for a failed Job", async () => {
      // What the Location answers once the Job is no longer running.
      const settled = (location: string, what: string) =>
        eventually(
          async () => {
            const r = await h.fetch(location);
            return r.status !== 202 ? r : undefined;
          },
          15_000,
          what,
        );
      await apply(jobSinkPath(NS, "ok"), jobSink("ok", { durationMs: 3000 }));
      await apply(jobSinkPath(NS, "broken"), jobSink("broken", { durationMs: 300, exitCode: 1 }));
      const location = (await post(NS, "ok", "a-1", "https://example.com/src")).headers.get("location")!;
      const running = await h.fetch(location);
      expect(running.status).toBe(202);
      expect(running.headers.get("location")).toBe(location);
      const done = await settled(location, "the Job to complete");
      expect(done.status).toBe(200);
      expect(done.headers.get("reason")).toBe("Complete");

      const failing = (await post(NS, "broken", "b-1")).headers.get("location")!;
      const failed = await settled(failing, "the Job to fail");
      expect(failed.status).toBe(400);
      expect(failed.headers.get("reason")).toBe("Failed");

      // No Job for an event it never got.
      expect((await h.fetch(`/jobsinks/namespaces/${NS}/name/ok/sources/x/ids/never`)).status).toBe(404);
      expect((await post(NS, "nope", "n-1")).status).toBe(404);
    });

    it("with the ingress-token annotation, the address and its Locations need the token", async () => {
      await apply(jobSinkPath(NS, "guarded"), jobSink("guarded", { annotations: { "edge-eventing.dev/ingress-token-secret": "SECRET_INGRESS_TOKEN" } }));
      expect((await post(NS, "guarded", "g-1")).status).toBe(401);
      expect((await post(NS, "guarded", "g-1", "/cameras/7", { authorization: "Bearer wrong" })).status).toBe(403);
      const r = await post(NS, "guarded", "g-1", "/cameras/7", { authorization: "Bearer producer-secret" });
      expect(r.status).toBe(202);
      expect((await h.fetch(r.headers.get("location")!)).status).toBe(401);
      expect((await h.fetch(r.headers.get("location")!, { headers: { authorization: "Bearer producer-secret" } })).status).toBe(202);
    });

    it("is a Trigger's subscriber: each matching event becomes a Job", async () => {
      await apply(resourcePath(NS, "brokers", "default"), broker("default"));
      await apply(jobSinkPath(NS, "from-trigger"), jobSink("from-trigger"));
      const t = await apply(
        resourcePath(NS, "triggers", "to-jobs"),
        trigger("to-jobs", {
          broker: "default",
          filter: { attributes: { type: "video.uploaded" } },
          subscriber: { ref: { apiVersion: "sinks.knative.dev/v1alpha1", kind: "JobSink", name: "from-trigger" } },
        }),
      );
      expect(t.status.subscriberUri).toBe(`${h.baseUrl()}/jobsinks/${NS}/from-trigger`);
      const sent = await h.fetch(`/${NS}/default`, binaryEvent("t-1", "video.uploaded", { "ce-source": "/cameras/9" }));
      expect(sent.status).toBe(202);
      const job = await eventually(async () => (await h.object(jobPath(NS, jobName("from-trigger", "/cameras/9", "t-1")))) ?? undefined, 10_000, "the Job");
      expect(job.spec.template.spec.containers[0].env).toContainEqual({ name: "K_EVENT_PATH", value: "/etc/jobsink-event" });
    });

    it("a cluster that refuses the Job fails the delivery: retried, then dead-lettered", async () => {
      const ns = `${NS}-quota`;
      await h.setJobQuota(ns, 0);
      await apply(clusterPath(ns, "k8s"), cluster("k8s"));
      await apply(resourcePath(ns, "brokers", "default"), broker("default"));
      await apply(jobSinkPath(ns, "quota"), jobSink("quota"));
      await script(h.subscriber(), `/${ns}-dead`, [{ status: 200 }]);
      await apply(
        resourcePath(ns, "triggers", "refused"),
        trigger("refused", {
          broker: "default",
          subscriber: { ref: { apiVersion: "sinks.knative.dev/v1alpha1", kind: "JobSink", name: "quota" } },
          delivery: { retry: 2, backoffPolicy: "linear", backoffDelay: "PT0.2S", deadLetterSink: { uri: `${h.subscriber()}/${ns}-dead` } },
        }),
      );
      await h.fetch(`/${ns}/default`, binaryEvent("q-1", "video.uploaded"));
      const [dead] = await receivedAtLeast(h.subscriber(), `/${ns}-dead`, 1, 30_000);
      expect(dead.headers["ce-id"]).toBe("q-1");
      expect(dead.headers["ce-knativeerrorcode"]).toBe("500");
      expect(atob(dead.headers["ce-knativeerrordata"])).toContain("exceeded quota");
      expect(await h.requests(`/apis/batch/v1/namespaces/${ns}/jobs`)).toHaveLength(3);
    });
  });
}
