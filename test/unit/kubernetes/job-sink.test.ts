/** JobSink: Knative's job naming, the Job and Secret built for an event, the Location, and manifest validation. */
import { describe, expect, it } from "vitest";
import { checkSchema } from "../../../shared/resources/schema.ts";
import { schemaOf } from "../../../shared/resources/schemas.ts";
import { kindByName } from "../../../shared/resources/kinds.ts";
import { validateScaledObject } from "../../../shared/autoscaling/scaled-object.ts";
import { buildJob, buildSecret, jobLocation, jobName, jobState } from "../../../shared/kubernetes/job-sink.ts";
import type { Manifest } from "../../../shared/resources/manifest.ts";
import { resolveDestination, targetUrl, validateDestination } from "../../../shared/resources/destination.ts";

const manifest = (kind: string, spec: unknown, annotations: Record<string, string> = {}): Manifest => ({
  apiVersion: "x/v1",
  kind,
  metadata: { name: "n", namespace: "ns", annotations },
  spec: spec as Record<string, unknown>,
});
const validJob = { spec: { template: { spec: { restartPolicy: "Never", containers: [{ name: "main", image: "bash" }] } } } };

describe("job names", () => {
  // Expected values computed independently (Python hashlib) from Knative's rule: ChildName(jobsink + "-", md5hex(source + id)).
  it("follows Knative's toJobName", () => {
    expect(jobName("job-sink-success", "mysource3/myservice", "2234-5678")).toBe("job-sink-success-e2b3f124476038e1072e9ad8c62506e5");
    expect(jobName("a", "0", "0")).toBe("a-b4b147bc522828731f1a016bfa72c073");
  });

  it("cuts a long JobSink name as kmeta.ChildName does, to a 63-character DNS label", () => {
    const name = jobName("a-very-long-jobsink-name-that-goes-past-thirty", "/s", "1");
    expect(name).toBe("a-very-long-jobsink-name-that-gcfd7ceed299371f4d0df257333ceefd3");
    expect(name).toMatch(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/);
  });

  it("depends on source and id only", () => {
    expect(jobName("js", "/a", "1")).toBe(jobName("js", "/a", "1"));
    expect(jobName("js", "/a", "1")).not.toBe(jobName("js", "/a", "2"));
  });
});

describe("the Job of an event", () => {
  it("mounts the event into every container, keeps a mount the template already has, and adds the volume once", () => {
    const template = {
      metadata: { name: "ignored", uid: "u", ownerReferences: [{ kind: "X" }], labels: { app: "t" } },
      spec: {
        template: {
          spec: {
            restartPolicy: "Never",
            initContainers: [{ name: "init", image: "i" }],
            containers: [
              { name: "a", image: "a", env: [{ name: "KNATIVE_EXECUTION_MODE", value: "custom" }] },
              { name: "b", image: "b", volumeMounts: [{ name: "jobsink-event", mountPath: "/custom" }] },
            ],
          },
        },
      },
    };
    const job = buildJob(template, "ns", "js", "js-abc");
    expect(job.metadata).toEqual({
      name: "js-abc",
      namespace: "ns",
      labels: { app: "t", "sinks.knative.dev/job-sink-id": "js-abc", "sinks.knative.dev/job-sink-name": "js" },
    });
    const pod = job.spec.template.spec;
    expect(pod.initContainers[0].env).toEqual([{ name: "KNATIVE_EXECUTION_MODE", value: "batch" }]);
    expect(pod.initContainers[0].volumeMounts).toBeUndefined();
    expect(pod.containers[0].env).toEqual([
      { name: "KNATIVE_EXECUTION_MODE", value: "custom" },
      { name: "K_EVENT_PATH", value: "/etc/jobsink-event" },
    ]);
    expect(pod.containers[0].volumeMounts).toEqual([{ name: "jobsink-event", readOnly: true, mountPath: "/etc/jobsink-event" }]);
    expect(pod.containers[1].volumeMounts).toEqual([{ name: "jobsink-event", mountPath: "/custom" }]);
    expect(pod.containers[1].env).toContainEqual({ name: "K_EVENT_PATH", value: "/custom" });
    expect(pod.volumes).toEqual([{ name: "jobsink-event", secret: { secretName: "js-abc" } }]);
    // The template itself is left as it was.
    expect(template.spec.template.spec.containers[1]).toEqual({ name: "b", image: "b", volumeMounts: [{ name: "jobsink-event", mountPath: "/custom" }] });
  });

  it("keeps the event in an immutable Opaque Secret under the key event, owned by its Job", () => {
    const secret = buildSecret("ns", "js", "js-abc", '{"id":"é"}', { uid: "job-uid" });
    expect(secret).toMatchObject({ apiVersion: "v1", kind: "Secret", immutable: true, type: "Opaque", metadata: { name: "js-abc", namespace: "ns" } });
    expect(new TextDecoder().decode(Uint8Array.from(atob(secret.data.event), (c) => c.charCodeAt(0)))).toBe('{"id":"é"}');
    expect(secret.metadata.ownerReferences).toEqual([
      { apiVersion: "batch/v1", kind: "Job", name: "js-abc", uid: "job-uid", controller: true, blockOwnerDeletion: false },
    ]);
  });

  it("reads the state from the Job's conditions, Failed first", () => {
    expect(jobState({ status: { active: 1 } })).toBe("Running");
    expect(
      jobState({
        status: {
          conditions: [
            { type: "SuccessCriteriaMet", status: "True" },
            { type: "Complete", status: "True" },
          ],
        },
      }),
    ).toBe("Complete");
    expect(
      jobState({
        status: {
          conditions: [
            { type: "FailureTarget", status: "True" },
            { type: "Failed", status: "True" },
          ],
        },
      }),
    ).toBe("Failed");
    expect(jobState({ status: { conditions: [{ type: "Complete", status: "False" }] } })).toBe("Running");
  });

  it("percent-encodes source and id in the Location", () => {
    expect(jobLocation("ns", "js", "https://example.com/a b", "1/2")).toBe(
      "/jobsinks/namespaces/ns/name/js/sources/https%3A%2F%2Fexample.com%2Fa%20b/ids/1%2F2",
    );
  });
});

