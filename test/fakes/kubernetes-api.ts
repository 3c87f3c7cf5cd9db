/**
 * A local Kubernetes API server (node:http, 127.0.0.1, random port) with exactly the endpoints
 * the actuation client uses, answering as the real API server does: autoscaling/v1 Scale of
 * apps/v1 Deployments/StatefulSets, serving.knative.dev/v1 Services and Revisions, PATCH with
 * merge / JSON / strategic-merge patches (strategic refused with 415 on custom resources),
 * metadata.resourceVersion preconditions (409), Status error objects. Requests are recorded.
 *
 * Readiness lags scale-ups as a cluster's does: a pod added by a scale-up becomes ready `readyDelayMs`
 * after it was asked for (an image pull, a model load), one removed by a scale-down goes at once. The
 * workload's status reports it as the controllers do (`replicas`, `readyReplicas`, `availableReplicas`,
 * `updatedReplicas`, `observedGeneration`; a Revision's `actualReplicas` and `desiredReplicas`).
 * A gateway in front of the workloads (`/gateway/{namespace}/{name}`, or `/gateway/{name}.{namespace}.{domain}`) answers as a Knative ingress
 * with no activator would: 503 while no pod is ready, 503 above ready pods x `containerConcurrency`,
 * else the request holds a pod for the workload's service time and gets 200. It counts what it saw.
 * And what a JobSink uses: batch/v1 Jobs and v1 Secrets (see the section "Jobs and Secrets").
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface RecordedRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

interface StoredObject {
  group: string;
  plural: string;
  builtin: boolean;
  object: Record<string, any>;
}

export interface FakeKubernetesOptions {
  token: string;
  /** How long a Job runs before it completes or fails (default 1 s); a Job's FAKE_JOB_DURATION_MS env overrides it. */
  jobDurationMs?: number;
  /** When set, requests must carry this Cloudflare Access service token or get a login redirect. */
  access?: { clientId: string; clientSecret: string };
  /** How long a pod takes to become ready after a scale-up (0: at once). */
  readyDelayMs?: number;
}

/** A workload's pods: requests each takes at once (0: unlimited), the gateway's service time, their readiness delay. */
export interface WorkloadOptions {
  containerConcurrency?: number;
  serviceMs?: number;
  readyDelayMs?: number;
}

/** What the gateway saw for one workload. */
export interface GatewayStats {
  /** Requests answered 503 because no pod was ready. */
  unavailable: number;
  /** Requests answered 503 because every ready pod was at its containerConcurrency. */
  overloaded: number;
  /** ce-id of every request served (200), in order. */
  served: string[];
  inFlight: number;
  maxInFlight: number;
  /** The largest in-flight count above ready pods x containerConcurrency seen (0: never over). */
  maxOverCapacity: number;
  /** When the first pod became ready (epoch ms) and when the first request was served. */
  firstReadyAt: number | null;
  firstServedAt: number | null;
}

/** A workload's pods: when each becomes ready. */
interface Pods {
  readyAt: number[];
  /** Requests per pod at once (Knative's containerConcurrency; 0: unlimited). */
  containerConcurrency: number;
  serviceMs: number;
  /** This workload's readiness delay, when it differs from the server's. */
  readyDelayMs?: number;
  gateway: GatewayStats;
}

/** Limit: request bodies above this size are refused with 413, as a real API server does (3 MiB). */
const MAX_BODY = 3 * 1024 * 1024;

export class FakeKubernetesApi {
  readonly requests: RecordedRequest[] = [];
  url = "";
  readonly #objects = new Map<string, StoredObject>();
  readonly #options: FakeKubernetesOptions;
  readonly #server = createServer((req, res) => void this.#handle(req, res));
  /** By the workload's API path (a Knative Service's by its Revision's). */
  readonly #pods = new Map<string, Pods>();
  #version = 100;

