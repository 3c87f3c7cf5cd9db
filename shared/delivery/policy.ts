/**
 * Knative's delivery spec as the router applies it: which answers are retried, how long to wait
 * before each retry, and how long to wait for an answer at all.
 */
import { encodeBase64 } from "../base64.ts";
import { parseDuration } from "./duration.ts";

export interface Destination {
  uri?: string;
  ref?: { apiVersion?: string; kind: string; name: string; namespace?: string };
}

/** `spec.delivery` of a Broker or Trigger, as written in the manifest. */
export interface DeliverySpec {
  deadLetterSink?: Destination;
  retry?: number;
  backoffPolicy?: "linear" | "exponential";
  backoffDelay?: string;
  backoffMax?: string;
  timeout?: string;
  retryAfterMax?: string;
  format?: "json" | "binary";
}

/** The resolved policy, durations in milliseconds. */
export interface DeliveryPolicy {
  retry: number;
  backoffPolicy: "linear" | "exponential";
  backoffDelayMs: number;
  backoffMaxMs: number | null;
  timeoutMs: number;
  retryAfterMaxMs: number | null;
  format: "binary" | "json";
}

/** Knative's cluster default broker delivery (config-br-defaults): used when neither Trigger nor Broker says. */
export const DEFAULT_DELIVERY: DeliverySpec = { retry: 10, backoffPolicy: "exponential", backoffDelay: "PT0.2S" };
/** Per-attempt timeout when `timeout` is unset (Knative has none; an unbounded fetch would hold a lease forever). */
export const DEFAULT_TIMEOUT_MS = 60_000;
/** Upper bounds that keep one attempt inside a Durable Object's 15-minute alarm and a sane schedule. */
export const MAX_TIMEOUT_MS = 10 * 60_000;
export const MAX_RETRY = 100;
/** No single wait is longer than a day: Knative's uncapped exponential reaches years within 30 retries. */
export const MAX_BACKOFF_MS = 86_400_000;

export interface FieldError {
  field: string;
  message: string;
}

/** Validation causes for a `delivery` object at `path` (e.g. `spec.delivery`). */
export function validateDelivery(delivery: unknown, path: string): FieldError[] {
  if (delivery === undefined || delivery === null) return [];
  if (typeof delivery !== "object" || Array.isArray(delivery)) return [{ field: path, message: "must be an object" }];
  const d = delivery as Record<string, unknown>;
  const causes: FieldError[] = [];
  if (d.retry !== undefined && !(Number.isInteger(d.retry) && (d.retry as number) >= 0 && (d.retry as number) <= MAX_RETRY)) {
    causes.push({ field: `${path}.retry`, message: `must be an integer from 0 to ${MAX_RETRY}` });
  }
  if (d.backoffPolicy !== undefined && d.backoffPolicy !== "linear" && d.backoffPolicy !== "exponential") {
    causes.push({ field: `${path}.backoffPolicy`, message: 'must be "linear" or "exponential"' });
  }
  for (const name of ["backoffDelay", "backoffMax", "timeout", "retryAfterMax"] as const) {
    const v = d[name];
    if (v === undefined) continue;
    const ms = typeof v === "string" ? parseDuration(v) : null;
    if (ms === null) causes.push({ field: `${path}.${name}`, message: "must be an ISO 8601 duration such as PT0.2S" });
    else if (name === "timeout" && (ms <= 0 || ms > MAX_TIMEOUT_MS)) {
      causes.push({ field: `${path}.timeout`, message: `must be greater than 0 and at most PT${MAX_TIMEOUT_MS / 1000}S` });
    }
  }
  if (d.format !== undefined && d.format !== "json" && d.format !== "binary") {
    causes.push({ field: `${path}.format`, message: 'must be "json" or "binary"' });
  }
  return causes;
}

/** The effective policy: a Trigger's delivery replaces the Broker's whole, with no field merge (Knative). */
export function resolvePolicy(trigger: DeliverySpec | undefined, broker: DeliverySpec | undefined): DeliveryPolicy {
  const d = trigger ?? broker ?? DEFAULT_DELIVERY;
  const ms = (v: string | undefined) => (v === undefined ? null : parseDuration(v));
  return {
    retry: d.retry ?? 0,
    backoffPolicy: d.backoffPolicy ?? "exponential",
    backoffDelayMs: ms(d.backoffDelay) ?? 0,
    backoffMaxMs: ms(d.backoffMax),
    timeoutMs: ms(d.timeout) ?? DEFAULT_TIMEOUT_MS,
    retryAfterMaxMs: ms(d.retryAfterMax),
    format: d.format === "json" ? "json" : "binary",
  };
}

/** Knative's delivery-spec table: retry on 404, 408, 409, 429, 5xx and when there was no answer at all. */
export function isRetryable(status: number | null): boolean {
  return status === null || status >= 500 || status === 404 || status === 408 || status === 409 || status === 429;
}

/**
 * Wait before retry `n` (1-based), the documented formula: linear `delay*n`, exponential `delay*2^n`,
 * capped by backoffMax (and always by a day). With retryAfterMax set, a 429/503 Retry-After stretches the wait up to that cap.
 */
export function retryDelayMs(policy: DeliveryPolicy, n: number, status: number | null, retryAfterMs: number | null): number {
  const base = policy.backoffPolicy === "linear" ? policy.backoffDelayMs * n : policy.backoffDelayMs * 2 ** n;
  const backoff = Math.min(base, policy.backoffMaxMs ?? MAX_BACKOFF_MS);
  if (policy.retryAfterMaxMs === null || retryAfterMs === null || (status !== 429 && status !== 503)) return backoff;
  return Math.max(backoff, Math.min(retryAfterMs, policy.retryAfterMaxMs));
}

/** A Retry-After header (delay-seconds or HTTP-date) in milliseconds from `nowMs`, or null. */
export function parseRetryAfter(value: string | null, nowMs: number): number | null {
  if (!value) return null;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, at - nowMs);
}

/** Bytes of a response body kept in `knativeerrordata`: base64 of 768 bytes is Knative's 1024-character cap. */
export const ERROR_DATA_MAX_BYTES = 768;

/** The knativeerror* extensions Knative adds to an event sent to the dead-letter sink. */
export function errorExtensions(dest: string, status: number | null, body: Uint8Array | string): Record<string, string | number> {
  const bytes = typeof body === "string" ? new TextEncoder().encode(body) : body;
  const kept = bytes.subarray(0, ERROR_DATA_MAX_BYTES);
  const ext: Record<string, string | number> = { knativeerrordest: dest, knativeerrorcode: status ?? 500 };
  if (kept.length > 0) ext.knativeerrordata = encodeBase64(kept);
  return ext;
}
