/**
 * Knative's JobSink receiver (knative/eventing cmd/jobsink), for a cluster the router reaches through the
 * Kubernetes API: each event becomes one `batch/v1` Job named from the JobSink and the MD5 of the event's
 * source and id, with the event as JSON in an immutable Secret of the same name mounted into every
 * container. The same event again meets the Job already there (409 AlreadyExists): one Job per event.
 */
import { md5 } from "@noble/hashes/legacy.js";
import { encodeBase64 } from "../base64.ts";
import type { CloudEvent } from "../cloudevents/event.ts";
import { encodeStructured } from "../cloudevents/structured.ts";
import type { JobSinkRun } from "../resources/job-sink.ts";
import { type FetchLike, KubernetesClient } from "./client.ts";
import { type ClusterConnection, connectCluster } from "./cluster.ts";
import { KubernetesApiError } from "./errors.ts";

/** Knative's labels on each Job and Secret (knative/eventing pkg/apis/sinks). */
export const JOB_SINK_NAME_LABEL = "sinks.knative.dev/job-sink-name";
export const JOB_SINK_ID_LABEL = "sinks.knative.dev/job-sink-id";
/** The volume, its mount path and the Secret's key that carry the event. */
export const EVENT_VOLUME = "jobsink-event";
export const EVENT_MOUNT_PATH = "/etc/jobsink-event";
export const EVENT_KEY = "event";
/** Knative's JobSink defaults: every container learns it runs as a batch job. */
export const EXECUTION_MODE_ENV = "KNATIVE_EXECUTION_MODE";

// biome-ignore lint/suspicious/noExplicitAny: a Job is a Kubernetes document without a schema here, edited in place
type Obj = Record<string, any>;

const hex = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");

/**
 * Knative's job name: `kmeta.ChildName(jobsink + "-", md5hex(source + id))`. The hash is 32 characters,
 * so a JobSink name of up to 30 characters is kept whole; a longer one is cut to 31 and followed by the
 * MD5 of the whole name (63 characters, a valid DNS label either way).
 */
export function jobName(jobSink: string, source: string, id: string): string {
  const suffix = hex(md5(new TextEncoder().encode(source + id)));
  const parent = `${jobSink}-`;
  if (parent.length + suffix.length <= 63) return parent + suffix;
  return (parent.slice(0, 31) + hex(md5(new TextEncoder().encode(parent + suffix)))).replace(/[^a-zA-Z0-9]+$/, "");
}

/** The Job for one event from the JobSink's `spec.job`, in `namespace`, as Knative builds it. */
export function buildJob(template: Obj, namespace: string, jobSink: string, name: string): Obj {
  const job = structuredClone(template) as Obj;
  job.apiVersion = "batch/v1";
  job.kind = "Job";
  // Knative's owner reference to the JobSink is left out: the JobSink lives in the router, not in the
  // cluster, and the cluster's garbage collector deletes objects whose owner does not exist.
  const { resourceVersion: _r, uid: _u, creationTimestamp: _c, generateName: _g, managedFields: _m, ownerReferences: _o, ...meta } = job.metadata ?? {};
  job.metadata = { ...meta, name, namespace, labels: { ...(meta.labels ?? {}), [JOB_SINK_ID_LABEL]: name, [JOB_SINK_NAME_LABEL]: jobSink } };
  job.spec ??= {};
  job.spec.template ??= {};
  job.spec.template.spec ??= {};
  const pod = job.spec.template.spec as Obj;
  for (const c of [...(pod.initContainers ?? []), ...(pod.containers ?? [])] as Obj[]) {
    c.env ??= [];
    if (!c.env.some((e: Obj) => e.name === EXECUTION_MODE_ENV)) c.env.push({ name: EXECUTION_MODE_ENV, value: "batch" });
  }
  for (const c of (pod.containers ?? []) as Obj[]) {
    c.volumeMounts ??= [];
    const mounted = c.volumeMounts.find((m: Obj) => m.name === EVENT_VOLUME);
    if (!mounted) c.volumeMounts.push({ name: EVENT_VOLUME, readOnly: true, mountPath: EVENT_MOUNT_PATH });
    c.env.push({ name: "K_EVENT_PATH", value: mounted?.mountPath ?? EVENT_MOUNT_PATH });
  }
  pod.volumes ??= [];
  if (!pod.volumes.some((v: Obj) => v.name === EVENT_VOLUME)) pod.volumes.push({ name: EVENT_VOLUME, secret: { secretName: name } });
  return job;
}

/** The immutable Secret holding the event (structured CloudEvent JSON), owned by its Job. */
export function buildSecret(namespace: string, jobSink: string, name: string, eventJson: string, owner: { uid: string } | null): Obj {
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: {
      name,
      namespace,
      labels: { [JOB_SINK_ID_LABEL]: name, [JOB_SINK_NAME_LABEL]: jobSink },
      ...(owner ? { ownerReferences: [{ apiVersion: "batch/v1", kind: "Job", name, uid: owner.uid, controller: true, blockOwnerDeletion: false }] } : {}),
    },
    immutable: true,
    type: "Opaque",
    data: { [EVENT_KEY]: encodeBase64(eventJson) },
  };
}

/** Where a Job stands, as Knative's GET answers it: its Failed or Complete condition, else running. */
export type JobState = "Running" | "Complete" | "Failed";

export function jobState(job: Obj): JobState {
  for (const c of (job.status?.conditions ?? []) as Obj[]) {
    if (c.type === "Failed" && c.status === "True") return "Failed";
    if (c.type === "Complete" && c.status === "True") return "Complete";
  }
  return "Running";
}

