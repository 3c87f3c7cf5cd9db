import { describe, expect, it } from "vitest";
import { secretReader } from "../../../../shared/secrets.ts";
import { mnsPollerConfig, validateMnsSourceSpec } from "../../../../shared/bridges/mns/spec.ts";
import { rocketMQPollerConfig, validateRocketMQSourceSpec } from "../../../../shared/bridges/rocketmq/spec.ts";

const secrets = { accessKeyId: { secretKeyRef: { name: "SECRET_ALIYUN_AK_ID" } }, accessKeySecret: { secretKeyRef: { name: "SECRET_ALIYUN_AK_SECRET" } } };
const sink = { ref: { apiVersion: "serving.knative.dev/v1", kind: "Service", name: "handler" } };
const env: Record<string, string> = { SECRET_ALIYUN_AK_ID: "id", SECRET_ALIYUN_AK_SECRET: "secret" };

describe("RocketMQSource spec", () => {
  const spec = { endpoint: "https://1.mqrest.cn-hangzhou.aliyuncs.com", instanceId: "MQ_INST_1", topic: "t", groupId: "GID_g", tag: "A||B", ...secrets, sink };

  it("accepts a complete spec and yields the poller config with resolved secrets", () => {
    expect(validateRocketMQSourceSpec(spec)).toEqual([]);
    expect(rocketMQPollerConfig({ namespace: "ns", name: "src" }, spec, (n) => env[n])).toMatchObject({
      endpoint: spec.endpoint,
      topic: "t",
      groupId: "GID_g",
      tag: "A||B",
      credentials: { accessKeyId: "id", accessKeySecret: "secret" },
      namespace: "ns",
      name: "src",
    });
  });

  it("names every bad field", () => {
    const errors = validateRocketMQSourceSpec({
      endpoint: "ftp://x",
      groupId: 7,
      numOfMessages: 17,
      waitSeconds: -1,
      accessKeyId: { secretKeyRef: { name: "bad name" } },
    });
    expect(errors.map((e) => e.field)).toEqual([
      "spec.endpoint",
      "spec.topic",
      "spec.groupId",
      "spec.numOfMessages",
      "spec.waitSeconds",
      "spec.accessKeyId.secretKeyRef.name",
      "spec.accessKeySecret.secretKeyRef.name",
      "spec.sink",
    ]);
  });

  it("says which secret is missing when building the config", () => {
    expect(() => rocketMQPollerConfig({ namespace: "ns", name: "src" }, spec, secretReader({}))).toThrow(
      "spec.accessKeyId.secretKeyRef.name: Worker secret SECRET_ALIYUN_AK_ID is not set",
    );
  });
});

describe("MNSSource spec", () => {
  const spec = { endpoint: "https://123.mns.cn-hangzhou.aliyuncs.com", queue: "edge-queue", bodyEncoding: "base64", ...secrets, sink };

  it("accepts a complete spec", () => {
    expect(validateMnsSourceSpec(spec)).toEqual([]);
    expect(mnsPollerConfig({ namespace: "ns", name: "q" }, spec, (n) => env[n])).toMatchObject({ queue: "edge-queue", bodyEncoding: "base64" });
  });

  it("checks queue names and the body encoding", () => {
    expect(validateMnsSourceSpec({ ...spec, queue: "-bad_name", bodyEncoding: "hex" }).map((e) => e.field)).toEqual(["spec.queue", "spec.bodyEncoding"]);
    expect(validateMnsSourceSpec("x")).toEqual([{ field: "spec", message: "must be an object" }]);
  });
});
