/** KafkaSource poller settings, validated with errors that name the manifest field. */
import { encodeBase64 } from "../../base64.ts";
import { KEY_TYPES } from "./record.ts";
import type { KeyType, SourceRef } from "./record.ts";
import { isSecureEndpoint, SECURE_ENDPOINT_RULE } from "../../transport.ts";

export type BridgeType = "confluent-v2" | "redpanda" | "strimzi" | "upstash";
export const BRIDGE_TYPES: readonly BridgeType[] = ["confluent-v2", "redpanda", "strimzi", "upstash"];

export type BridgeAuth = { username: string; password: string } | { token: string };

export interface TopicPartition {
  topic: string;
  partition: number;
}

export interface KafkaPollerConfig {
  bridge: {
    type: BridgeType;
    /** Bridge root URL, e.g. `https://rest-proxy.example:8082` (Upstash: the cluster's REST URL). */
    url: string;
    auth?: BridgeAuth;
    /** Consumer instance idle expiry of the server; defaults per bridge (Confluent/Redpanda 300 s, Strimzi never). */
    idleExpiryMs?: number;
    /** `max_bytes` of a fetch (default 1 MiB); Strimzi's 422 doubles it up to MAX_FETCH_BYTES. */
    maxBytes?: number;
  };
  topics: string[];
  consumerGroup: string;
  initialOffset: "earliest" | "latest";
  source: SourceRef;
  keyType: KeyType;
  /** Long-poll wait per fetch (default 10 s, at most 30 s). */
  pollTimeoutMs?: number;
  /** Read only these partitions (manual assignment, one poller per partition); Confluent v2 and Strimzi only. */
  assignment?: TopicPartition[];
  /** Which of the source's `spec.consumers` consumer instances this poller is (0 when there is one). */
  consumer?: number;
}

export const DEFAULT_POLL_TIMEOUT_MS = 10_000;
export const MAX_POLL_TIMEOUT_MS = 30_000;
export const DEFAULT_FETCH_BYTES = 1 << 20;
/** Upper bound of one fetch: a Worker has 128 MB and the response is base64 (4/3) plus parsing. */
export const MAX_FETCH_BYTES = 16 << 20;

export interface ConfigError {
  field: string;
  message: string;
}

const TOPIC_NAME = /^[a-zA-Z0-9._-]{1,249}$/;
// Kubernetes names: the parts of the consumer instance name and of the CloudEvent source.
const DNS_LABEL = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

/** Every problem of a config (empty when valid). Field paths follow the KafkaSource manifest. */
export function validateKafkaPollerConfig(config: KafkaPollerConfig): ConfigError[] {
  const errors: ConfigError[] = [];
  const bad = (field: string, message: string) => errors.push({ field, message });
  const { bridge } = config;
  if (!BRIDGE_TYPES.includes(bridge?.type)) bad("spec.bridge.type", `must be one of ${BRIDGE_TYPES.join(", ")}`);
  if (!isSecureEndpoint(bridge?.url)) bad("spec.bridge.url", SECURE_ENDPOINT_RULE);
  if (bridge?.auth && "token" in bridge.auth && bridge.type === "upstash") {
    bad("spec.bridge.secretKeyRef", "upstash authenticates with username and password, not a token");
  }
  if (bridge?.idleExpiryMs !== undefined && !(Number.isInteger(bridge.idleExpiryMs) && bridge.idleExpiryMs > 0)) {
    bad("spec.bridge.idleExpiryMs", "must be a positive integer (milliseconds)");
  }
  if (bridge?.maxBytes !== undefined && !(Number.isInteger(bridge.maxBytes) && bridge.maxBytes >= 1024 && bridge.maxBytes <= MAX_FETCH_BYTES)) {
    bad("spec.bridge.maxBytes", `must be an integer between 1024 and ${MAX_FETCH_BYTES}`);
  }
  if (!Array.isArray(config.topics) || config.topics.length === 0) bad("spec.topics", "at least one topic is required");
  else {
    for (const [i, t] of config.topics.entries()) if (!TOPIC_NAME.test(t)) bad(`spec.topics[${i}]`, "is not a valid Kafka topic name");
  }
  if (typeof config.consumerGroup !== "string" || config.consumerGroup.length === 0) bad("spec.consumerGroup", "is required");
  if (config.initialOffset !== "earliest" && config.initialOffset !== "latest") {
    bad("spec.initialOffset", "must be earliest or latest");
  } else if (config.initialOffset === "latest" && bridge?.type === "redpanda") {
    bad("spec.initialOffset", "redpanda's HTTP proxy only accepts earliest (auto.offset.reset is enforced)");
  }
  if (!DNS_LABEL.test(config.source?.namespace ?? "")) bad("metadata.namespace", "must be a Kubernetes name");
  if (!DNS_LABEL.test(config.source?.name ?? "")) bad("metadata.name", "must be a Kubernetes name");
  if (!KEY_TYPES.includes(config.keyType)) {
    bad("metadata.labels[kafkasources.sources.knative.dev/key-type]", `must be one of ${KEY_TYPES.join(", ")}`);
  }
  const wait = config.pollTimeoutMs;
  if (wait !== undefined && !(Number.isInteger(wait) && wait >= 0 && wait <= MAX_POLL_TIMEOUT_MS)) {
    bad("spec.pollTimeoutMs", `must be an integer between 0 and ${MAX_POLL_TIMEOUT_MS}`);
  }
  if (config.assignment !== undefined) {
    if (bridge?.type === "redpanda" || bridge?.type === "upstash") {
      bad("spec.assignment", `${bridge.type} has no manual partition assignment`);
    }
    config.assignment.forEach((tp, i) => {
      if (!config.topics?.includes(tp.topic)) bad(`spec.assignment[${i}].topic`, "must be one of spec.topics");
      if (!(Number.isInteger(tp.partition) && tp.partition >= 0)) bad(`spec.assignment[${i}].partition`, "must be a non-negative integer");
    });
  }
  return errors;
}

/** `Authorization` header value for the bridge, if any. */
export function authorization(auth: BridgeAuth | undefined): string | undefined {
  if (!auth) return undefined;
  if ("token" in auth) return `Bearer ${auth.token}`;
  return `Basic ${encodeBase64(`${auth.username}:${auth.password}`)}`;
}
