/**
 * Scales a remote workload through the Kubernetes API:
 * - apps/v1 Deployment/StatefulSet: the `scale` subresource, merge patch of spec.replicas;
 * - serving.knative.dev/v1 Service: the latest ready Revision's `autoscaling.knative.dev/min-scale`
 *   annotation (Knative >= 1.21 syncs Revision annotations to the PodAutoscaler), so no decision
 *   ever mints a new Revision, which a change of the Service template would.
 * Every write carries the resourceVersion it was computed from; a 409 re-reads and retries.
 * Plus the plain reads and creates JobSinks make (shared/kubernetes/job-sink.ts).
 */
import { apiError, KubernetesApiError } from "./errors.ts";

export type FetchLike = (url: string, init: RequestInit) => Promise<Response>;

/** Resolved connection: secrets already read from the Worker environment. */
export interface ClusterCredentials {
  url: string;
  token: string;
  access?: { clientId: string; clientSecret: string };
}

export interface ScaleTarget {
  apiVersion: string;
  kind: string;
  name: string;
  namespace: string;
}

export interface ScaleState {
  /** What the scaler last asked for: spec.replicas, or the Revision's min-scale. */
  replicas: number;
  /** Pods the workload reports: status.replicas, or the Revision's status.actualReplicas. */
  currentReplicas: number;
  /** Pods ready to serve: status.readyReplicas, or the ready Revision's status.actualReplicas (its ready pods). */
  readyReplicas: number;
  /** A Knative Revision's spec.containerConcurrency (0: unlimited); absent for other workloads. */
  containerConcurrency?: number;
  resourceVersion: string;
  /** The Revision that carries the scale, for Knative Services. */
  revision?: string;
}

export const MERGE_PATCH = "application/merge-patch+json";
export const MIN_SCALE = "autoscaling.knative.dev/min-scale";
/** Attempts of a write that meets 409 Conflict. */
export const MAX_CONFLICT_RETRIES = 3;

const PLURALS: Record<string, string> = { Deployment: "deployments", StatefulSet: "statefulsets" };

export class KubernetesClient {
  readonly #fetch: FetchLike;
  readonly #cluster: ClusterCredentials;

  constructor(fetch: FetchLike, cluster: ClusterCredentials) {
    this.#fetch = fetch;
    this.#cluster = cluster;
  }

  async getScale(target: ScaleTarget): Promise<ScaleState> {
    if (isKnative(target)) {
      const revision = await this.#latestReadyRevision(target);
      const rev = await this.#request<KnativeRevision>("GET", revisionPath(target.namespace, revision));
      const minScale = Number(rev.metadata.annotations?.[MIN_SCALE] ?? 0);
      const actual = rev.status?.actualReplicas ?? 0;
      return {
        replicas: minScale,
        currentReplicas: actual,
        readyReplicas: actual,
        containerConcurrency: rev.spec?.containerConcurrency ?? 0,
        resourceVersion: rev.metadata.resourceVersion,
        revision,
      };
    }
    // The workload itself rather than its scale subresource: the scale has no readyReplicas. Its
    // resourceVersion is the workload's, so the scale write below is conditional on what was read here.
    const workload = await this.#request<Workload>("GET", scalePath(target).slice(0, -"/scale".length));
    const status = workload.status ?? {};
    return {
      replicas: workload.spec.replicas ?? 0,
      currentReplicas: status.replicas ?? 0,
      readyReplicas: status.readyReplicas ?? 0,
      resourceVersion: workload.metadata.resourceVersion,
    };
  }

