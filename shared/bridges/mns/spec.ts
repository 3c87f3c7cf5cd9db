/**
 * MNSSource (`sources.edge-eventing.dev/v1alpha1`) spec: validation and the poller config.
 *
 *   spec: {endpoint, queue, bodyEncoding?: raw|base64, numOfMessages?, waitSeconds?,
 *          accessKeyId: {secretKeyRef: {name}}, accessKeySecret: {secretKeyRef: {name}},
 *          securityToken?: {secretKeyRef: {name}}, sink}
 */
import type { FieldError } from "../../delivery/policy.ts";
import { stringField } from "../../resources/spec-checks.ts";
import { aliyunReceiveConfig, validateAliyunSourceSpec } from "../alibaba/spec.ts";
import type { MnsBodyEncoding, MnsPollerConfig } from "./poller.ts";
import type { SecretReader } from "../../secrets.ts";

/** MNS queue names: a letter or digit, then letters, digits and hyphens, at most 256 characters. */
const QUEUE_NAME = /^[A-Za-z0-9][A-Za-z0-9-]{0,255}$/;

export function validateMnsSourceSpec(spec: unknown): FieldError[] {
  return validateAliyunSourceSpec(spec, (spec, errors) => {
    const queue = stringField(spec, "queue", errors, true);
    if (queue && !QUEUE_NAME.test(queue))
      errors.push({ field: "spec.queue", message: "must be letters, digits and hyphens, starting with a letter or digit, at most 256 characters" });
    if (spec.bodyEncoding !== undefined && spec.bodyEncoding !== "raw" && spec.bodyEncoding !== "base64") {
      errors.push({ field: "spec.bodyEncoding", message: "must be raw or base64" });
    }
  });
}

export function mnsPollerConfig(metadata: { namespace: string; name: string }, spec: Record<string, unknown>, secret: SecretReader): MnsPollerConfig {
  return {
    ...aliyunReceiveConfig(metadata, spec, secret),
    queue: spec.queue as string,
    bodyEncoding: spec.bodyEncoding as MnsBodyEncoding | undefined,
  };
}
