/**
 * A local Kubernetes API server (node:http, 127.0.0.1, random port) with exactly the endpoints
 * the actuation client uses, answering as the real API server does: autoscaling/v1 Scale of
 * apps/v1 Deployments/StatefulSets, serving.knative.dev/v1 Services and Revisions, PATCH with
 * merge / JSON / strategic-merge patches (strategic refused with 415 on custom resources),
 * metadata.resourceVersion preconditions (409), Status error objects. Requests are recorded.
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
}

/** Limit: request bodies above this size are refused with 413, as a real API server does (3 MiB). */
const MAX_BODY = 3 * 1024 * 1024;

export class FakeKubernetesApi {
  readonly requests: RecordedRequest[] = [];
  url = "";
  readonly #objects = new Map<string, StoredObject>();
  readonly #options: FakeKubernetesOptions;
  readonly #server = createServer((req, res) => void this.#handle(req, res));
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

  addWorkload(kind: "Deployment" | "StatefulSet", namespace: string, name: string, replicas: number): void {
    const plural = kind === "Deployment" ? "deployments" : "statefulsets";
    this.#put(`/apis/apps/v1/namespaces/${namespace}/${plural}/${name}`, {
      group: "apps", plural, builtin: true,
      object: {
        apiVersion: "apps/v1", kind, metadata: this.#meta(namespace, name),
        spec: { replicas, selector: { matchLabels: { app: name } } }, status: { replicas },
      },
    });
  }

  addKnativeService(namespace: string, name: string, revision: string | null, actualReplicas = 1): void {
    this.#put(`/apis/serving.knative.dev/v1/namespaces/${namespace}/services/${name}`, {
      group: "serving.knative.dev", plural: "services", builtin: false,
      object: {
        apiVersion: "serving.knative.dev/v1", kind: "Service", metadata: this.#meta(namespace, name),
        spec: { template: { spec: { containers: [{ image: "example" }] } } },
        status: revision ? { latestReadyRevisionName: revision, latestCreatedRevisionName: revision } : {},
      },
    });
    if (revision) {
      this.#put(`/apis/serving.knative.dev/v1/namespaces/${namespace}/revisions/${revision}`, {
        group: "serving.knative.dev", plural: "revisions", builtin: false,
        object: {
          apiVersion: "serving.knative.dev/v1", kind: "Revision", metadata: this.#meta(namespace, revision),
          spec: { containers: [{ image: "example" }] }, status: { actualReplicas },
        },
      });
    }
  }

  /** The stored object at an API path (without /scale), as the server holds it. */
  object(path: string): Record<string, any> | undefined {
    return this.#objects.get(path)?.object;
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
    const view = () => (isScale ? scaleOf(stored.object) : stored.object);
    if (req.method === "GET") return json(res, 200, view());
    if (req.method !== "PATCH") return status(res, 405, "MethodNotAllowed", `the server does not allow this method on the requested resource`);

    const type = (req.headers["content-type"] ?? "").split(";")[0].trim();
    const crdTypes = ["application/json-patch+json", "application/merge-patch+json", "application/apply-patch+yaml"];
    const accepted = stored.builtin || isScale ? [...crdTypes, "application/strategic-merge-patch+json"] : crdTypes;
    if (!accepted.includes(type)) {
      return status(res, 415, "UnsupportedMediaType", `the body of the request was in an unknown format - accepted media types include: ${accepted.join(", ")}`);
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
      return status(res, 409, "Conflict", `Operation cannot be fulfilled on ${stored.plural}.${stored.group} "${stored.object.metadata.name}": the object has been modified; please apply your changes to the latest version and try again`);
    }
    if (isScale) {
      const replicas = patched.spec?.replicas;
      if (!Number.isInteger(replicas) || replicas < 0) {
        return status(res, 422, "Invalid", `Scale.autoscaling "${stored.object.metadata.name}" is invalid: spec.replicas: Invalid value: ${JSON.stringify(replicas)}: must be greater than or equal to 0`, { causes: [{ field: "spec.replicas", message: "must be greater than or equal to 0" }] });
      }
      stored.object.spec.replicas = replicas;
      stored.object.metadata.generation++;
    } else {
      // Custom resources: only metadata changes are modelled (the client patches annotations).
      stored.object.metadata = { ...patched.metadata, resourceVersion: stored.object.metadata.resourceVersion };
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
      const changed = ["data", "stringData", "immutable", "type"].filter((f) => JSON.stringify(next[f] ?? null) !== JSON.stringify(f === "stringData" ? null : old[f] ?? null));
      if (old.immutable === true && changed.length > 0) {
        const causes = changed.map((f) => ({ reason: "FieldValueForbidden", message: f === "immutable" ? "field is immutable when `immutable` is set" : "Forbidden: field is immutable when `immutable` is set", field: f }));
        status(res, 422, "Invalid", `Secret "${name}" is invalid: ${changed.map((f) => `${f}: Forbidden: field is immutable when \`immutable\` is set`).join(", ")}`, { name, kind: "Secret", causes });
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
      return status(res, 400, "BadRequest", `the request body could not be decoded: ${(e as Error).message}`);
    }
    const kind = plural === "jobs" ? "Job" : "Secret";
    const what = plural === "jobs" ? "jobs.batch" : "secrets";
    const name = o?.metadata?.name;
    if (o?.metadata?.namespace !== undefined && o.metadata.namespace !== namespace) {
      return status(res, 400, "BadRequest", "the namespace of the provided object does not match the namespace sent on the request");
    }
    if (typeof name !== "string" || !/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(name)) {
      return status(res, 422, "Invalid", `${kind}${plural === "jobs" ? ".batch" : ""} "${name ?? ""}" is invalid: metadata.name: Required value: name or generateName is required`, { kind, causes: [{ reason: "FieldValueRequired", field: "metadata.name" }] });
    }
    const path = plural === "jobs" ? `/apis/batch/v1/namespaces/${namespace}/jobs/${name}` : `/api/v1/namespaces/${namespace}/secrets/${name}`;
    if (this.#objects.has(path)) return status(res, 409, "AlreadyExists", `${what} "${name}" already exists`, { name, group: plural === "jobs" ? "batch" : undefined, kind: plural });
    const invalid = plural === "jobs" ? jobProblems(o) : secretProblems(o);
    if (invalid.length > 0) {
      return status(res, 422, "Invalid", `${kind}${plural === "jobs" ? ".batch" : ""} "${name}" is invalid: ${invalid.map((c) => `${c.field}: ${c.message}`).join(", ")}`, { name, kind, causes: invalid });
    }
    if (plural === "jobs") {
      const quota = this.#jobQuota.get(namespace);
      const used = [...this.#objects.keys()].filter((k) => k.startsWith(`/apis/batch/v1/namespaces/${namespace}/jobs/`)).length;
      if (quota !== undefined && used + 1 > quota) {
        return status(res, 403, "Forbidden", `jobs.batch "${name}" is forbidden: exceeded quota: jobs, requested: count/jobs.batch=1, used: count/jobs.batch=${used}, limited: count/jobs.batch=${quota}`, { name, group: "batch", kind: "jobs" });
      }
    }
    const meta = { ...o.metadata, ...this.#meta(namespace, name) };
    let object: Record<string, any>;
    if (plural === "jobs") {
      const uid = meta.uid;
      const selector = { matchLabels: { "batch.kubernetes.io/controller-uid": uid } };
      const template = structuredClone(o.spec.template);
      template.metadata = { ...(template.metadata ?? {}), labels: { ...(template.metadata?.labels ?? {}), "batch.kubernetes.io/controller-uid": uid, "batch.kubernetes.io/job-name": name } };
      object = { apiVersion: "batch/v1", kind: "Job", metadata: meta, spec: { parallelism: 1, completions: 1, backoffLimit: 6, completionMode: "NonIndexed", suspend: false, ...o.spec, selector, template }, status: {} };
      const env = (o.spec.template.spec.containers[0].env ?? []) as { name: string; value?: string }[];
      const envOf = (n: string) => env.find((e) => e.name === n)?.value;
      this.#jobRuns.set(path, { startMs: Date.now(), durationMs: Number(envOf("FAKE_JOB_DURATION_MS") ?? this.#options.jobDurationMs ?? 1000), exitCode: Number(envOf("FAKE_JOB_EXIT_CODE") ?? 0) });
    } else {
      object = { apiVersion: "v1", kind: "Secret", metadata: meta, type: o.type ?? "Opaque", ...(o.immutable !== undefined ? { immutable: o.immutable } : {}), data: o.data ?? {} };
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
    job.status = run.exitCode === 0
      ? { startTime: start, completionTime: end, succeeded: 1, ready: 0, terminating: 0, uncountedTerminatedPods: {}, conditions: [cond("SuccessCriteriaMet", "CompletionsReached", "Reached expected number of succeeded pods"), cond("Complete", "CompletionsReached", "Reached expected number of succeeded pods")] }
      : { startTime: start, failed: 1, ready: 0, terminating: 0, uncountedTerminatedPods: {}, conditions: [cond("FailureTarget", "BackoffLimitExceeded", "Job has reached the specified backoff limit"), cond("Failed", "BackoffLimitExceeded", "Job has reached the specified backoff limit")] };
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
  if (!["Never", "OnFailure"].includes(pod.restartPolicy)) out.push({ field: "spec.template.spec.restartPolicy", message: 'Required value: valid values: "OnFailure", "Never"' });
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

function scaleOf(o: Record<string, any>) {
  const { name, namespace, uid, resourceVersion, creationTimestamp } = o.metadata;
  return {
    kind: "Scale", apiVersion: "autoscaling/v1",
    metadata: { name, namespace, uid, resourceVersion, creationTimestamp },
    spec: { replicas: o.spec.replicas },
    status: { replicas: o.status.replicas, selector: Object.entries(o.spec.selector.matchLabels).map(([k, v]) => `${k}=${v}`).join(",") },
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
    const parts = String(op.path).split("/").slice(1).map((p: string) => p.replace(/~1/g, "/").replace(/~0/g, "~"));
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