  /** Sets the replicas; no write when they already match. Returns the state after the call. */
  async setReplicas(target: ScaleTarget, replicas: number): Promise<ScaleState & { changed: boolean }> {
    if (!Number.isInteger(replicas) || replicas < 0) throw new RangeError(`replicas must be an integer >= 0, got ${replicas}`);
    for (let attempt = 1; ; attempt++) {
      const now = await this.getScale(target);
      if (now.replicas === replicas) return { ...now, changed: false };
      try {
        if (isKnative(target)) {
          const rev = await this.#request<KnativeRevision>("PATCH", revisionPath(target.namespace, now.revision!), {
            metadata: { resourceVersion: now.resourceVersion, annotations: { [MIN_SCALE]: String(replicas) } },
          });
          return { ...now, replicas, resourceVersion: rev.metadata.resourceVersion, changed: true };
        }
        const scale = await this.#request<Scale>("PATCH", scalePath(target), {
          metadata: { resourceVersion: now.resourceVersion },
          spec: { replicas },
        });
        return { ...now, replicas: scale.spec.replicas ?? replicas, resourceVersion: scale.metadata.resourceVersion, changed: true };
      } catch (e) {
        if (!(e instanceof KubernetesApiError) || e.status !== 409 || attempt >= MAX_CONFLICT_RETRIES) throw e;
      }
    }
  }

  /** Reads one object. */
  get<T>(path: string): Promise<T> {
    return this.#request<T>("GET", path);
  }

  /** Creates an object in a collection; null when one of that name exists already (409 AlreadyExists). */
  async create<T>(collection: string, object: unknown): Promise<T | null> {
    try {
      return await this.#request<T>("POST", collection, object);
    } catch (e) {
      if (e instanceof KubernetesApiError && e.status === 409 && e.reason === "AlreadyExists") return null;
      throw e;
    }
  }

  async #latestReadyRevision(target: ScaleTarget): Promise<string> {
    const path = `/apis/serving.knative.dev/v1/namespaces/${target.namespace}/services/${target.name}`;
    const svc = await this.#request<{ status?: { latestReadyRevisionName?: string } }>("GET", path);
    const name = svc.status?.latestReadyRevisionName;
    if (!name)
      throw new KubernetesApiError(
        409,
        "NotReady",
        `GET ${path}: Knative Service ${target.namespace}/${target.name} has no ready revision yet (status.latestReadyRevisionName)`,
      );
    return name;
  }

  async #request<T>(method: "GET" | "PATCH" | "POST", path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { Accept: "application/json", Authorization: `Bearer ${this.#cluster.token}` };
    if (this.#cluster.access) {
      headers["CF-Access-Client-Id"] = this.#cluster.access.clientId;
      headers["CF-Access-Client-Secret"] = this.#cluster.access.clientSecret;
    }
    if (body !== undefined) headers["Content-Type"] = method === "PATCH" ? MERGE_PATCH : "application/json";
    const res = await this.#fetch(this.#cluster.url + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      redirect: "manual",
    });
    if (!res.ok) throw await apiError(method, path, res);
    return (await res.json()) as T;
  }
}

interface Scale {
  metadata: { resourceVersion: string };
  spec: { replicas?: number };
}

/** A Deployment or StatefulSet, as far as scaling reads it (zero counts are omitted by the API server). */
interface Workload extends Scale {
  status?: { replicas?: number; readyReplicas?: number };
}

interface KnativeRevision {
  metadata: { resourceVersion: string; annotations?: Record<string, string> };
  spec?: { containerConcurrency?: number };
  status?: { actualReplicas?: number };
}

const isKnative = (t: ScaleTarget) => t.apiVersion === "serving.knative.dev/v1" && t.kind === "Service";

function scalePath(t: ScaleTarget): string {
  const plural = PLURALS[t.kind];
  if (t.apiVersion !== "apps/v1" || !plural)
    throw new RangeError(`cannot scale ${t.apiVersion} ${t.kind}: use apps/v1 Deployment or StatefulSet, or serving.knative.dev/v1 Service`);
  return `/apis/apps/v1/namespaces/${t.namespace}/${plural}/${t.name}/scale`;
}

const revisionPath = (ns: string, name: string) => `/apis/serving.knative.dev/v1/namespaces/${ns}/revisions/${name}`;
