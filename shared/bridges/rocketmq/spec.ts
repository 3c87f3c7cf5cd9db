/**
 * RocketMQSource (`sources.edge-eventing.dev/v1alpha1`) spec: validation and the poller config
 * it yields once the named Worker secrets are resolved.
 *
 *   spec: {endpoint, instanceId?, topic, groupId, tag?, numOfMessages?, waitSeconds?,
 *          accessKeyId: {secretKeyRef: {name}}, accessKeySecret: {secretKeyRef: {name}},
 *          securityToken?: {secretKeyRef: {name}}, sink}
 */
import type { FieldError } from "../../delivery/policy.ts";
import { stringField } from "../../resources/spec-checks.ts";
import { aliyunReceiveConfig, validateAliyunSourceSpec } from "../alibaba/spec.ts";
import type { RocketMQPollerConfig } from "./poller.ts";
import type { SecretReader } from "../../secrets.ts";

/** Limits of the API (request line up to 1024 characters keeps names short anyway). */
const NAME_MAX = 255;

export function validateRocketMQSourceSpec(spec: unknown): FieldError[] {
  return validateAliyunSourceSpec(spec, (spec, errors) => {
    for (const name of ["topic", "groupId"]) {
      const v = stringField(spec, name, errors, true);
      if (v && v.length > NAME_MAX) errors.push({ field: `spec.${name}`, message: `must be at most ${NAME_MAX} characters` });
    }
    stringField(spec, "instanceId", errors, false);
    stringField(spec, "tag", errors, false);
  });
}

/**
 * The poller config of a valid spec; `secret` reads the Worker secrets it names and throws naming the
 * field whose secret cannot be read.
 */
export function rocketMQPollerConfig(metadata: { namespace: string; name: string }, spec: Record<string, unknown>, secret: SecretReader): RocketMQPollerConfig {
  return {
    ...aliyunReceiveConfig(metadata, spec, secret),
    instanceId: spec.instanceId as string | undefined,
    topic: spec.topic as string,
    groupId: spec.groupId as string,
    tag: spec.tag as string | undefined,
  };
}
