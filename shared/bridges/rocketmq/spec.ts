/**
 * RocketMQSource (`sources.edge-eventing.dev/v1alpha1`) spec: validation and the poller config
 * it yields once the named Worker secrets are resolved.
 *
 *   spec: {endpoint, instanceId?, topic, groupId, tag?, numOfMessages?, waitSeconds?,
 *          accessKeyId: {secretKeyRef: {name}}, accessKeySecret: {secretKeyRef: {name}},
 *          securityToken?: {secretKeyRef: {name}}, sink}
 */
import type { FieldError } from "../../delivery/policy.ts";
import { validateDestination } from "../../resources/destination.ts";
import { ROCKETMQ_MAX_MESSAGES, ROCKETMQ_MAX_WAIT_SECONDS, type RocketMQPollerConfig } from "./poller.ts";
import { intField, isObject, secretField, stringField, urlField } from "./spec-checks.ts";

/** Limits of the API (request line up to 1024 characters keeps names short anyway). */
const NAME_MAX = 255;

export function validateRocketMQSourceSpec(spec: unknown): FieldError[] {
  if (!isObject(spec)) return [{ field: "spec", message: "must be an object" }];
  const errors: FieldError[] = [];
  urlField(spec, "endpoint", errors);
  for (const name of ["topic", "groupId"]) {
    const v = stringField(spec, name, errors, true);
    if (v && v.length > NAME_MAX) errors.push({ field: `spec.${name}`, message: `must be at most ${NAME_MAX} characters` });
  }
  stringField(spec, "instanceId", errors, false);
  stringField(spec, "tag", errors, false);
  intField(spec, "numOfMessages", 1, ROCKETMQ_MAX_MESSAGES, errors);
  intField(spec, "waitSeconds", 0, ROCKETMQ_MAX_WAIT_SECONDS, errors);
  secretField(spec, "accessKeyId", errors, true);
  secretField(spec, "accessKeySecret", errors, true);
  secretField(spec, "securityToken", errors, false);
  errors.push(...validateDestination(spec.sink, "spec.sink", true));
  return errors;
}

/**
 * The poller config of a valid spec; `secret(name)` reads a Worker secret. Throws naming the
 * field whose secret is not set.
 */
export function rocketMQPollerConfig(
  metadata: { namespace: string; name: string },
  spec: Record<string, unknown>,
  secret: (name: string) => string | undefined,
): RocketMQPollerConfig {
  return {
    endpoint: spec.endpoint as string,
    instanceId: spec.instanceId as string | undefined,
    topic: spec.topic as string,
    groupId: spec.groupId as string,
    tag: spec.tag as string | undefined,
    numOfMessages: spec.numOfMessages as number | undefined,
    waitSeconds: spec.waitSeconds as number | undefined,
    credentials: aliyunCredentials(spec, secret),
    namespace: metadata.namespace,
    name: metadata.name,
  };
}

/** Credentials from the spec's secretKeyRefs (shared with MNSSource). */
export function aliyunCredentials(spec: Record<string, unknown>, secret: (name: string) => string | undefined) {
  const read = (field: string, required: boolean): string | undefined => {
    const name = (spec[field] as { secretKeyRef?: { name?: string } } | undefined)?.secretKeyRef?.name;
    const value = name === undefined ? undefined : secret(name);
    if (required && !value) throw new Error(`spec.${field}: Worker secret ${name ?? "(unnamed)"} is not set`);
    return value;
  };
  return { accessKeyId: read("accessKeyId", true)!, accessKeySecret: read("accessKeySecret", true)!, securityToken: read("securityToken", false) };
}
