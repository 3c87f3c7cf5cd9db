/**
 * The workerd side of the source tests: source resources through the router, and the fakes' control
 * API (test/support/global-sources.ts) that starts the message systems and drives their faults.
 * Shared by test/workers/sources*.test.ts.
 */
import { env, exports } from "cloudflare:workers";
import { inject } from "vitest";
import { auth, resourcePath } from "../support/client.ts";
import { applyManifest } from "../support/manifests.ts";

export const NS = "src";
const url = (path: string) => `http://router.test${path}`;
const fetchRouter = (path: string, init?: RequestInit) => exports.default.fetch(url(path), init);

const GROUPS: Record<string, string> = {
  kafkasources: "sources.knative.dev/v1beta1",
  pingsources: "sources.knative.dev/v1",
  rocketmqsources: "sources.edge-eventing.dev/v1alpha1",
  mnssources: "sources.edge-eventing.dev/v1alpha1",
  redisstreamsources: "sources.edge-eventing.dev/v1alpha1",
};
export const KINDS: Record<string, string> = {
  kafkasources: "KafkaSource",
  pingsources: "PingSource",
  rocketmqsources: "RocketMQSource",
  mnssources: "MNSSource",
  redisstreamsources: "RedisStreamSource",
};
export const sourcePath = (plural: string, name: string) => `/apis/${GROUPS[plural]}/namespaces/${NS}/${plural}/${name}`;

export async function applySource(plural: string, name: string, spec: Record<string, unknown>, metadata: Record<string, unknown> = {}): Promise<any> {
  return applyManifest(fetchRouter, sourcePath(plural, name), { apiVersion: GROUPS[plural], kind: KINDS[plural], metadata: { name, ...metadata }, spec });
}
export async function getSource(plural: string, name: string): Promise<any> {
  return (await exports.default.fetch(url(sourcePath(plural, name)), { headers: auth })).json();
}
export async function deleteSource(plural: string, name: string): Promise<Response> {
  return exports.default.fetch(url(sourcePath(plural, name)), { method: "DELETE", headers: auth });
}
export const applyEventing = (plural: string, body: { metadata: { name: string } }) =>
  applyManifest(fetchRouter, resourcePath(NS, plural, body.metadata.name), body);
/** Worker bindings of the test runtime (vitest.config.ts) that the fakes take as credentials. */
export const secrets = env as unknown as Record<string, string>;
export const poller = (plural: string, name: string) => env.POLLER.getByName(`${KINDS[plural]}/${NS}/${name}`);

/** The fakes' control API (global-sources.ts). */
export async function control<T = any>(path: string, args: Record<string, unknown> = {}): Promise<T> {
  const r = await fetch(`${inject("sourcesControlUrl")}/${path}`, { method: "POST", body: JSON.stringify(args) });
  const body = await r.json();
  if (!r.ok) throw new Error(`control ${path}: ${JSON.stringify(body)}`);
  return body as T;
}

/** A Confluent v2 REST proxy fake with one topic, and its controls. */
export async function kafkaFake(topic: string, partitions = 1) {
  const fake = await control<{ id: string; url: string }>("start", { type: "kafka", variant: "confluent-v2" });
  await control(`${fake.id}/createTopic`, { name: topic, partitions });
  const requests = () => control<Array<{ method: string; path: string; query: string; body: string }>>(`${fake.id}/requests`);
  return {
    url: fake.url,
    produce: (record: { value?: string; key?: string; partition?: number; headers?: Array<{ key: string; value: string | null }> }) =>
      control<{ offset: number }>(`${fake.id}/produce`, { topic, ...record }),
    instances: () => control<number>(`${fake.id}/instances`),
    commits: async () => (await requests()).filter((r) => r.method === "POST" && r.path.endsWith("/offsets")).map((r) => JSON.parse(r.body)),
    requests,
    committed: (group: string) => control<Record<string, number>>(`${fake.id}/committed`, { group }),
    failNext: (count: number, status: number, match: { method?: string; path?: string } = {}) => control(`${fake.id}/failNext`, { count, status, ...match }),
    expireInstances: () => control<number>(`${fake.id}/expireInstances`),
    stop: () => control(`${fake.id}/stop`),
    restart: () => control(`${fake.id}/restart`),
  };
}

export const kafkaSpec = (bridgeUrl: string, topic: string, sink: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  bootstrapServers: ["my-cluster-kafka-bootstrap.kafka:9092"],
  topics: [topic],
  consumerGroup: `g-${topic}`,
  initialOffset: "earliest",
  sink,
  bridge: { type: "confluent-v2", url: bridgeUrl },
  pollTimeoutMs: 500,
  ...extra,
});

/** The binding whose value is the redisServer's REST token (any secret of the test runtime serves). */
const REDIS_TOKEN_SECRET = "SECRET_SLACK_SIGNING_SECRET";

/** A RedisStreamSource's spec: `stream` of a redisServer from its start, read by consumer group "router". */
export const redisSpec = (redisUrl: string, stream: string, sink: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  url: redisUrl,
  token: { secretKeyRef: { name: REDIS_TOKEN_SECRET } },
  stream,
  consumerGroup: "router",
  initialOffset: "earliest",
  sink,
  ...extra,
});

/** Real redis-server behind the Upstash REST server (bin/upstash-redis.mjs), or the test skipped with the reason (no redis-server). */
export async function redisServer(test: { skip(note?: string): never }): Promise<{ url: string; command: (...args: string[]) => Promise<unknown> }> {
  const token = secrets[REDIS_TOKEN_SECRET];
  const redis = await control<{ url: string } | { skip: string }>("start", { type: "redis", token });
  if ("skip" in redis) {
    console.warn(`RedisStreamSource test skipped: ${redis.skip}`);
    return test.skip(redis.skip);
  }
  const command = async (...args: string[]) => {
    const r = await fetch(redis.url, { method: "POST", headers: { authorization: `Bearer ${token}` }, body: JSON.stringify(args) });
    return ((await r.json()) as { result: unknown }).result;
  };
  return { url: redis.url, command };
}
