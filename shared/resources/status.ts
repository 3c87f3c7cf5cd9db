/** Kubernetes `Status` objects, the shape every management API error takes (API.md §3). */
import type { FieldError } from "../delivery/policy.ts";

export type StatusReason =
  | "NotFound"
  | "AlreadyExists"
  | "Invalid"
  | "Unauthorized"
  | "BadRequest"
  | "MethodNotAllowed"
  | "RequestEntityTooLarge"
  | "UnsupportedMediaType"
  | "Conflict"
  | "Forbidden";

export interface KubeStatus {
  apiVersion: "v1";
  kind: "Status";
  /** Always empty, as the API server sends it: clients decode Status as an object with metadata. */
  metadata: Record<string, never>;
  status: "Failure" | "Success";
  reason?: StatusReason;
  code: number;
  message: string;
  details?: { name?: string; group?: string; kind?: string; causes?: FieldError[] };
}

export function failure(code: number, reason: StatusReason, message: string, details?: KubeStatus["details"]): KubeStatus {
  return { apiVersion: "v1", kind: "Status", metadata: {}, status: "Failure", reason, code, message, ...(details ? { details } : {}) };
}

/** 422 Invalid with every cause, as `kubectl apply` shows them. */
export function invalid(kind: string, name: string | undefined, causes: FieldError[]): KubeStatus {
  const list = causes.map((c) => `${c.field}: ${c.message}`).join("; ");
  return failure(422, "Invalid", `${kind} "${name ?? ""}" is invalid: ${list}`, { name, kind, causes });
}

/**
 * 403 Forbidden as apimachinery's NewForbidden words it: `{resource}.{group} "{name}" is forbidden: {why}`
 * (without a resource: `forbidden: {why}`).
 */
export function forbidden(group: string, resource: string, name: string | undefined, why: string): KubeStatus {
  const qualified = group === "" ? resource : `${resource}.${group}`;
  const message =
    resource === "" ? `forbidden: ${why}` : name ? `${qualified} ${JSON.stringify(name)} is forbidden: ${why}` : `${qualified} is forbidden: ${why}`;
  return failure(403, "Forbidden", message, { ...(name ? { name } : {}), group, kind: resource });
}
