/**
 * KafkaSource (`sources.knative.dev`) spec: Knative's fields plus `spec.bridge`, validated, and the
 * poller config it yields once the bridge secret is resolved. A Knative manifest applies unchanged
 * with one `spec.bridge` added: `bootstrapServers` and `net` are accepted and unused (the bridge
 * holds the Kafka connection). `consumers` (default 1) runs that many consumer instances in the group,
 * each polled by its own object, so the group spreads the topics' partitions over them.
 *
 *   spec: {bootstrapServers?, topics, consumerGroup?, initialOffset?, consumers?, ordering?, net?,
 *          delivery?, ceOverrides?, sink, pollTimeoutMs?, assignment?,
 *          bridge: {type, url, secretKeyRef?: {name}, idleExpiryMs?, maxBytes?}}
 *
 * `bootstrapServers` and `topics` are lists, or in v1alpha1 also comma-separated strings (`topics: a,b`);
 * which form each version takes is its schema's rule (shared/resources/schemas.ts).
 */
import type { FieldError } from "../../delivery/policy.ts";
import { validateDestination } from "../../resources/destination.ts";
import { isObject, secretField } from "../../resources/spec-checks.ts";
import type { BridgeAuth, BridgeType, KafkaPollerConfig, TopicPartition } from "./config.ts";
import { validateKafkaPollerConfig } from "./config.ts";
import type { KeyType } from "./record.ts";
import type { SecretReader } from "../../secrets.ts";

/** Most consumer instances one KafkaSource runs (each is an object polling on its own). */
export const MAX_CONSUMERS = 64;
export const KEY_TYPE_LABEL = "kafkasources.sources.knative.dev/key-type";
/** Knative's default group is `knative-kafka-source-<uuid>`; the resource's uid keeps it stable here. */
export const DEFAULT_GROUP_PREFIX = "knative-kafka-source-";
const EXTENSION_NAME = /^[a-z0-9]{1,20}$/;

interface Metadata {
  namespace?: string;
  name?: string;
  uid?: string;
  labels?: Record<string, string>;
}

/** Every problem of a KafkaSource spec (empty when valid), with the manifest's field paths; JSON types are checked before, by its schema. */
export function validateKafkaSourceSpec(spec: unknown, metadata: Metadata = {}): FieldError[] {
  if (!isObject(spec)) return [{ field: "spec", message: "must be an object" }];
  const errors: FieldError[] = [];
  const bad = (field: string, message: string) => errors.push({ field, message });
  if (spec.consumers !== undefined && !(Number.isInteger(spec.consumers) && (spec.consumers as number) >= 1 && (spec.consumers as number) <= MAX_CONSUMERS))
    bad("spec.consumers", `must be an integer from 1 to ${MAX_CONSUMERS}`);
  if (typeof spec.consumers === "number" && spec.consumers > 1 && spec.assignment !== undefined)
    bad("spec.consumers", "must be 1 with spec.assignment (every consumer would read the same partitions)");
  if (spec.ordering !== undefined && spec.ordering !== "ordered" && spec.ordering !== "unordered") bad("spec.ordering", "must be ordered or unordered");
  errors.push(...validateDestination(spec.sink, "spec.sink", true));
  errors.push(...validateOverrides(spec.ceOverrides));

  if (!isObject(spec.bridge)) {
    bad(
      "spec.bridge",
      "is required: Workers cannot open Kafka's TCP protocol, so the router reads the topics through a Kafka REST bridge " +
        "(Confluent REST Proxy, Strimzi HTTP Bridge, Redpanda, Upstash) that you run or rent: " +
        "add spec.bridge: {type: confluent-v2 | strimzi | redpanda | upstash, url, secretKeyRef: {name}} (docs/BRIDGES.md)",
    );
    return errors;
  }
  // `spec.bridge` has the shape of a secret field: checks spec.bridge.secretKeyRef.name.
  if (spec.bridge.secretKeyRef !== undefined) secretField(spec, "bridge", errors, false);
  // The poller's own checks, on the config this spec yields (a placeholder secret stands for the real one).
  const placeholder = (value: string | undefined) => value ?? "placeholder";
  const config = kafkaPollerConfig(
    { namespace: placeholder(metadata.namespace), name: placeholder(metadata.name), uid: placeholder(metadata.uid), labels: metadata.labels },
    { ...spec, assignment: Array.isArray(spec.assignment) ? spec.assignment : undefined, bridge: { ...spec.bridge, secretKeyRef: undefined } },
    () => "placeholder",
  );
  if (spec.bridge.type === "upstash") config.bridge.auth = { username: "placeholder", password: "placeholder" };
  const reported = new Set(errors.map((e) => e.field));
  // Names are checked with the envelope (the namespace may come from the request path); one cause per field.
  const more = validateKafkaPollerConfig(config).filter(
    (e) => !e.field.startsWith("metadata.namespace") && !e.field.startsWith("metadata.name") && !reported.has(e.field),
  );
  return [...errors, ...more];
}