describe("JobSink and KubernetesCluster manifests", () => {
  const jobSink = kindByName("JobSink")!;
  const cluster = kindByName("KubernetesCluster")!;

  it("a JobSink needs a Job whose pods can run as a Job", () => {
    expect(jobSink.validate(manifest("JobSink", { job: validJob }))).toEqual([]);
    expect(jobSink.validate(manifest("JobSink", {}))).toEqual([{ field: "spec.job", message: "is required: the batch/v1 Job each event becomes" }]);
    expect(
      jobSink
        .validate(manifest("JobSink", { job: { apiVersion: "batch/v2", kind: "CronJob", spec: { template: { spec: { containers: [{ name: "Main" }] } } } } }))
        .map((c) => c.field),
    ).toEqual([
      "spec.job.apiVersion",
      "spec.job.kind",
      "spec.job.spec.template.spec.containers[0].name",
      "spec.job.spec.template.spec.containers[0].image",
      "spec.job.spec.template.spec.restartPolicy",
    ]);
    expect(jobSink.validate(manifest("JobSink", { job: { spec: { template: { spec: { restartPolicy: "Never", containers: [] } } } } }))).toEqual([
      { field: "spec.job.spec.template.spec.containers", message: "must list at least one container" },
    ]);
  });

  it("a JobSink's annotations name a KubernetesCluster and a Worker secret", () => {
    const causes = jobSink.validate(
      manifest("JobSink", { job: validJob }, { "edge-eventing.dev/cluster": "Not_A_Name", "edge-eventing.dev/ingress-token-secret": "ADMIN_TOKEN" }),
    );
    expect(causes.map((c) => c.field)).toEqual([
      "metadata.annotations.edge-eventing.dev/cluster",
      "metadata.annotations.edge-eventing.dev/ingress-token-secret",
    ]);
  });

  it("a JobSink's fields are strict up to the Job's spec, which the API server checks", () => {
    const found = checkSchema(
      {
        apiVersion: "sinks.knative.dev/v1alpha1",
        kind: "JobSink",
        metadata: { name: "j" },
        spec: { job: { ...validJob, metdata: {}, spec: { ...validJob.spec, anything: 1 } }, jobs: {} },
      },
      schemaOf("JobSink", "v1alpha1"),
    );
    expect(found.unknown).toEqual([
      { field: "spec.job.metdata", hint: "metadata" },
      { field: "spec.jobs", hint: "job" },
    ]);
  });

  it("a KubernetesCluster's spec is what a ScaledObject's spec.cluster holds, checked the same way", () => {
    expect(cluster.validate(manifest("KubernetesCluster", { url: "https://k8s.example.com", secretKeyRef: { name: "SECRET_K8S" } }))).toEqual([]);
    expect(
      cluster
        .validate(manifest("KubernetesCluster", { url: "http://k8s.example.com", secretKeyRef: { name: "ADMIN_TOKEN" }, access: {}, vpcService: "K8S" }))
        .map((c) => c.field),
    ).toEqual(["spec.url", "spec.secretKeyRef.name", "spec.access.clientIdSecretKeyRef.name", "spec.access.clientSecretSecretKeyRef.name", "spec.vpcService"]);
    expect(cluster.validate(manifest("KubernetesCluster", undefined))).toEqual([
      { field: "spec", message: "is required: {url, secretKeyRef, access | vpcService}" },
    ]);
    const found = checkSchema(
      { apiVersion: "edge-eventing.dev/v1alpha1", kind: "KubernetesCluster", metadata: { name: "c" }, spec: { url: "https://x", secretKeyref: {} } },
      schemaOf("KubernetesCluster", "v1alpha1"),
    );
    expect(found.unknown).toEqual([{ field: "spec.secretKeyref", hint: "secretKeyRef" }]);
    expect(schemaOf("KubernetesCluster", "v1alpha1").properties!.spec.description).toContain("ScaledObjects and JobSinks");
  });

  it("a ScaledObject names its cluster with the annotation or holds it inline, not both", () => {
    const spec = {
      scaleTargetRef: { name: "w" },
      triggers: [{ type: "edge-eventing", metadata: { broker: "b", trigger: "t", metric: "backlog", target: "5" } }],
    };
    expect(validateScaledObject(spec, { "edge-eventing.dev/cluster": "prod" })).toEqual([]);
    expect(validateScaledObject(spec)).toEqual([{ field: "spec.cluster", message: "is required: {url, secretKeyRef, access | vpcService}" }]);
    expect(
      validateScaledObject({ ...spec, cluster: { url: "https://k", secretKeyRef: { name: "SECRET_K" } } }, { "edge-eventing.dev/cluster": "prod" }),
    ).toEqual([{ field: "spec.cluster", message: "use either spec.cluster or the edge-eventing.dev/cluster annotation, not both" }]);
    expect(validateScaledObject(spec, { "edge-eventing.dev/cluster": "-bad" }).map((c) => c.field)).toEqual(["metadata.annotations.edge-eventing.dev/cluster"]);
  });
});

