/**
 * MNSSource (`sources.edge-eventing.dev/v1alpha1`) spec: validation and the poller config.
 *
 *   spec: {endpoint, queue, bodyEncoding?: raw|base64, numOfMessages?, waitSeconds?,
 *          accessKeyId: {secretKeyRef: {name}}, accessKeySecret: {secretKeyRef: {name}},
 *          securityToken?: {secretKeyRef: {name}}, sink}
 */
import type { FieldError } from "../../delivery/policy.ts";
import { validateDestination } from "../../resources/destination.ts";
import { intField, isObject, secretField, stringField, urlField } from "../rocketmq/spec-checks.ts";
import { aliyunCredentials } from "../rocketmq/spec.ts";
import { MNS_MAX_MESSAGES, MNS_MAX_WAIT_SECONDS, type MnsBodyEncoding, type MnsPollerConfig } from "./poller.ts";

/** MNS queue names: a letter or digit, then letters, digits and hyphens, at most 256 characters. */
const QUEUE_NAME = /^[A-Za-z0-9][A-Za-z0-9-]{0,255}$/;

export function validateMnsSourceSpec(spec: unknown): FieldError[] {
  if (!isObject(spec)) return [{ field: "spec", message: "must be an object" }];
  const errors: FieldError[] = [];
  urlField(spec, "endpoint", errors);
  const queue = stringField(spec, "queue", errors, true);
  if (queue && !QUEUE_NAME.test(queue)) errors.push({ field: "spec.queue", message: "must be letters, digits and hyphens, starting with a letter or digit, at most 256 characters" });
  if (spec.bodyEncoding !== undefined && spec.bodyEncoding !== "raw" && spec.bodyEncoding !== "base64") {
    errors.push({ field: "spec.bodyEncoding", message: "must be raw or base64" });
  }
  intField(spec, "numOfMessages", 1, MNS_MAX_MESSAGES, errors);
  intField(spec, "waitSeconds", 0, MNS_MAX_WAIT_SECONDS, errors);
  secretField(spec, "accessKeyId", errors, true);
  secretField(spec, "accessKeySecret", errors, true);
  secretField(spec, "securityToken", errors, false);
  errors.push(...validateDestination(spec.sink, "spec.sink", true));
  return errors;
}

export function mnsPollerConfig(
  metadata: { namespace: string; name: string },
  spec: Record<string, unknown>,
  secret: (name: string) => string | undefined,
): MnsPollerConfig {
  return {
    endpoint: spec.endpoint as string,
    queue: spec.queue as string,
    bodyEncoding: spec.bodyEncoding as MnsBodyEncoding | undefined,
    numOfMessages: spec.numOfMessages as number | undefined,
    waitSeconds: spec.waitSeconds as number | undefined,
    credentials: aliyunCredentials(spec, secret),
    namespace: metadata.namespace,
    name: metadata.name,
  };
}
