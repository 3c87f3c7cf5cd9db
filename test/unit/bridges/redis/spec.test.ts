import { describe, expect, it } from "vitest";
import { secretReader } from "../../../../shared/secrets.ts";
import { redisStreamPollerConfig, validateRedisStreamSourceSpec } from "../../../../shared/bridges/redis/spec.ts";

const spec = {
  url: "https://eu1-example.upstash.io",
  token: { secretKeyRef: { name: "SECRET_UPSTASH_REDIS_REST_TOKEN" } },
  stream: "orders",
  consumerGroup: "router",
  minIdleTime: "PT2M",
  sink: { uri: "https://example.com/in" },
};

describe("RedisStreamSource spec", () => {
  it("accepts a complete spec and builds the poller and client options", () => {
    expect(validateRedisStreamSourceSpec(spec)).toEqual([]);
    expect(redisStreamPollerConfig({ namespace: "ns", name: "src" }, spec, () => "tok")).toEqual({
      config: {
        stream: "orders",
        group: "router",
        consumer: "src",
        minIdleMs: 120_000,
        namespace: "ns",
        name: "src",
        initialOffset: undefined,
        count: undefined,
        dataField: undefined,
      },
      redis: { url: "https://eu1-example.upstash.io", token: "tok" },
    });
  });

  it("names every bad field", () => {
    const errors = validateRedisStreamSourceSpec({ url: "redis://x", stream: "", initialOffset: "middle", count: 0, minIdleTime: "60s", sink: spec.sink });
    expect(errors.map((e) => e.field)).toEqual([
      "spec.url",
      "spec.token.secretKeyRef.name",
      "spec.stream",
      "spec.consumerGroup",
      "spec.initialOffset",
      "spec.count",
      "spec.minIdleTime",
    ]);
  });

  it("says when the token secret is not set", () => {
    expect(() => redisStreamPollerConfig({ namespace: "ns", name: "src" }, spec, secretReader({}))).toThrow(
      "spec.token.secretKeyRef.name: Worker secret SECRET_UPSTASH_REDIS_REST_TOKEN is not set",
    );
  });
});
