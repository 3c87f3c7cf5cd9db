/**
 * The manifests behind webhook ingress: Knative's GitHubSource (sources.knative.dev/v1alpha1, as
 * eventing-github defines it) and the project's WebhookSource (sources.edge-eventing.dev/v1alpha1).
 * Validation lists every problem with its field path; `webhookConfig` turns a stored resource into
 * what `receiveWebhook` needs, reading secret values through the caller's lookup.
 */
import type { FieldError } from "../delivery/policy.ts";
import { isObject, secretField, stringField, urlField } from "../resources/spec-checks.ts";
import { validateDestination } from "../resources/destination.ts";
import type { SecretReader } from "../secrets.ts";
import { GITHUB_EVENTS } from "./github-events.ts";
import { PROVIDERS } from "./types.ts";
import type { GenericHmacSettings, Provider, WebhookConfig } from "./types.ts";

export type WebhookKind = "GitHubSource" | "WebhookSource";

/**
 * Both kinds share the path. When a GitHubSource and a WebhookSource have the same name, the
 * GitHubSource answers: it is the Knative kind, so a migrated Knative manifest keeps its URL.
 */
export const WEBHOOK_KINDS_BY_PRECEDENCE: WebhookKind[] = ["GitHubSource", "WebhookSource"];

export const DEFAULT_TIMESTAMP_TOLERANCE_SECONDS = 300;
/**
 * Upper bound of spec.timestampToleranceSeconds: the brokers' default dedup window (10 minutes). A replay
 * inside the tolerance is a duplicate the sink broker drops; outside it, the signature check refuses it.
 */
export const MAX_TIMESTAMP_TOLERANCE_SECONDS = 600;
/** Secrets one WebhookSource verifies with at once: the current one and those being rotated out. */
export const MAX_SECRETS = 5;

const ALGORITHMS = ["sha1", "sha256", "sha512"] as const;
const ENCODINGS = ["hex", "base64"] as const;
/** An HTTP header name (RFC 9110 token). */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** `owner` or `owner/repository`, as GitHub spells them. */
const OWNER_AND_REPOSITORY = /^[A-Za-z0-9-]+(\/[A-Za-z0-9._-]+)?$/;

export function validateWebhookSpec(kind: WebhookKind, spec: unknown): FieldError[] {
  if (!isObject(spec)) return [{ field: "spec", message: "must be an object" }];
  const errors = kind === "GitHubSource" ? validateGitHubSource(spec) : validateWebhookSource(spec);
  return [...errors, ...validateDestination(spec.sink, "spec.sink", true)];
}

function validateGitHubSource(spec: Record<string, unknown>): FieldError[] {
  const errors: FieldError[] = [];
  const owner = stringField(spec, "ownerAndRepository", errors, true);
  if (owner !== undefined && !OWNER_AND_REPOSITORY.test(owner)) {
    errors.push({ field: "spec.ownerAndRepository", message: "must be owner or owner/repository" });
  }
  const types = spec.eventTypes;
  if (!Array.isArray(types) || types.length === 0) {
    errors.push({ field: "spec.eventTypes", message: "must list at least one GitHub event" });
  } else {
    types.forEach((t, i) => {
      if (typeof t !== "string" || !(t in GITHUB_EVENTS)) {
        errors.push({ field: `spec.eventTypes[${i}]`, message: `unknown GitHub event; one of ${Object.keys(GITHUB_EVENTS).join(", ")}` });
      }
    });
  }
  secretField(spec, "secretToken", errors, true);
  // Knative registers the hook with accessToken; here the hook is registered by hand, so it is optional.
  secretField(spec, "accessToken", errors, false);
  if (spec.githubAPIURL !== undefined) urlField(spec, "githubAPIURL", errors);
  return errors;
}

function validateWebhookSource(spec: Record<string, unknown>): FieldError[] {
  const errors: FieldError[] = [];
  const provider = spec.provider;
  if (!PROVIDERS.includes(provider as Provider)) {
    errors.push({ field: "spec.provider", message: `must be one of ${PROVIDERS.join(", ")}` });
  }
  secretRefs(spec.secretKeyRef, errors);
  const tolerance = spec.timestampToleranceSeconds;
  if (
    tolerance !== undefined &&
    (typeof tolerance !== "number" || !Number.isInteger(tolerance) || tolerance < 0 || tolerance > MAX_TIMESTAMP_TOLERANCE_SECONDS)
  ) {
    errors.push({ field: "spec.timestampToleranceSeconds", message: `must be an integer from 0 (no check) to ${MAX_TIMESTAMP_TOLERANCE_SECONDS}` });
  }
  if (spec.publicUrl !== undefined) urlField(spec, "publicUrl", errors);
  if (provider === "generic-hmac") genericSettings(spec.genericHmac, errors);
  else if (spec.genericHmac !== undefined) errors.push({ field: "spec.genericHmac", message: "is only for provider generic-hmac" });
  return errors;
}