/**
 * The poller config of a valid spec; `secret` reads the Worker secret it names. The bridge secret's value
 * is `username:password` (HTTP Basic, and what Upstash needs) or else a bearer token.
 */
export function kafkaPollerConfig(
  metadata: { namespace: string; name: string; uid?: string; labels?: Record<string, string> },
  spec: Record<string, unknown>,
  secret: SecretReader,
  consumer = 0,
): KafkaPollerConfig {
  const bridge = spec.bridge as Record<string, unknown>;
  const secretName = (bridge.secretKeyRef as { name?: string } | undefined)?.name;
  let auth: BridgeAuth | undefined;
  if (secretName !== undefined) {
    const value = secret(secretName, "spec.bridge.secretKeyRef.name");
    const colon = value.indexOf(":");
    auth = colon > 0 ? { username: value.slice(0, colon), password: value.slice(colon + 1) } : { token: value };
  }
  return {
    bridge: {
      type: bridge.type as BridgeType,
      url: bridge.url as string,
      auth,
      idleExpiryMs: bridge.idleExpiryMs as number | undefined,
      maxBytes: bridge.maxBytes as number | undefined,
    },
    topics: namesOf(spec.topics),
    consumerGroup: (spec.consumerGroup as string | undefined) ?? `${DEFAULT_GROUP_PREFIX}${metadata.uid}`,
    initialOffset: (spec.initialOffset as "earliest" | "latest" | undefined) ?? "latest", // Knative's default
    source: { namespace: metadata.namespace, name: metadata.name },
    keyType: (metadata.labels?.[KEY_TYPE_LABEL] as KeyType | undefined) ?? "string",
    pollTimeoutMs: spec.pollTimeoutMs as number | undefined,
    assignment: spec.assignment as TopicPartition[] | undefined,
    consumer,
  };
}

/** How many consumer instances a KafkaSource runs (`spec.consumers`, default 1). */
export function kafkaConsumers(spec: { consumers?: unknown } | undefined): number {
  return typeof spec?.consumers === "number" ? spec.consumers : 1;
}

/**
 * One status from the consumer instances' own: Ready from the first that is not, lag and held messages
 * summed, the latest poll.
 */
export function mergeConsumerStatus(statuses: Record<string, unknown>[]): Record<string, unknown> {
  const ready = (s: Record<string, unknown>) =>
    (s.conditions as { type: string; status: string }[] | undefined)?.find((c) => c.type === "Ready")?.status === "True";
  const total = (field: string) => {
    const values = statuses.map((s) => s[field]).filter((v): v is number => typeof v === "number");
    return values.length > 0 ? { [field]: values.reduce((a, b) => a + b, 0) } : {};
  };
  const polls = statuses
    .map((s) => s.lastPollTime)
    .filter((v): v is string => typeof v === "string")
    .sort();
  return {
    ...statuses[0],
    conditions: (statuses.find((s) => !ready(s)) ?? statuses[0]).conditions,
    ...total("lag"),
    ...total("heldMessages"),
    ...(polls.length > 0 ? { lastPollTime: polls[polls.length - 1] } : {}),
    consumers: statuses.length,
  };
}

/** `ceOverrides.extensions` names as Knative validates them (their types are the schema's). */
function validateOverrides(value: unknown): FieldError[] {
  const extensions = (value as { extensions?: Record<string, unknown> } | undefined)?.extensions ?? {};
  return Object.keys(extensions)
    .filter((name) => !EXTENSION_NAME.test(name))
    .map((name) => ({ field: `spec.ceOverrides.extensions.${name}`, message: "extension names are 1-20 lower-case letters and digits" }));
}

/** A list of names, from a list or from v1alpha1's comma-separated string. */
function namesOf(value: unknown): string[] {
  if (typeof value === "string")
    return value
      .split(",")
      .map((s) => s.trim())
      .filter((s) => s !== "");
  return value as string[];
}
