/**
 * Knative's JobSink (`sinks.knative.dev/v1alpha1`): `spec.job` is the `batch/v1` Job each event becomes,
 * in the JobSink's namespace of the cluster that the `edge-eventing.dev/cluster` annotation names (the
 * KubernetesCluster `default` without it). Validation, status, and the form delivering objects run.
 */
import type { FieldError } from "../delivery/policy.ts";
import { CLUSTER_ANNOTATION, type ClusterConnection, clusterOf } from "../kubernetes/cluster.ts";
import { jobSinkAddressPath, JOB_SINK_NAME_LABEL } from "../kubernetes/job-sink.ts";
import { audienceOf } from "../policy/spec.ts";
import { isSecretName, SECRET_NAME_RULE } from "../secrets.ts";
import { BROKER_ANNOTATIONS } from "./eventing.ts";
import { condition, isValidName, type Manifest, readyCondition } from "./manifest.ts";

export interface JobSinkSpec {
  job?: Record<string, unknown>;
}

/** The KubernetesCluster a JobSink names when it has no annotation. */
export const DEFAULT_CLUSTER = "default";
/** Names a Worker secret; POSTs to the address and GETs of its Locations then need it as a bearer token. */
export const JOB_SINK_TOKEN_ANNOTATION = BROKER_ANNOTATIONS.ingressTokenSecret;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
/** Kubernetes refuses a Job whose pods would restart in place (`Always`, the pod default). */
const RESTART_POLICIES = ["Never", "OnFailure"];
const CONTAINER_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** The KubernetesCluster a JobSink's Jobs run in. */
export function jobSinkCluster(m: Pick<Manifest, "metadata">): string {
  return m.metadata.annotations?.[CLUSTER_ANNOTATION] ?? DEFAULT_CLUSTER;
}

/**
 * Knative requires `spec.job`; the router also refuses at apply time what every Job creation would meet
 * from the API server: no containers, a container without name or image, a restart policy a Job refuses.
 */
export function validateJobSink(m: Manifest<JobSinkSpec>): FieldError[] {
  const causes: FieldError[] = [];
  const annotations = m.metadata.annotations ?? {};
  if (annotations[CLUSTER_ANNOTATION] !== undefined && !isValidName(annotations[CLUSTER_ANNOTATION])) {
    causes.push({ field: `metadata.annotations.${CLUSTER_ANNOTATION}`, message: "must name a KubernetesCluster of the namespace" });
  }
  const token = annotations[JOB_SINK_TOKEN_ANNOTATION];
  if (token !== undefined && !isSecretName(token)) causes.push({ field: `metadata.annotations.${JOB_SINK_TOKEN_ANNOTATION}`, message: SECRET_NAME_RULE });
  const job = m.spec?.job;
  if (!isObj(job)) return [...causes, { field: "spec.job", message: "is required: the batch/v1 Job each event becomes" }];
  if (job.apiVersion !== undefined && job.apiVersion !== "batch/v1") causes.push({ field: "spec.job.apiVersion", message: 'must be "batch/v1"' });
  if (job.kind !== undefined && job.kind !== "Job") causes.push({ field: "spec.job.kind", message: 'must be "Job"' });
  const pod = (job.spec as Obj | undefined)?.template as Obj | undefined;
  const podSpec = isObj(pod?.spec) ? pod.spec : undefined;
  const at = "spec.job.spec.template.spec";
  if (!podSpec) return [...causes, { field: at, message: "is required: the pod each Job runs" }];
  const containers = podSpec.containers;
  if (!Array.isArray(containers) || containers.length === 0) causes.push({ field: `${at}.containers`, message: "must list at least one container" });
  else {
    for (const [i, c] of containers.entries()) {
      if (!isObj(c)) {
        causes.push({ field: `${at}.containers[${i}]`, message: "must be an object" });
        continue;
      }
      if (typeof c.name !== "string" || c.name.length > 63 || !CONTAINER_NAME.test(c.name))
        causes.push({ field: `${at}.containers[${i}].name`, message: "must be a DNS-1123 label" });
      if (typeof c.image !== "string" || c.image.trim() === "") causes.push({ field: `${at}.containers[${i}].image`, message: "is required" });
    }
  }
  if (!RESTART_POLICIES.includes(podSpec.restartPolicy as string)) {
    causes.push({ field: `${at}.restartPolicy`, message: `must be "Never" or "OnFailure" (a Job's pods cannot restart Always)` });
  }
  return causes;
}

/** What delivering to a JobSink runs: its Job template in its cluster, or why it cannot run now. */
export type JobSinkRun = { job: Obj; cluster: ClusterConnection } | { unavailable: string };

/** A stored JobSink's run, given the KubernetesCluster it names (null: there is none). */
export function jobSinkRun(m: Manifest<JobSinkSpec>, cluster: Manifest | null): JobSinkRun {
  if (!cluster) return { unavailable: clusterMissing(m) };
  return { job: m.spec.job as Obj, cluster: clusterOf(cluster) };
}

const clusterMissing = (m: Pick<Manifest, "metadata">) =>
  `KubernetesCluster "${jobSinkCluster(m)}" does not exist in namespace "${m.metadata.namespace}"${m.metadata.annotations?.[CLUSTER_ANNOTATION] === undefined ? ` (no ${CLUSTER_ANNOTATION} annotation: the default one)` : ""}`;

/** Knative's JobSink status: its address and audience, Addressable, Ready once its cluster exists, and the selector of its Jobs. */
export function jobSinkStatus(m: Pick<Manifest, "metadata">, baseUrl: string, clusterExists: boolean): Obj {
  return {
    conditions: [
      clusterExists ? readyCondition(true, "JobSinkReady") : readyCondition(false, "KubernetesClusterNotFound", clusterMissing(m)),
      condition("Addressable", "True", "Addressable"),
    ],
    address: {
      url: `${baseUrl}/${jobSinkAddressPath(m.metadata.namespace!, m.metadata.name)}`,
      audience: audienceOf("JobSink", m.metadata.namespace!, m.metadata.name),
    },
    job: { selector: `${JOB_SINK_NAME_LABEL}=${m.metadata.name}` },
  };
}