/** `{name}` or a list of them (rotation): the Worker secret names, in order. */
function secretRefs(value: unknown, errors: FieldError[]): string[] {
  if (value === undefined) {
    errors.push({ field: "spec.secretKeyRef", message: "is required: {name: WORKER_SECRET} or a list of them" });
    return [];
  }
  const refs = Array.isArray(value) ? value : [value];
  const path = (i: number) => (Array.isArray(value) ? `spec.secretKeyRef[${i}].name` : "spec.secretKeyRef.name");
  if (refs.length === 0 || refs.length > MAX_SECRETS) {
    errors.push({ field: "spec.secretKeyRef", message: `must name 1 to ${MAX_SECRETS} secrets` });
    return [];
  }
  const names: string[] = [];
  refs.forEach((ref, i) => {
    // Each entry is checked with the same rule as any `{secretKeyRef: {name}}` field.
    const wrapped: FieldError[] = [];
    const name = secretField({ ref: { secretKeyRef: ref } }, "ref", wrapped, true);
    if (name === undefined) errors.push({ field: path(i), message: wrapped[0].message });
    else names.push(name);
  });
  return names;
}

function genericSettings(value: unknown, errors: FieldError[]): void {
  if (!isObject(value)) {
    errors.push({ field: "spec.genericHmac", message: "is required for generic-hmac: {header, algorithm, encoding, prefix?}" });
    return;
  }
  if (typeof value.header !== "string" || !HEADER_NAME.test(value.header)) {
    errors.push({ field: "spec.genericHmac.header", message: "must be an HTTP header name" });
  }
  if (!ALGORITHMS.includes(value.algorithm as (typeof ALGORITHMS)[number])) {
    errors.push({ field: "spec.genericHmac.algorithm", message: `must be one of ${ALGORITHMS.join(", ")}` });
  }
  if (!ENCODINGS.includes(value.encoding as (typeof ENCODINGS)[number])) {
    errors.push({ field: "spec.genericHmac.encoding", message: `must be one of ${ENCODINGS.join(", ")}` });
  }
}

export interface WebhookResource {
  kind: WebhookKind;
  metadata: { namespace: string; name: string };
  spec: Record<string, unknown>;
}

/**
 * The verification config of a validated resource. `secret` reads the Worker secrets it names; one that
 * cannot be read is an error naming it (nothing is verified with "").
 */
export function webhookConfig(resource: WebhookResource, secret: SecretReader): WebhookConfig | { error: string } {
  const { kind, metadata, spec } = resource;
  const ignored: FieldError[] = [];
  const names = kind === "GitHubSource" ? [secretField(spec, "secretToken", ignored, true)] : secretRefs(spec.secretKeyRef, ignored);
  if (ignored.length > 0 || names.some((n) => n === undefined)) return { error: `${kind} ${metadata.name} has an invalid secret reference` };
  let secrets: string[];
  try {
    secrets = (names as string[]).map((name) => secret(name, kind === "GitHubSource" ? "spec.secretToken.secretKeyRef.name" : "spec.secretKeyRef"));
  } catch (e) {
    return { error: (e as Error).message };
  }
  const source = { namespace: metadata.namespace, name: metadata.name, kind };
  if (kind === "GitHubSource") {
    return {
      provider: "github",
      secrets,
      timestampToleranceSeconds: 0,
      source,
      ownerAndRepository: spec.ownerAndRepository as string,
      eventTypes: spec.eventTypes as string[],
    };
  }
  return {
    provider: spec.provider as Provider,
    secrets,
    timestampToleranceSeconds: (spec.timestampToleranceSeconds as number | undefined) ?? DEFAULT_TIMESTAMP_TOLERANCE_SECONDS,
    publicUrl: spec.publicUrl as string | undefined,
    generic: spec.genericHmac as GenericHmacSettings | undefined,
    source,
  };
}
