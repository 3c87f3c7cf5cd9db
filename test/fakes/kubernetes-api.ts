/**
 * A local Kubernetes API server (node:http, 127.0.0.1, random port) with exactly the endpoints
 * the actuation client uses, answering as the real API server does: autoscaling/v1 Scale of
 * apps/v1 Deployments/StatefulSets, serving.knative.dev/v1 Services and Revisions, PATCH with
 * merge / JSON / strategic-merge patches (strategic refused with 415 on custom resources),
 * metadata.resourceVersion preconditions (409), Status error objects. Requests are recorded.
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
