/**
 * Autoscaling through the running router (`wrangler dev`, its own alarms, nothing stepped by hand), one
 * test per ScaledObject trigger type: messages pile up in front of a slow sink, the Deployment is scaled
 * up, the backlog drains, it goes back to minReplicaCount 0 after cooldownPeriod. The message systems are
 * the protocol fakes (Kafka REST, RocketMQ HTTP) and a real redis-server; the Kubernetes API is the
 * local fake, which records every scale write.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KafkaLog, startKafkaRestFake, type FakeBridge } from "../fakes/kafka-rest.ts";
import { startFakeRocketMQ, type FakeRocketMQ } from "../fakes/alibaba-mq.ts";
import { FakeKubernetesApi } from "../fakes/kubernetes-api.ts";
import { auth, broker, eventually, resourcePath, script, received, trigger } from "../support/client.ts";
import { applyManifest } from "../support/manifests.ts";
import { redisMissing, startRedisRest, type RedisRest } from "../support/redis.ts";
import { freePort, startRouter, type RunningRouter } from "../support/router.ts";
import { startSubscriber, type Subscriber } from "../support/subscriber.ts";

const NS = "scale";
const K8S_TOKEN = "k8s-e2e-token";
const ALIYUN = { accessKeyId: "LTAI-e2e", accessKeySecret: "aliyun-e2e-secret" };
const REDIS_TOKEN = "redis-e2e-token";
/** Each delivery to the sink takes this long, so what the router buffers waits there for a while. */
const SINK_DELAY_MS = 4_000;
const MESSAGES = 12;

let router: RunningRouter;
let sub: Subscriber;
let k8s: FakeKubernetesApi;
let kafka: FakeBridge;
let rocketmq: FakeRocketMQ;
let redis: RedisRest | undefined;
const log = new KafkaLog();

beforeAll(async () => {
  log.createTopic("orders", 3);
  const redisDir = mkdtempSync(join(tmpdir(), "edge-e2e-redis-"));
  [sub, k8s, kafka, rocketmq, redis] = await Promise.all([
    startSubscriber(),
    new FakeKubernetesApi({ token: K8S_TOKEN }).start(),
    startKafkaRestFake("confluent-v2", { log }),
    startFakeRocketMQ(ALIYUN),
    redisMissing() ? undefined : freePort().then((redisPort) => startRedisRest({ token: REDIS_TOKEN, redisPort, dir: redisDir })),
  ]);
  router = await startRouter({
    vars: { SECRET_K8S_TOKEN: K8S_TOKEN, SECRET_ALIYUN_ID: ALIYUN.accessKeyId, SECRET_ALIYUN_KEY: ALIYUN.accessKeySecret, SECRET_REDIS_TOKEN: REDIS_TOKEN },
  });
});
afterAll(async () => {
  await Promise.all([router?.stop(), sub?.close(), k8s?.stop(), kafka?.close(), rocketmq?.close(), redis?.stop()]);
});

const apply = (path: string, body: unknown) => applyManifest((p, init) => fetch(`${router.url}${p}`, init), path, body);

const read = async (path: string) => (await (await fetch(`${router.url}${path}`, { headers: auth })).json()) as any;

async function applySource(kind: string, plural: string, group: string, name: string, spec: Record<string, unknown>): Promise<void> {
  const path = `/apis/${group}/namespaces/${NS}/${plural}/${name}`;
  await apply(path, { apiVersion: group, kind, metadata: { name }, spec: { ...spec, sink: { uri: `${sub.url}/${name}` } } });
  await eventually(async () => (await read(path)).status?.conditions?.[0]?.status === "True", 30_000, `${kind} ${name} polling`);
}

/** The replicas of every scale write to the Deployment, in order. */
const writes = (name: string) =>
  k8s.requests
    .filter((r) => r.method === "PATCH" && r.path.startsWith(`/apis/apps/v1/namespaces/${NS}/deployments/${name}`))
    .map((r) => JSON.parse(r.body).spec.replicas as number);

/**
 * A Deployment at 0 behind a slow sink, and a ScaledObject with `trigger` on it (polled every second,
 * one second of cooldown). `produce` piles up MESSAGES; then the replicas must go up, every message reach
 * the sink, and the replicas go back to 0. Returns the largest replica count written.
 */
async function scalesUpAndDown(name: string, trigger: Record<string, unknown>, produce: () => Promise<void>): Promise<number> {
  k8s.addWorkload("Deployment", NS, name, 0);
  await apply(`/apis/keda.sh/v1alpha1/namespaces/${NS}/scaledobjects/${name}`, {
    apiVersion: "keda.sh/v1alpha1",
    kind: "ScaledObject",
    metadata: { name },
    spec: {
      scaleTargetRef: { name },
      minReplicaCount: 0,
      maxReplicaCount: 10,
      pollingInterval: 1,
      cooldownPeriod: 1,
      cluster: { url: k8s.url, secretKeyRef: { name: "SECRET_K8S_TOKEN" } },
      triggers: [trigger],
    },
  });
  await produce();
  await eventually(async () => writes(name).some((n) => n >= 2), 30_000, `${name}: a scale-up while messages wait`);
  await eventually(async () => (await received(sub.url, `/${name}`)).length >= MESSAGES, 60_000, `${name}: every message delivered`);
  await eventually(async () => writes(name).at(-1) === 0, 30_000, `${name}: back to 0 after the cooldown`);
  const so = await read(`/apis/keda.sh/v1alpha1/namespaces/${NS}/scaledobjects/${name}`);
  expect(so.status.lastDecision).toMatchObject({ desiredReplicas: 0, reason: "KedaIdle" });
  return Math.max(...writes(name));
}

