/**
 * Knative's RequestReply (eventing.knative.dev/v1alpha1): a synchronous front door to a Broker. Its
 * manifest's checks and defaults, and the route the ingress and the broker partitions work from.
 */
import { parseDuration } from "../delivery/duration.ts";
import { type DeliverySpec, type FieldError, validateDelivery } from "../delivery/policy.ts";
import type { Manifest } from "../resources/manifest.ts";
import { isAttributeName } from "../cloudevents/validate.ts";
import { isSecretName, SECRET_NAME_RULE, secretReader } from "../secrets.ts";

export interface RequestReplySpec {
  brokerRef: { apiVersion?: string; kind?: string; name: string; namespace?: string };
  correlationAttribute?: string;
  replyAttribute?: string;
  timeout?: string;
  delivery?: DeliverySpec;
  /** Worker secrets (`SECRET_*`) whose values sign the correlation values: the first signs, every one verifies. */
  secrets?: string[];
}

/** Knative's defaults. */
export const DEFAULT_CORRELATION_ATTRIBUTE = "correlationid";
export const DEFAULT_REPLY_ATTRIBUTE = "replyid";
export const DEFAULT_TIMEOUT = "PT30S";
/** The longest wait: a waiting request holds a connection and a waiter object's memory (docs/API.md). */
export const MAX_TIMEOUT_MS = 5 * 60_000;
/**
 * The router-wide Worker secret that signs correlation values of RequestReplies without `spec.secrets`.
 * Not a `SECRET_*` name, so no manifest can name it as something to send elsewhere.
 */
export const DEFAULT_KEY_SECRET = "REQUEST_REPLY_SECRET";

/** Attributes the router sets or that identify an event: never a correlation or reply attribute. */
const RESERVED = new Set(["id", "source", "specversion", "type", "knativearrivaltime", "knativebrokerttl"]);

/** What the ingress and the broker's partitions need of one RequestReply (the routing table's entry). */
export interface RequestReplyRoute {
  broker: string;
  correlationAttribute: string;
  replyAttribute: string;
  timeoutMs: number;
  /** The Worker secrets that hold its keys; absent: DEFAULT_KEY_SECRET. */
  secrets?: string[];
  /** Retries of handing a reply to its waiting request (`retry`, `backoffPolicy`, `backoffDelay`, `backoffMax`). */
  delivery?: DeliverySpec;
}

/** A RequestReply as its broker's partitions know it (BrokerConfig.requestReplies). */
export type RequestReplyEntry = RequestReplyRoute & { name: string };

export function validateRequestReply(m: Manifest<RequestReplySpec>): FieldError[] {
  const spec = m.spec as Partial<RequestReplySpec>;
  const causes: FieldError[] = [];
  const ref = spec.brokerRef as Record<string, unknown> | undefined;
  if (ref === undefined || ref === null || typeof ref !== "object")
    causes.push({ field: "spec.brokerRef", message: "is required: the Broker that requests go to" });
  else {
    if (typeof ref.name !== "string" || ref.name === "") causes.push({ field: "spec.brokerRef.name", message: "is required" });
    if (ref.kind !== undefined && (typeof ref.kind !== "string" || ref.kind.toLowerCase() !== "broker"))
      causes.push({ field: "spec.brokerRef.kind", message: "must be Broker" });
    if (ref.apiVersion !== undefined && ref.apiVersion !== "eventing.knative.dev/v1")
      causes.push({ field: "spec.brokerRef.apiVersion", message: "must be eventing.knative.dev/v1" });
    if (ref.namespace !== undefined && ref.namespace !== m.metadata.namespace)
      causes.push({ field: "spec.brokerRef.namespace", message: "must be the RequestReply's own namespace (cross-namespace references are not allowed)" });
  }
  for (const field of ["correlationAttribute", "replyAttribute"] as const) {
    const v = spec[field];
    if (v === undefined) continue;
    if (typeof v !== "string" || !isAttributeName(v))
      causes.push({ field: `spec.${field}`, message: "must be a CloudEvents attribute name (lower-case letters and digits, at most 20)" });
    else if (RESERVED.has(v))
      causes.push({ field: `spec.${field}`, message: `cannot be ${v}: the event's identity and the router's own attributes are not correlation values` });
  }
  if (causes.length === 0 && correlationAttribute(spec) === replyAttribute(spec))
    causes.push({ field: "spec.replyAttribute", message: "must differ from spec.correlationAttribute (a request would be its own reply)" });
  if (spec.timeout !== undefined) {
    const ms = typeof spec.timeout === "string" ? parseDuration(spec.timeout) : null;
    if (ms === null || ms <= 0 || ms > MAX_TIMEOUT_MS)
      causes.push({ field: "spec.timeout", message: `must be an ISO 8601 duration above zero and at most PT${MAX_TIMEOUT_MS / 60_000}M` });
  }
  causes.push(...validateDelivery(spec.delivery, "spec.delivery"));
  if (spec.delivery?.deadLetterSink !== undefined)
    causes.push({
      field: "spec.delivery.deadLetterSink",
      message: "is not supported: a reply that cannot be handed to its waiting request stays in the broker, where its triggers see it",
    });
  if (spec.secrets !== undefined) {
    if (!Array.isArray(spec.secrets) || spec.secrets.length === 0)
      causes.push({ field: "spec.secrets", message: "must list at least one Worker secret when given" });
    else {
      for (const [i, s] of spec.secrets.entries()) if (!isSecretName(s)) causes.push({ field: `spec.secrets[${i}]`, message: SECRET_NAME_RULE });
    }
  }
  return causes;
}

const correlationAttribute = (spec: Partial<RequestReplySpec>) => spec.correlationAttribute ?? DEFAULT_CORRELATION_ATTRIBUTE;
const replyAttribute = (spec: Partial<RequestReplySpec>) => spec.replyAttribute ?? DEFAULT_REPLY_ATTRIBUTE;

/** The route of a valid RequestReply, defaults filled in. */
export function requestReplyRoute(m: Manifest<RequestReplySpec>): RequestReplyRoute {
  const { spec } = m;
  return {
    broker: spec.brokerRef.name,
    correlationAttribute: correlationAttribute(spec),
    replyAttribute: replyAttribute(spec),
    timeoutMs: parseDuration(spec.timeout ?? DEFAULT_TIMEOUT)!,
    ...(spec.secrets ? { secrets: spec.secrets } : {}),
    ...(spec.delivery ? { delivery: spec.delivery } : {}),
  };
}

/** The address path of a RequestReply, without the base URL. */
export function requestReplyPath(namespace: string, name: string): string {
  return `requestreplies/${namespace}/${name}`;
}

/** The keys that sign and verify a RequestReply's correlation values (the first signs); throws naming the secret that is missing. */
export function signingKeys(env: object, route: RequestReplyRoute): string[] {
  if (route.secrets) {
    const read = secretReader(env);
    return route.secrets.map((name, i) => read(name, `spec.secrets[${i}]`));
  }
  const value = (env as Record<string, unknown>)[DEFAULT_KEY_SECRET];
  if (typeof value !== "string" || value === "")
    throw new Error(`Worker secret ${DEFAULT_KEY_SECRET} is not set (wrangler secret put ${DEFAULT_KEY_SECRET}), and spec.secrets names none`);
  return [value];
}
