/**
 * Field checks the source manifests' spec validators share (RocketMQ, MNS, Redis Streams, the
 * webhook sources). Each appends `{field, message}` causes (paths start with `spec.`) and returns
 * the value when it is usable.
 * Secrets never appear in a spec: `{secretKeyRef: {name: SECRET_...}}` names a Worker secret (shared/secrets.ts).
 */
import type { FieldError } from "../delivery/policy.ts";
import { isSecretName, SECRET_NAME_RULE } from "../secrets.ts";
import { isSecureEndpoint, SECURE_ENDPOINT_RULE } from "../transport.ts";

export type Spec = Record<string, unknown>;

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function stringField(spec: Spec, name: string, errors: FieldError[], required: boolean): string | undefined {
  const v = spec[name];
  if (v === undefined) {
    if (required) errors.push({ field: `spec.${name}`, message: "is required" });
    return undefined;
  }
  if (typeof v !== "string" || v === "") {
    errors.push({ field: `spec.${name}`, message: "must be a non-empty string" });
    return undefined;
  }
  return v;
}

export function intField(spec: Spec, name: string, min: number, max: number, errors: FieldError[]): number | undefined {
  const v = spec[name];
  if (v === undefined) return undefined;
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    errors.push({ field: `spec.${name}`, message: `must be an integer from ${min} to ${max}` });
    return undefined;
  }
  return v;
}

export function urlField(spec: Spec, name: string, errors: FieldError[]): string | undefined {
  const v = stringField(spec, name, errors, true);
  if (v === undefined) return undefined;
  let protocol = "";
  try {
    protocol = new URL(v).protocol;
  } catch {
    // reported below
  }
  if (protocol !== "https:" && protocol !== "http:") {
    errors.push({ field: `spec.${name}`, message: "must be an absolute http or https URL" });
    return undefined;
  }
  return v;
}

/** A URL the router sends credentials to: https, or http on this machine only (shared/transport.ts). */
export function endpointField(spec: Spec, name: string, errors: FieldError[]): string | undefined {
  const v = stringField(spec, name, errors, true);
  if (v === undefined) return undefined;
  if (isSecureEndpoint(v)) return v;
  errors.push({ field: `spec.${name}`, message: SECURE_ENDPOINT_RULE });
  return undefined;
}

/** `{secretKeyRef: {name}}`; returns the secret's name. */
export function secretField(spec: Spec, name: string, errors: FieldError[], required: boolean): string | undefined {
  const v = spec[name];
  if (v === undefined) {
    if (required) errors.push({ field: `spec.${name}.secretKeyRef.name`, message: "is required" });
    return undefined;
  }
  const ref = isObject(v) ? v.secretKeyRef : undefined;
  const secret = isObject(ref) ? ref.name : undefined;
  if (!isSecretName(secret)) {
    errors.push({ field: `spec.${name}.secretKeyRef.name`, message: SECRET_NAME_RULE });
    return undefined;
  }
  return secret;
}