describe("every ScaledObject trigger type scales a Deployment through the running router", () => {
  it("edge-eventing: a Trigger's backlog", async () => {
    const name = "display";
    await script(sub.url, `/${name}`, [{ status: 200, delayMs: SINK_DELAY_MS }]);
    await apply(resourcePath(NS, "brokers", "default"), broker("default"));
    await apply(resourcePath(NS, "triggers", name), trigger(name, { broker: "default", subscriber: { uri: `${sub.url}/${name}` } }));
    const max = await scalesUpAndDown(
      name,
      { type: "edge-eventing", metadata: { broker: "default", trigger: name, metric: "backlog", target: "2" } },
      async () => {
        for (let i = 0; i < MESSAGES; i++) {
          const r = await fetch(`${router.url}/${NS}/default`, {
            method: "POST",
            headers: { "ce-specversion": "1.0", "ce-id": `e${i}`, "ce-source": "/e2e", "ce-type": "t", "content-type": "application/json" },
            body: "{}",
          });
          expect(r.status).toBe(202);
        }
      },
    );
    expect(max).toBeGreaterThanOrEqual(2);
  });

  it("kafka: KEDA's per-partition formula over the consumer's offsets plus what the router's channel holds for a slow sink", async () => {
    const name = "kafka-consumer";
    await script(sub.url, `/${name}`, [{ status: 200, delayMs: SINK_DELAY_MS }]);
    await applySource("KafkaSource", "kafkasources", "sources.knative.dev/v1", name, {
      bootstrapServers: ["kafka:9092"],
      topics: ["orders"],
      consumerGroup: "g",
      initialOffset: "earliest",
      bridge: { type: "confluent-v2", url: kafka.url },
      pollTimeoutMs: 500,
    });
    // Lag 1 per replica would ask for 10; KEDA never asks for more consumers than the topic's 3 partitions.
    const max = await scalesUpAndDown(name, { type: "kafka", metadata: { kafkaSource: name, lagThreshold: "1" } }, async () => {
      for (let i = 0; i < MESSAGES; i++) log.produce("orders", { key: `k${i}`, value: `{"n":${i}}`, partition: i % 3 });
    });
    expect(max).toBe(3);
    expect(log.groupCommits("g").size).toBe(3);
  });

  it("rocketmq: the messages the router drained into its channel, waiting for the sink", async () => {
    const name = "rocketmq-consumer";
    await script(sub.url, `/${name}`, [{ status: 200, delayMs: SINK_DELAY_MS }]);
    rocketmq.createTopic("jobs");
    await applySource("RocketMQSource", "rocketmqsources", "sources.edge-eventing.dev/v1alpha1", name, {
      endpoint: rocketmq.url,
      topic: "jobs",
      groupId: "GID_router",
      waitSeconds: 1,
      accessKeyId: { secretKeyRef: { name: "SECRET_ALIYUN_ID" } },
      accessKeySecret: { secretKeyRef: { name: "SECRET_ALIYUN_KEY" } },
    });
    const max = await scalesUpAndDown(name, { type: "rocketmq", metadata: { rocketmqSource: name, lagThreshold: "2" } }, async () => {
      for (let i = 0; i < MESSAGES; i++) rocketmq.publish("jobs", { body: `{"n":${i}}` });
    });
    expect(max).toBeGreaterThanOrEqual(2);
  });

  it("redis-streams: the group's lag and pending entries plus the router's channel (real redis-server)", async (ctx) => {
    if (!redis) return ctx.skip(redisMissing()!);
    const name = "redis-consumer";
    await script(sub.url, `/${name}`, [{ status: 200, delayMs: SINK_DELAY_MS }]);
    await applySource("RedisStreamSource", "redisstreamsources", "sources.edge-eventing.dev/v1alpha1", name, {
      url: redis.url,
      token: { secretKeyRef: { name: "SECRET_REDIS_TOKEN" } },
      stream: "tasks",
      consumerGroup: "router",
      initialOffset: "earliest",
    });
    const max = await scalesUpAndDown(name, { type: "redis-streams", metadata: { redisStreamSource: name, pendingEntriesCount: "2" } }, async () => {
      for (let i = 0; i < MESSAGES; i++) {
        const r = await fetch(redis!.url, {
          method: "POST",
          headers: { authorization: `Bearer ${REDIS_TOKEN}` },
          body: JSON.stringify(["XADD", "tasks", "*", "data", `{"n":${i}}`]),
        });
        expect(r.status).toBe(200);
      }
    });
    expect(max).toBeGreaterThanOrEqual(2);
  });
});