/** The first path segment of JobSink addresses on the router: `/jobsinks/{namespace}/{name}`. */
export const JOB_SINKS_PATH = "jobsinks";

export function jobSinkAddressPath(namespace: string, name: string): string {
  return `${JOB_SINKS_PATH}/${namespace}/${name}`;
}

/**
 * Knative's `Location` (`/namespaces/{ns}/name/{jobsink}/sources/{source}/ids/{id}`), under the JobSink
 * addresses' prefix as Knative's is under its receiver's root; source and id are percent-encoded, since
 * a source is usually a URI reference with slashes of its own.
 */
export function jobLocation(namespace: string, jobSink: string, source: string, id: string): string {
  return `/${JOB_SINKS_PATH}/namespaces/${namespace}/name/${jobSink}/sources/${encodeURIComponent(source)}/ids/${encodeURIComponent(id)}`;
}

/** What creating the Job of one event gave: `created` is false when the Job was there already. */
export interface JobCreated {
  name: string;
  created: boolean;
}

/**
 * Creates the event's Job, then its Secret (the pod waits for the Secret's volume). 409 AlreadyExists is
 * the same event again: its Secret is still made sure of, so an attempt that stopped between the two
 * calls is completed by the retry. Any other refusal throws the API server's KubernetesApiError.
 */
export async function createEventJob(
  client: KubernetesClient,
  input: { namespace: string; jobSink: string; template: Obj; source: string; id: string; eventJson: string },
): Promise<JobCreated> {
  const name = jobName(input.jobSink, input.source, input.id);
  const jobs = `/apis/batch/v1/namespaces/${input.namespace}/jobs`;
  let job = await client.create<Obj>(jobs, buildJob(input.template, input.namespace, input.jobSink, name));
  const created = job !== null;
  job ??= await client.get<Obj>(`${jobs}/${name}`);
  await client.create(
    `/api/v1/namespaces/${input.namespace}/secrets`,
    buildSecret(input.namespace, input.jobSink, name, input.eventJson, { uid: String(job.metadata?.uid ?? "") }),
  );
  return { name, created };
}

/** The state of the event's Job; null when the cluster has no such Job. */
export async function eventJobState(client: KubernetesClient, namespace: string, jobSink: string, source: string, id: string): Promise<JobState | null> {
  try {
    return jobState(await client.get<Obj>(`/apis/batch/v1/namespaces/${namespace}/jobs/${jobName(jobSink, source, id)}`));
  } catch (e) {
    if (e instanceof KubernetesApiError && e.status === 404) return null;
    throw e;
  }
}

/** Limit: how long one call to a JobSink's cluster may take. */
export const JOB_API_TIMEOUT_MS = 10_000;

/** Limit: Kubernetes keeps a Secret's data under 1 MiB, so a larger event (as JSON) cannot become a Job. */
export const MAX_EVENT_JSON_BYTES = 1024 * 1024;

/** What a JobSink made of an event: the Job's name, whether this call created it, its Location. */
export type JobSinkAnswer = { ok: true; name: string; created: boolean; location: string } | { ok: false; status: 404 | 413 | 500; error: string };

/**
 * One event into a JobSink (`run` absent: it does not exist). A cluster that cannot be reached or refuses
 * the Job is a 500 carrying the API server's answer, as Knative's receiver answers it: the sender retries.
 */
export async function sendToJobSink(
  env: Record<string, unknown>,
  fetch: FetchLike,
  target: { namespace: string; name: string; run?: JobSinkRun },
  event: CloudEvent,
): Promise<JobSinkAnswer> {
  const { namespace, name, run } = target;
  if (!run) return { ok: false, status: 404, error: `JobSink ${namespace}/${name} does not exist` };
  if ("unavailable" in run) return { ok: false, status: 500, error: `JobSink ${namespace}/${name}: ${run.unavailable}` };
  const source = String(event.attributes.source);
  const id = String(event.attributes.id);
  const eventJson = encodeStructured(event);
  const size = new TextEncoder().encode(eventJson).length;
  if (size > MAX_EVENT_JSON_BYTES)
    return {
      ok: false,
      status: 413,
      error: `JobSink ${namespace}/${name}: the event is ${size} bytes as JSON; a Kubernetes Secret holds at most ${MAX_EVENT_JSON_BYTES}`,
    };
  try {
    const client = clientFor(env, fetch, run.cluster);
    const job = await createEventJob(client, { namespace, jobSink: name, template: run.job, source, id, eventJson });
    return { ok: true, ...job, location: jobLocation(namespace, name, source, id) };
  } catch (e) {
    return { ok: false, status: 500, error: `JobSink ${namespace}/${name}: the cluster did not create the Job: ${(e as Error).message}` };
  }
}

/** The state of the Job a JobSink made of the event with this source and id (null: no such Job). */
export async function jobSinkJobState(
  env: Record<string, unknown>,
  fetch: FetchLike,
  target: { namespace: string; name: string; run: JobSinkRun },
  source: string,
  id: string,
): Promise<JobState | null> {
  if ("unavailable" in target.run) throw new Error(target.run.unavailable);
  return eventJobState(clientFor(env, fetch, target.run.cluster), target.namespace, target.name, source, id);
}

function clientFor(env: Record<string, unknown>, fetch: FetchLike, cluster: ClusterConnection): KubernetesClient {
  const connected = connectCluster(cluster, env, (url, init) => fetch(url, { ...init, signal: AbortSignal.timeout(JOB_API_TIMEOUT_MS) }));
  return new KubernetesClient(connected.fetch, connected.credentials);
}
