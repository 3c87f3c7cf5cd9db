/** Kubernetes-shaped resources: what every manifest has, and how a request body becomes one. */
import { isMap, isScalar, isSeq, parseAllDocuments, parseDocument } from "yaml";
import type { FieldError } from "../delivery/policy.ts";
import type { ManagedFieldsEntry } from "../kube-api/field-managers.ts";

export interface Metadata {
  name: string;
  namespace?: string;
  uid?: string;
  generation?: number;
  resourceVersion?: string;
  creationTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  managedFields?: ManagedFieldsEntry[];
}

export interface Condition {
  type: string;
  status: "True" | "False" | "Unknown";
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
}

/** A condition as Knative reports it: a message only when there is something to say. */
export function condition(type: string, status: Condition["status"], reason: string, message?: string): Condition {
  return { type, status, reason, ...(message ? { message } : {}) };
}

/** The `Ready` condition: True, or False with the reason and what is wrong. */
export const readyCondition = (ok: boolean, reason: string, message?: string): Condition => condition("Ready", ok ? "True" : "False", reason, message);

export interface Manifest<Spec = Record<string, unknown>> {
  apiVersion: string;
  kind: string;
  metadata: Metadata;
  spec: Spec;
  status?: Record<string, unknown>;
}

/** DNS-1123 subdomain, as Kubernetes requires of object names. */
const NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** DNS-1123 label, as Kubernetes requires of namespaces. */
const LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export function isValidName(name: unknown): name is string {
  return typeof name === "string" && name.length <= 253 && NAME.test(name);
}

export function isValidNamespace(ns: unknown): ns is string {
  return typeof ns === "string" && ns.length <= 63 && LABEL.test(ns);
}

/** Largest management request body; manifests are small, and this bounds YAML parsing work. */
export const MAX_MANIFEST_BYTES = 256 * 1024;

/** Types a client sends when it does not say (curl -d, fetch with a string body): parsed as YAML, a superset of JSON. */
const UNDECLARED = new Set(["", "text/plain", "application/x-www-form-urlencoded", "application/octet-stream"]);
/** YAML bodies; `apply-patch+yaml` is server-side apply's (kubectl sends it as JSON, which is YAML). */
const YAML_TYPES = new Set(["application/yaml", "application/x-yaml", "text/yaml", "application/apply-patch+yaml"]);

/** A parsed body: its value (a duplicated key keeps its last value) and the paths of duplicated keys. */
export interface ParsedManifest {
  value: unknown;
  duplicates: string[];
}

/** Why a body is not a manifest: the message, its status, and for a refused field name each field's path. */
export interface BodyError {
  error: string;
  status: 400 | 415;
  causes?: FieldError[];
}

/**
 * Keys that name JavaScript's object machinery. No manifest field has these names, and a merge that wrote
 * one could change every object of the isolate, so a body holding one anywhere is refused before any use.
 */
const PROTOTYPE_KEYS = new Set(["__proto__", "constructor", "prototype"]);

/** Field paths (`spec.__proto__`, `spec.filters[0].exact.constructor`) of every prototype key in a parsed body. */
export function prototypeKeys(value: unknown, path = ""): string[] {
  if (Array.isArray(value)) return value.flatMap((item, i) => prototypeKeys(item, `${path}[${i}]`));
  if (typeof value !== "object" || value === null) return [];
  return Object.entries(value).flatMap(([key, v]) => {
    const field = path === "" ? key : `${path}.${key}`;
    return PROTOTYPE_KEYS.has(key) ? [field] : prototypeKeys(v, field);
  });
}

/** One JSON or YAML document from a request body, or the reason it is not one (415 for other media types). */
export function parseManifestBody(contentType: string | null, text: string): ParsedManifest | BodyError {
  const parsed = parseDocumentBody(contentType, text);
  if ("error" in parsed) return parsed;
  const forbidden = prototypeKeys(parsed.value);
  if (forbidden.length === 0) return parsed;
  const message = `field names __proto__, constructor and prototype are not allowed: ${forbidden.join(", ")}`;
  return { error: message, status: 400, causes: forbidden.map((field) => ({ field, message: "field name not allowed" })) };
}

function parseDocumentBody(contentType: string | null, text: string): ParsedManifest | BodyError {
  const type = (contentType ?? "").split(";")[0].trim().toLowerCase();
  if (type === "application/json" || type.endsWith("+json")) {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (e) {
      return { error: `body is not valid JSON: ${(e as Error).message}`, status: 400 };
    }
    // JSON.parse keeps a duplicated key's last value silently; JSON is YAML, whose syntax tree shows them.
    const tree = parseDocument(text, { uniqueKeys: false });
    return { value, duplicates: tree.errors.length > 0 ? [] : duplicateKeys(tree.contents, "") };
  }
  if (!YAML_TYPES.has(type) && !UNDECLARED.has(type)) {
    return { error: `unsupported Content-Type ${type}: use application/json or application/yaml`, status: 415 };
  }
  const docs = parseAllDocuments(text, { uniqueKeys: false });
  if (!Array.isArray(docs)) return { error: "body holds no YAML document", status: 400 };
  const nonEmpty = docs.filter((d) => d.contents !== null);
  if (nonEmpty.length !== 1) return { error: `body must hold exactly one YAML document, found ${nonEmpty.length}`, status: 400 };
  const doc = nonEmpty[0];
  if (doc.errors.length > 0) return { error: `body is not valid YAML: ${doc.errors[0].message}`, status: 400 };
  return { value: doc.toJS({ maxAliasCount: 100 }), duplicates: duplicateKeys(doc.contents, "") };
}

/** Field paths (`spec.broker`, `spec.filters[0].exact.type`) of every key given twice in its mapping. */
function duplicateKeys(node: unknown, path: string): string[] {
  if (isSeq(node)) return node.items.flatMap((item, i) => duplicateKeys(item, `${path}[${i}]`));
  if (!isMap(node)) return [];
  const seen = new Set<string>();
  return node.items.flatMap((pair) => {
    const key = String(isScalar(pair.key) ? pair.key.value : pair.key);
    const field = path === "" ? key : `${path}.${key}`;
    const again = seen.has(key) ? [field] : [];
    seen.add(key);
    return [...again, ...duplicateKeys(pair.value, field)];
  });
}

/** The checks every manifest shares; kind-specific checks come from its KindInfo. */
export function validateEnvelope(value: unknown, expect: { apiVersions: string[]; kind: string; namespace: string; name?: string }): FieldError[] {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return [{ field: "", message: "must be an object" }];
  const m = value as Record<string, unknown>;
  const causes: FieldError[] = [];
  if (!expect.apiVersions.includes(m.apiVersion as string)) {
    causes.push({ field: "apiVersion", message: `must be one of ${expect.apiVersions.join(", ")}` });
  }
  if (m.kind !== expect.kind) causes.push({ field: "kind", message: `must be ${expect.kind}` });
  const md = m.metadata as Record<string, unknown> | undefined;
  if (typeof md !== "object" || md === null || Array.isArray(md)) {
    causes.push({ field: "metadata", message: "must be an object" });
    return causes;
  }
  if (!isValidName(md.name)) causes.push({ field: "metadata.name", message: "must be a DNS-1123 subdomain (lower-case letters, digits, '-', '.')" });
  else if (expect.name !== undefined && md.name !== expect.name) {
    causes.push({ field: "metadata.name", message: `must match the name in the path (${expect.name})` });
  }
  if (md.namespace !== undefined && md.namespace !== expect.namespace) {
    causes.push({ field: "metadata.namespace", message: `must match the namespace in the path (${expect.namespace})` });
  }
  return causes;
}
