/**
 * What the RocketMQSource and MNSSource specs share: an `endpoint`, the receive limits, the
 * access key as Worker secrets and a sink. Each kind adds its own addressing fields.
 *
 *   spec: {endpoint, ...own fields, numOfMessages?, waitSeconds?,
 *          accessKeyId: {secretKeyRef: {name}}, accessKeySecret: {secretKeyRef: {name}},
 *          securityToken?: {secretKeyRef: {name}}, sink}
 */
import type { FieldError } from "../../delivery/policy.ts";
import { validateDestination } from "../../resources/destination.ts";
import { intField, isObject, secretField, endpointField, type Spec } from "../../resources/spec-checks.ts";
import { RECEIVE_MAX_MESSAGES, RECEIVE_MAX_WAIT_SECONDS, type AliyunReceiveConfig } from "./receiver.ts";
import type { SecretReader } from "../../secrets.ts";

/** Every problem of an Alibaba source spec, in field order; `own` checks the kind's own fields. */
export function validateAliyunSourceSpec(spec: unknown, own: (spec: Spec, errors: FieldError[]) => void): FieldError[] {
  if (!isObject(spec)) return [{ field: "spec", message: "must be an object" }];
  const errors: FieldError[] = [];
  endpointField(spec, "endpoint", errors);
  own(spec, errors);
  intField(spec, "numOfMessages", 1, RECEIVE_MAX_MESSAGES, errors);
  intField(spec, "waitSeconds", 0, RECEIVE_MAX_WAIT_SECONDS, errors);
  secretField(spec, "accessKeyId", errors, true);
  secretField(spec, "accessKeySecret", errors, true);
  secretField(spec, "securityToken", errors, false);
  errors.push(...validateDestination(spec.sink, "spec.sink", true));
  return errors;
}

/**
 * The shared part of the poller config of a valid spec; `secret` reads the Worker secrets it names and
 * throws naming the field whose secret cannot be read.
 */
export function aliyunReceiveConfig(metadata: { namespace: string; name: string }, spec: Spec, secret: SecretReader): AliyunReceiveConfig {
  const read = (field: string, required: boolean): string | undefined => {
    const name = (spec[field] as { secretKeyRef?: { name?: string } } | undefined)?.secretKeyRef?.name;
    return name === undefined && !required ? undefined : secret(name ?? "", `spec.${field}.secretKeyRef.name`);
  };
  return {
    endpoint: spec.endpoint as string,
    numOfMessages: spec.numOfMessages as number | undefined,
    waitSeconds: spec.waitSeconds as number | undefined,
    credentials: { accessKeyId: read("accessKeyId", true)!, accessKeySecret: read("accessKeySecret", true)!, securityToken: read("securityToken", false) },
    namespace: metadata.namespace,
    name: metadata.name,
  };
}