  constructor(options: FakeKubernetesOptions) {
    this.#options = options;
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve, reject) => this.#server.close((e) => (e ? reject(e) : resolve())));
  }

  /** A workload whose `replicas` pods are ready already; the gateway serves each request in `serviceMs`. */
  addWorkload(kind: "Deployment" | "StatefulSet", namespace: string, name: string, replicas: number, options: WorkloadOptions = {}): void {
    const plural = kind === "Deployment" ? "deployments" : "statefulsets";
    const path = `/apis/apps/v1/namespaces/${namespace}/${plural}/${name}`;
    this.#put(path, {
      group: "apps",
      plural,
      builtin: true,
      object: {
        apiVersion: "apps/v1",
        kind,
        metadata: this.#meta(namespace, name),
        spec: { replicas, selector: { matchLabels: { app: name } } },
        status: {},
      },
    });
    this.#pods.set(path, newPods(replicas, options));
  }

  /** The gateway's figures for a Deployment, StatefulSet or Knative Service. */
  gateway(namespace: string, name: string): GatewayStats {
    return this.#podsOf(namespace, name)?.gateway ?? newPods(0, {}).gateway;
  }

  /** The workload's pods at `path`, added or removed as `replicas` says (new ones ready after the delay). */
  #scalePods(path: string, replicas: number): void {
    const pods = this.#pods.get(path);
    if (!pods) return;
    const now = Date.now();
    // A scale-down removes the pods that are not ready first, then the youngest.
    pods.readyAt.sort((a, b) => a - b);
    if (replicas < pods.readyAt.length) pods.readyAt.length = replicas;
    while (pods.readyAt.length < replicas) pods.readyAt.push(now + (pods.readyDelayMs ?? this.#options.readyDelayMs ?? 0));
  }

  #podsOf(namespace: string, name: string): Pods | undefined {
    for (const plural of ["deployments", "statefulsets"]) {
      const pods = this.#pods.get(`/apis/apps/v1/namespaces/${namespace}/${plural}/${name}`);
      if (pods) return pods;
    }
    const revision = this.object(`/apis/serving.knative.dev/v1/namespaces/${namespace}/services/${name}`)?.status?.latestReadyRevisionName;
    return revision ? this.#pods.get(revisionPath(namespace, revision)) : undefined;
  }

  /** The object with its status as the controllers would report it now. */
  #withStatus(path: string, object: Record<string, any>): Record<string, any> {
    const pods = this.#pods.get(path);
    if (!pods) return object;
    const total = pods.readyAt.length;
    const ready = readyCount(pods);
    if (object.kind === "Revision") {
      return {
        ...object,
        spec: { ...object.spec, containerConcurrency: pods.containerConcurrency },
        status: { ...object.status, actualReplicas: ready, desiredReplicas: total },
      };
    }
    const status: Record<string, unknown> = { observedGeneration: object.metadata.generation, replicas: total, updatedReplicas: total };
    // As the API server serializes it: zero counts are omitted.
    if (ready > 0) Object.assign(status, { readyReplicas: ready, availableReplicas: ready });
    return { ...object, status };
  }

  /** The gateway: 503 with no ready pod or none free, else a pod's service time and 200. */
  async #serve(namespace: string, name: string, headers: IncomingMessage["headers"], res: ServerResponse): Promise<void> {
    const pods = this.#podsOf(namespace, name);
    if (!pods) return status(res, 404, "NotFound", `no workload ${namespace}/${name} behind the gateway`);
    const g = pods.gateway;
    const ready = readyCount(pods);
    if (ready > 0 && g.firstReadyAt === null) g.firstReadyAt = Math.min(...pods.readyAt);
    if (ready === 0) {
      g.unavailable++;
      return void res.writeHead(503, { "content-type": "text/plain" }).end("no healthy upstream");
    }
    const capacity = pods.containerConcurrency > 0 ? ready * pods.containerConcurrency : Infinity;
    g.inFlight++;
    g.maxInFlight = Math.max(g.maxInFlight, g.inFlight);
    g.maxOverCapacity = Math.max(g.maxOverCapacity, g.inFlight - capacity);
    if (g.inFlight > capacity) {
      g.inFlight--;
      g.overloaded++;
      return void res.writeHead(503, { "content-type": "text/plain" }).end("overloaded");
    }
    g.firstServedAt ??= Date.now();
    await new Promise((r) => setTimeout(r, pods.serviceMs));
    g.inFlight--;
    g.served.push(String(headers["ce-id"] ?? ""));
    res.writeHead(200).end();
  }

  addKnativeService(namespace: string, name: string, revision: string | null, actualReplicas = 1, options: WorkloadOptions = {}): void {
    this.#put(`/apis/serving.knative.dev/v1/namespaces/${namespace}/services/${name}`, {
      group: "serving.knative.dev",
      plural: "services",
      builtin: false,
      object: {
        apiVersion: "serving.knative.dev/v1",
        kind: "Service",
        metadata: this.#meta(namespace, name),
        spec: {
          template: {
            spec: { containers: [{ image: "example" }], ...(options.containerConcurrency ? { containerConcurrency: options.containerConcurrency } : {}) },
          },
        },
        status: revision ? { latestReadyRevisionName: revision, latestCreatedRevisionName: revision } : {},
      },
    });
    if (revision) {
      this.#pods.set(revisionPath(namespace, revision), newPods(actualReplicas, options));
      this.#put(revisionPath(namespace, revision), {
        group: "serving.knative.dev",
        plural: "revisions",
        builtin: false,
        object: {
          apiVersion: "serving.knative.dev/v1",
          kind: "Revision",
          metadata: this.#meta(namespace, revision),
          spec: { containers: [{ image: "example" }] },
          status: { actualReplicas },
        },
      });
    }
  }

  /** The stored object at an API path (without /scale), as the server holds it. */
  object(path: string): Record<string, any> | undefined {
    const stored = this.#objects.get(path);
    return stored && this.#withStatus(path, stored.object);
  }

  /** Simulates another writer: bumps the object's resourceVersion. */
  touch(path: string): void {
    const stored = this.#objects.get(path);
    if (stored) stored.object.metadata.resourceVersion = this.#nextVersion();
  }

  #nextVersion(): string {
    return String(++this.#version);
  }

  #meta(namespace: string, name: string) {
    return { name, namespace, uid: crypto.randomUUID(), resourceVersion: this.#nextVersion(), generation: 1, creationTimestamp: "2026-01-01T00:00:00Z" };
  }

  #put(path: string, stored: StoredObject): void {
    this.#objects.set(path, stored);
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > MAX_BODY) return status(res, 413, "RequestEntityTooLarge", "the request body is too large");
      chunks.push(chunk as Buffer);
    }
    const body = Buffer.concat(chunks).toString("utf8");
    const path = new URL(req.url ?? "/", "http://x").pathname;
    // `/gateway/{namespace}/{name}`, or `/gateway/{host}` with Knative's `{name}.{namespace}.{domain}` host.
    const gateway = /^\/gateway\/([^/]+)(?:\/([^/]+))?/.exec(path);
    if (gateway) {
      const [namespace, name] = gateway[2] ? [gateway[1], gateway[2]] : gateway[1].split(".").slice(0, 2).reverse();
      return this.#serve(namespace, name, req.headers, res);
    }
    this.requests.push({ method: req.method ?? "", path, headers: req.headers, body });

    const access = this.#options.access;
    if (access && (req.headers["cf-access-client-id"] !== access.clientId || req.headers["cf-access-client-secret"] !== access.clientSecret)) {
      res.writeHead(302, { Location: "https://team.cloudflareaccess.com/cdn-cgi/access/login" }).end();
      return;
    }
    if (req.headers.authorization !== `Bearer ${this.#options.token}`) return status(res, 401, "Unauthorized", "Unauthorized");
    if (this.#handleJobsAndSecrets(req.method ?? "", path, body, res)) return;

    const isScale = path.endsWith("/scale");
    const key = isScale ? path.slice(0, -"/scale".length) : path;
    const stored = this.#objects.get(key);
    const match = /\/namespaces\/[^/]+\/([^/]+)\/([^/]+)$/.exec(key);
    if (!stored || !match || (isScale && !stored.builtin)) {
      const [plural, name] = match ? [match[1], match[2]] : ["", ""];
      const group = key.startsWith("/apis/apps/") ? "apps" : "serving.knative.dev";
      return status(res, 404, "NotFound", `${plural}.${group} "${name}" not found`, { name, group, kind: plural });
    }
    const view = () => (isScale ? scaleOf(this.#withStatus(key, stored.object)) : this.#withStatus(key, stored.object));
    if (req.method === "GET") return json(res, 200, view());
    if (req.method !== "PATCH") return status(res, 405, "MethodNotAllowed", `the server does not allow this method on the requested resource`);

    const type = (req.headers["content-type"] ?? "").split(";")[0].trim();
    const crdTypes = ["application/json-patch+json", "application/merge-patch+json", "application/apply-patch+yaml"];
    const accepted = stored.builtin || isScale ? [...crdTypes, "application/strategic-merge-patch+json"] : crdTypes;
    if (!accepted.includes(type)) {
      return status(
        res,
        415,
        "UnsupportedMediaType",
        `the body of the request was in an unknown format - accepted media types include: ${accepted.join(", ")}`,
      );
    }
    let patched: Record<string, any>;
    try {
      const patch = JSON.parse(body);
      patched = type === "application/json-patch+json" ? jsonPatch(view(), patch) : mergePatch(view(), patch);
    } catch (e) {
      return status(res, 400, "BadRequest", `the request body could not be applied: ${(e as Error).message}`);
    }
    const rv = patched.metadata?.resourceVersion;
    if (rv !== undefined && rv !== stored.object.metadata.resourceVersion) {
      return status(
        res,
        409,
        "Conflict",
        `Operation cannot be fulfilled on ${stored.plural}.${stored.group} "${stored.object.metadata.name}": the object has been modified; please apply your changes to the latest version and try again`,
      );
    }
    if (isScale) {
      const replicas = patched.spec?.replicas;
      if (!Number.isInteger(replicas) || replicas < 0) {
        return status(
          res,
          422,
          "Invalid",
          `Scale.autoscaling "${stored.object.metadata.name}" is invalid: spec.replicas: Invalid value: ${JSON.stringify(replicas)}: must be greater than or equal to 0`,
          { causes: [{ field: "spec.replicas", message: "must be greater than or equal to 0" }] },
        );
      }
      stored.object.spec.replicas = replicas;
      stored.object.metadata.generation++;
      this.#scalePods(key, replicas);
    } else {
      // Custom resources: only metadata changes are modelled (the client patches annotations); a
      // Revision's min-scale is what its PodAutoscaler keeps at least, here its pod count.
      stored.object.metadata = { ...patched.metadata, resourceVersion: stored.object.metadata.resourceVersion };
      const minScale = patched.metadata?.annotations?.["autoscaling.knative.dev/min-scale"];
      if (stored.object.kind === "Revision" && minScale !== undefined) this.#scalePods(key, Number(minScale));
    }
    stored.object.metadata.resourceVersion = this.#nextVersion();
    json(res, 200, view());
  }

  // ---- Jobs and Secrets (batch/v1, v1), as the API server and the Job controller serve them -----------

  /** Per namespace: how many Jobs a ResourceQuota allows (`count/jobs.batch`); beyond it, creates are refused with 403. */
  readonly #jobQuota = new Map<string, number>();
  /** When each Job started, how long it runs and the exit code its pod ends with. */
  readonly #jobRuns = new Map<string, { startMs: number; durationMs: number; exitCode: number }>();

  /** A ResourceQuota of `count/jobs.batch: max` in the namespace (null removes it). */
  setJobQuota(namespace: string, max: number | null): void {
    if (max === null) this.#jobQuota.delete(namespace);
    else this.#jobQuota.set(namespace, max);
  }

  /** Answers the Job and Secret paths; false for any other path. */
  #handleJobsAndSecrets(method: string, path: string, body: string, res: ServerResponse): boolean {
    const m = /^\/(apis\/batch\/v1|api\/v1)\/namespaces\/([^/]+)\/(jobs|secrets)(?:\/([^/]+))?$/.exec(path);
    if (!m || (m[1] === "api/v1") !== (m[3] === "secrets")) return false;
    const [, , namespace, plural, name] = m;
    const group = plural === "jobs" ? "batch" : "";
    const what = `${plural}${group ? `.${group}` : ""}`;
    if (name === undefined) {
      if (method !== "POST") status(res, 405, "MethodNotAllowed", "the server does not allow this method on the requested resource");
      else this.#create(namespace, plural as "jobs" | "secrets", body, res);
      return true;
    }
    const stored = this.#objects.get(path);
    if (!stored) {
      status(res, 404, "NotFound", `${what} "${name}" not found`, { name, group: group || undefined, kind: plural });
      return true;
    }
    if (method === "GET") {
      json(res, 200, plural === "jobs" ? this.#jobNow(path, stored.object) : stored.object);
      return true;
    }
    if (plural === "secrets" && (method === "PUT" || method === "PATCH")) {
      let next: Record<string, any>;
      try {
        next = method === "PUT" ? JSON.parse(body) : mergePatch(stored.object, JSON.parse(body));
      } catch (e) {
        status(res, 400, "BadRequest", `the request body could not be decoded: ${(e as Error).message}`);
        return true;
      }
      const old = stored.object;
      const changed = ["data", "stringData", "immutable", "type"].filter(
        (f) => JSON.stringify(next[f] ?? null) !== JSON.stringify(f === "stringData" ? null : (old[f] ?? null)),
      );
      if (old.immutable === true && changed.length > 0) {
        const causes = changed.map((f) => ({
          reason: "FieldValueForbidden",
          message: f === "immutable" ? "field is immutable when `immutable` is set" : "Forbidden: field is immutable when `immutable` is set",
          field: f,
        }));
        status(
          res,
          422,
          "Invalid",
          `Secret "${name}" is invalid: ${changed.map((f) => `${f}: Forbidden: field is immutable when \`immutable\` is set`).join(", ")}`,
          { name, kind: "Secret", causes },
        );
        return true;
      }
      stored.object = { ...next, metadata: { ...old.metadata, ...(next.metadata ?? {}), resourceVersion: this.#nextVersion(), uid: old.metadata.uid } };
      json(res, 200, stored.object);
      return true;
    }
    status(res, 405, "MethodNotAllowed", "the server does not allow this method on the requested resource");
    return true;
  }

  #create(namespace: string, plural: "jobs" | "secrets", body: string, res: ServerResponse): void {
    let o: Record<string, any>;
    try {
      o = JSON.parse(body);
    } catch (e) {
      status(res, 400, "BadRequest", `the request body could not be decoded: ${(e as Error).message}`);
      return;
    }
    const kind = plural === "jobs" ? "Job" : "Secret";
    const what = plural === "jobs" ? "jobs.batch" : "secrets";
    const name = o?.metadata?.name;
    if (o?.metadata?.namespace !== undefined && o.metadata.namespace !== namespace) {
      status(res, 400, "BadRequest", "the namespace of the provided object does not match the namespace sent on the request");
      return;
    }
    if (typeof name !== "string" || !/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(name)) {
      status(
        res,
        422,
        "Invalid",
        `${kind}${plural === "jobs" ? ".batch" : ""} "${name ?? ""}" is invalid: metadata.name: Required value: name or generateName is required`,
        { kind, causes: [{ reason: "FieldValueRequired", field: "metadata.name" }] },
      );
      return;
    }
    const path = plural === "jobs" ? `/apis/batch/v1/namespaces/${namespace}/jobs/${name}` : `/api/v1/namespaces/${namespace}/secrets/${name}`;
    if (this.#objects.has(path)) {
      status(res, 409, "AlreadyExists", `${what} "${name}" already exists`, { name, group: plural === "jobs" ? "batch" : undefined, kind: plural });
      return;
    }
    const invalid = plural === "jobs" ? jobProblems(o) : secretProblems(o);
    if (invalid.length > 0) {
      status(
        res,
        422,
        "Invalid",
        `${kind}${plural === "jobs" ? ".batch" : ""} "${name}" is invalid: ${invalid.map((c) => `${c.field}: ${c.message}`).join(", ")}`,
        { name, kind, causes: invalid },
      );
      return;
    }
    if (plural === "jobs") {
      const quota = this.#jobQuota.get(namespace);
      const used = [...this.#objects.keys()].filter((k) => k.startsWith(`/apis/batch/v1/namespaces/${namespace}/jobs/`)).length;
      if (quota !== undefined && used + 1 > quota) {
        status(
          res,
          403,
          "Forbidden",
          `jobs.batch "${name}" is forbidden: exceeded quota: jobs, requested: count/jobs.batch=1, used: count/jobs.batch=${used}, limited: count/jobs.batch=${quota}`,
          { name, group: "batch", kind: "jobs" },
        );
        return;
      }
    }
    const meta = { ...o.metadata, ...this.#meta(namespace, name) };
    let object: Record<string, any>;
    if (plural === "jobs") {
      const uid = meta.uid;
      const selector = { matchLabels: { "batch.kubernetes.io/controller-uid": uid } };
      const template = structuredClone(o.spec.template);
      template.metadata = {
        ...(template.metadata ?? {}),
        labels: { ...(template.metadata?.labels ?? {}), "batch.kubernetes.io/controller-uid": uid, "batch.kubernetes.io/job-name": name },
      };
      object = {
        apiVersion: "batch/v1",
        kind: "Job",
        metadata: meta,
        spec: { parallelism: 1, completions: 1, backoffLimit: 6, completionMode: "NonIndexed", suspend: false, ...o.spec, selector, template },
        status: {},
      };
      const env = (o.spec.template.spec.containers[0].env ?? []) as { name: string; value?: string }[];
      const envOf = (n: string) => env.find((e) => e.name === n)?.value;
      this.#jobRuns.set(path, {
        startMs: Date.now(),
        durationMs: Number(envOf("FAKE_JOB_DURATION_MS") ?? this.#options.jobDurationMs ?? 1000),
        exitCode: Number(envOf("FAKE_JOB_EXIT_CODE") ?? 0),
      });
    } else {
      object = {
        apiVersion: "v1",
        kind: "Secret",
        metadata: meta,
        type: o.type ?? "Opaque",
        ...(o.immutable !== undefined ? { immutable: o.immutable } : {}),
        data: o.data ?? {},
      };
    }
    this.#put(path, { group: plural === "jobs" ? "batch" : "", plural, builtin: true, object });
    json(res, 201, plural === "jobs" ? this.#jobNow(path, object) : object);
  }

  /** The Job as the Job controller keeps it: running (one active pod) until its run ends, then Complete or Failed. */
  #jobNow(path: string, job: Record<string, any>): Record<string, any> {
    const run = this.#jobRuns.get(path);
    if (!run || job.status.conditions) return job;
    const start = new Date(run.startMs).toISOString();
    if (Date.now() < run.startMs + run.durationMs) {
      job.status = { active: 1, ready: 1, terminating: 0, startTime: start, uncountedTerminatedPods: {} };
      return job;
    }
    const end = new Date(run.startMs + run.durationMs).toISOString();
    const cond = (type: string, reason: string, message: string) => ({ type, status: "True", lastProbeTime: end, lastTransitionTime: end, reason, message });
    job.status =
      run.exitCode === 0
        ? {
            startTime: start,
            completionTime: end,
            succeeded: 1,
            ready: 0,
            terminating: 0,
            uncountedTerminatedPods: {},
            conditions: [
              cond("SuccessCriteriaMet", "CompletionsReached", "Reached expected number of succeeded pods"),
              cond("Complete", "CompletionsReached", "Reached expected number of succeeded pods"),
            ],
          }
        : {
            startTime: start,
            failed: 1,
            ready: 0,
            terminating: 0,
            uncountedTerminatedPods: {},
            conditions: [
              cond("FailureTarget", "BackoffLimitExceeded", "Job has reached the specified backoff limit"),
              cond("Failed", "BackoffLimitExceeded", "Job has reached the specified backoff limit"),
            ],
          };
    job.metadata.resourceVersion = this.#nextVersion();
    return job;
  }
}

/** What the API server's validation refuses in a Job (what a JobSink could get wrong). */
function jobProblems(o: Record<string, any>): { field: string; message: string }[] {
  const pod = o.spec?.template?.spec;
  if (!pod) return [{ field: "spec.template.spec", message: "Required value" }];
  const out: { field: string; message: string }[] = [];
  if (!Array.isArray(pod.containers) || pod.containers.length === 0) out.push({ field: "spec.template.spec.containers", message: "Required value" });
  if (!["Never", "OnFailure"].includes(pod.restartPolicy))
    out.push({ field: "spec.template.spec.restartPolicy", message: 'Required value: valid values: "OnFailure", "Never"' });
  const volumes = new Set(((pod.volumes ?? []) as { name: string }[]).map((v) => v.name));
  (pod.containers ?? []).forEach((c: Record<string, any>, i: number) => {
    for (const [j, mount] of ((c.volumeMounts ?? []) as { name: string }[]).entries()) {
      if (!volumes.has(mount.name)) out.push({ field: `spec.template.spec.containers[${i}].volumeMounts[${j}].name`, message: `Not found: "${mount.name}"` });
    }
  });
  return out;
}

/** A Secret's data must be base64 and, in all, at most 1 MiB. */
function secretProblems(o: Record<string, any>): { field: string; message: string }[] {
  let size = 0;
  for (const [key, value] of Object.entries((o.data ?? {}) as Record<string, unknown>)) {
    if (typeof value !== "string" || !/^[A-Za-z0-9+/]*={0,2}$/.test(value)) return [{ field: `data[${key}]`, message: "Invalid value: illegal base64 data" }];
    size += Buffer.from(value, "base64").length;
  }
  return size > 1024 * 1024 ? [{ field: "data", message: "Too long: must have at most 1048576 bytes" }] : [];
}

const revisionPath = (namespace: string, name: string) => `/apis/serving.knative.dev/v1/namespaces/${namespace}/revisions/${name}`;

function newPods(ready: number, options: WorkloadOptions): Pods {
  return {
    readyAt: Array.from({ length: ready }, () => 0),
    containerConcurrency: options.containerConcurrency ?? 0,
    serviceMs: options.serviceMs ?? 0,
    readyDelayMs: options.readyDelayMs,
    gateway: { unavailable: 0, overloaded: 0, served: [], inFlight: 0, maxInFlight: 0, maxOverCapacity: 0, firstReadyAt: null, firstServedAt: null },
  };
}

function readyCount(pods: Pods): number {
  const now = Date.now();
  return pods.readyAt.filter((t) => t <= now).length;
}

function scaleOf(o: Record<string, any>) {
  const { name, namespace, uid, resourceVersion, creationTimestamp } = o.metadata;
  return {
    kind: "Scale",
    apiVersion: "autoscaling/v1",
    metadata: { name, namespace, uid, resourceVersion, creationTimestamp },
    spec: { replicas: o.spec.replicas },
    status: {
      replicas: o.status.replicas,
      selector: Object.entries(o.spec.selector.matchLabels)
        .map(([k, v]) => `${k}=${v}`)
        .join(","),
    },
  };
}

/** RFC 7386 JSON merge patch. */
function mergePatch(target: any, patch: any): any {
  if (typeof patch !== "object" || patch === null || Array.isArray(patch)) return patch;
  const out: Record<string, any> = typeof target === "object" && target !== null && !Array.isArray(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/** RFC 6902 JSON patch: add, replace, remove, test (what scalers use). */
function jsonPatch(target: any, ops: any): any {
  if (!Array.isArray(ops)) throw new Error("a JSON patch must be an array");
  const doc = structuredClone(target);
  for (const op of ops) {
    const parts = String(op.path)
      .split("/")
      .slice(1)
      .map((p: string) => p.replace(/~1/g, "/").replace(/~0/g, "~"));
    const last = parts.pop();
    if (last === undefined) throw new Error(`invalid path ${op.path}`);
    let parent = doc;
    for (const p of parts) {
      if (typeof parent[p] !== "object" || parent[p] === null) {
        if (op.op !== "add") throw new Error(`path ${op.path} does not exist`);
        parent[p] = {};
      }
      parent = parent[p];
    }
    if (op.op === "test") {
      if (JSON.stringify(parent[last]) !== JSON.stringify(op.value)) throw new Error(`test failed at ${op.path}`);
    } else if (op.op === "remove" || op.op === "replace") {
      if (!(last in parent)) throw new Error(`path ${op.path} does not exist`);
      if (op.op === "remove") delete parent[last];
      else parent[last] = op.value;
    } else if (op.op === "add") parent[last] = op.value;
    else throw new Error(`unsupported op ${op.op}`);
  }
  return doc;
}

function json(res: ServerResponse, code: number, body: unknown): void {
  res.writeHead(code, { "Content-Type": "application/json" }).end(JSON.stringify(body));
}

function status(res: ServerResponse, code: number, reason: string, message: string, details?: Record<string, unknown>): void {
  json(res, code, { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, reason, ...(details ? { details } : {}), code });
}
