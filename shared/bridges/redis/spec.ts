/**
 * RedisStreamSource (`sources.edge-eventing.dev/v1alpha1`) spec: validation and the poller config.
 *
 *   spec: {url, token: {secretKeyRef: {name}}, stream, consumerGroup, consumer?,
 *          initialOffset?: latest|earliest, count?, minIdleTime?: ISO 8601 duration,
 *          dataField?, sink}
 */
import type { RedisConfigCloudflare } from "@upstash/redis/cloudflare";
import { parseDuration } from "../../delivery/duration.ts";
import type { FieldError } from "../../delivery/policy.ts";
import { validateDestination } from "../../resources/destination.ts";
import { intField, isObject, secretField, stringField, endpointField } from "../../resources/spec-checks.ts";
import { REDIS_DEFAULT_MIN_IDLE_MS, REDIS_MAX_COUNT, type RedisStreamPollerConfig } from "./poller.ts";
import type { SecretReader } from "../../secrets.ts";

export function validateRedisStreamSourceSpec(spec: unknown): FieldError[] {
  if (!isObject(spec)) return [{ field: "spec", message: "must be an object" }];
  const errors: FieldError[] = [];
  endpointField(spec, "url", errors);
  secretField(spec, "token", errors, true);
  stringField(spec, "stream", errors, true);
  stringField(spec, "consumerGroup", errors, true);
  stringField(spec, "consumer", errors, false);
  stringField(spec, "dataField", errors, false);
  if (spec.initialOffset !== undefined && spec.initialOffset !== "latest" && spec.initialOffset !== "earliest") {
    errors.push({ field: "spec.initialOffset", message: "must be latest or earliest" });
  }
  intField(spec, "count", 1, REDIS_MAX_COUNT, errors);
  const idle = stringField(spec, "minIdleTime", errors, false);
  if (idle !== undefined && parseDuration(idle) === null) errors.push({ field: "spec.minIdleTime", message: "must be an ISO 8601 duration such as PT1M" });
  errors.push(...validateDestination(spec.sink, "spec.sink", true));
  return errors;
}

/** Poller config and `@upstash/redis` options of a valid spec; throws when the token secret is not set. */
export function redisStreamPollerConfig(
  metadata: { namespace: string; name: string },
  spec: Record<string, unknown>,
  secret: SecretReader,
): { config: RedisStreamPollerConfig; redis: RedisConfigCloudflare } {
  const tokenName = (spec.token as { secretKeyRef: { name: string } }).secretKeyRef.name;
  const token = secret(tokenName, "spec.token.secretKeyRef.name");
  const idle = spec.minIdleTime === undefined ? REDIS_DEFAULT_MIN_IDLE_MS : parseDuration(spec.minIdleTime as string)!;
  return {
    config: {
      stream: spec.stream as string,
      group: spec.consumerGroup as string,
      consumer: (spec.consumer as string | undefined) ?? metadata.name,
      initialOffset: spec.initialOffset as RedisStreamPollerConfig["initialOffset"],
      count: spec.count as number | undefined,
      minIdleMs: idle,
      dataField: spec.dataField as string | undefined,
      namespace: metadata.namespace,
      name: metadata.name,
    },
    redis: { url: spec.url as string, token },
  };
}