describe("a JobSink as a destination", () => {
  const run = { job: validJob, cluster: { url: "https://k8s.example.com", secretKeyRef: { name: "SECRET_K8S" } } };
  const ctx = {
    baseUrl: "https://events.example.com",
    selfHosts: ["events.example.com"],
    domainTemplate: "https://{HOST}",
    domain: "example.com",
    jobSinks: { "ns/transcode": run },
  };

  it("a ref resolves to the JobSink's Job and cluster, and shows its address", () => {
    const ref = { ref: { apiVersion: "sinks.knative.dev/v1alpha1", kind: "JobSink", name: "transcode" } };
    expect(validateDestination(ref, "spec.subscriber", true)).toEqual([]);
    const target = resolveDestination(ref, "ns", ctx);
    expect(target).toEqual({ kind: "jobsink", namespace: "ns", name: "transcode", run });
    expect(targetUrl(target, ctx.baseUrl)).toBe("https://events.example.com/jobsinks/ns/transcode");
    expect(resolveDestination({ ref: { kind: "JobSink", name: "gone" } }, "ns", ctx)).toEqual({ kind: "jobsink", namespace: "ns", name: "gone" });
  });

  it("the address URL of this router resolves to the JobSink too, never an HTTP hop to itself", () => {
    expect(resolveDestination({ uri: "https://events.example.com/jobsinks/ns/transcode" }, "other", ctx)).toEqual({
      kind: "jobsink",
      namespace: "ns",
      name: "transcode",
      run,
    });
    expect(resolveDestination({ uri: "https://elsewhere.example.com/jobsinks/ns/transcode" }, "ns", ctx)).toEqual({
      kind: "url",
      url: "https://elsewhere.example.com/jobsinks/ns/transcode",
    });
  });
});
