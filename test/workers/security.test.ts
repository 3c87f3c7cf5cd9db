/**
 * Security findings of the review, reproduced where a user meets them: a crafted media type (exponential for
 * the old backtracking pattern) reaches the ingress before any authentication, a subscriber's reply and a
 * polled Kafka record; each is answered or settled at once, and the router keeps serving.
 */
import { exports } from "cloudflare:workers";
import { describe, expect, inject, it } from "vitest";
import { applySource, kafkaFake, kafkaSpec } from "../fakes/sources-client.ts";
import { auth, binaryEvent, broker, eventually, receivedAtLeast, resourcePath, script, trigger } from "../support/client.ts";
import { applyManifest } from "../support/manifests.ts";

const NS = "sec";
const sub = inject("subscriberUrl");
const fetchRouter = (path: string, init?: RequestInit) => exports.default.fetch(`http://router.test${path}`, init);
/** The security review's Content-Type: `a/b`, 32 times `"; "`, then `@` (more than 20 s with the old pattern). */
const CRAFTED = `a/b${"; ".repeat(32)}@`;

const put = (plural: string, body: { metadata: { name: string } }) => applyManifest(fetchRouter, resourcePath(NS, plural, body.metadata.name), body);

describe("a crafted media type", () => {
  it("is refused at ingress without a token, as Content-Type and as datacontenttype", async () => {
    await put("brokers", broker("b"));
    const started = Date.now();
    const asHeader = await fetchRouter(`/${NS}/b`, {
      method: "POST",
      headers: { "ce-specversion": "1.0", "ce-id": "c-1", "ce-source": "/s", "ce-type": "t", "content-type": CRAFTED },
      body: "x",
    });
    expect(asHeader.status).toBe(400);
    expect(await asHeader.json()).toMatchObject({ field: "datacontenttype" });
    const structured = { specversion: "1.0", id: "c-2", source: "/s", type: "t", datacontenttype: CRAFTED };
    const asAttribute = await fetchRouter(`/${NS}/b`, {
      method: "POST",
      headers: { "content-type": "application/cloudevents+json" },
      body: JSON.stringify(structured),
    });
    expect(asAttribute.status).toBe(400);
    const unknownBroker = await fetchRouter(`/${NS}/nope`, {
      method: "POST",
      headers: { "ce-specversion": "1.0", "ce-id": "c-3", "ce-source": "/s", "ce-type": "t", "content-type": CRAFTED },
      body: "x",
    });
    expect(unknownBroker.status).toBeGreaterThanOrEqual(400);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it("in a subscriber's reply fails that delivery at once, and the broker goes on delivering", async () => {
    await put("brokers", broker("replies"));
    const reply = { "ce-specversion": "1.0", "ce-id": "r-1", "ce-source": "/r", "ce-type": "reply.t", "content-type": CRAFTED };
    await script(sub, "/crafted-reply", [{ status: 200, headers: reply, body: "x" }, { status: 200 }]);
    await put(
      "triggers",
      trigger(
        "crafted",
        { broker: "replies", filters: [{ exact: { type: "ask.t" } }], subscriber: { uri: `${sub}/crafted-reply` } },
        { "edge-eventing.dev/parallelism": "1" },
      ),
    );
    expect((await fetchRouter(`/${NS}/replies`, binaryEvent("ask-1", "ask.t"))).status).toBe(202);
    expect((await fetchRouter(`/${NS}/replies`, binaryEvent("ask-2", "ask.t"))).status).toBe(202);
    // The refused reply is a 502 for the first delivery (retried: the second step answers 200), then ask-2.
    const got = await receivedAtLeast(sub, "/crafted-reply", 3, 15_000);
    expect(new Set(got.map((r) => r.headers["ce-id"]))).toEqual(new Set(["ask-1", "ask-2"]));
  });

  it("in a polled Kafka record is read in linear time: that record is wrapped as Knative's Kafka event, the next delivered as sent", async () => {
    const kafka = await kafkaFake("crafted");
    await script(sub, "/crafted-kafka", [{ status: 200 }]);
    const structured = (id: string, datacontenttype: string) =>
      JSON.stringify({ specversion: "1.0", id, source: "/kafka", type: "k.t", datacontenttype, data: "x" });
    await kafka.produce({ value: structured("k-1", CRAFTED) });
    await kafka.produce({ value: structured("k-2", "text/plain") });
    await applySource("kafkasources", "crafted", kafkaSpec(kafka.url, "crafted", { uri: `${sub}/crafted-kafka` }));
    const [wrapped, good] = await receivedAtLeast(sub, "/crafted-kafka", 2, 15_000);
    expect(wrapped.headers).toMatchObject({ "ce-type": "dev.knative.kafka.event", "ce-id": "partition:0/offset:0" });
    expect(JSON.parse(wrapped.body).datacontenttype).toBe(CRAFTED);
    expect(good.headers).toMatchObject({ "ce-id": "k-2", "content-type": "text/plain" });
    await eventually(async () => (await kafka.commits()).length > 0, 10_000, "offsets committed");
  });
});

describe("Worker secrets a manifest may name", () => {
  const sink = { uri: "https://sink.example/x" };
  const aliyun = { endpoint: "https://1.mqrest.cn-hangzhou.aliyuncs.com", accessKeySecret: { secretKeyRef: { name: "SECRET_OK" } }, sink };
  // Each names ADMIN_TOKEN where a secret goes; the RedisStreamSource is the review's: it would send the token to its url.
  const CASES: Array<{ path: string; manifest: Record<string, unknown>; field: string }> = [
    {
      path: "eventing.knative.dev/v1/namespaces/sec/brokers/tok",
      manifest: {
        apiVersion: "eventing.knative.dev/v1",
        kind: "Broker",
        metadata: { name: "tok", annotations: { "edge-eventing.dev/ingress-token-secret": "ADMIN_TOKEN" } },
      },
      field: "metadata.annotations.edge-eventing.dev/ingress-token-secret",
    },
    {
      path: "sources.edge-eventing.dev/v1alpha1/namespaces/sec/redisstreamsources/r",
      manifest: {
        apiVersion: "sources.edge-eventing.dev/v1alpha1",
        kind: "RedisStreamSource",
        metadata: { name: "r" },
        spec: { url: "https://attacker.example", token: { secretKeyRef: { name: "ADMIN_TOKEN" } }, stream: "s", consumerGroup: "g", sink },
      },
      field: "spec.token.secretKeyRef.name",
    },
    {
      path: "sources.knative.dev/v1/namespaces/sec/kafkasources/k",
      manifest: {
        apiVersion: "sources.knative.dev/v1",
        kind: "KafkaSource",
        metadata: { name: "k" },
        spec: {
          bootstrapServers: ["b:9092"],
          topics: ["t"],
          sink,
          bridge: { type: "confluent-v2", url: "https://bridge.example", secretKeyRef: { name: "DOMAIN" } },
        },
      },
      field: "spec.bridge.secretKeyRef.name",
    },
    {
      path: "sources.edge-eventing.dev/v1alpha1/namespaces/sec/rocketmqsources/q",
      manifest: {
        apiVersion: "sources.edge-eventing.dev/v1alpha1",
        kind: "RocketMQSource",
        metadata: { name: "q" },
        spec: { ...aliyun, topic: "t", groupId: "GID_x", accessKeyId: { secretKeyRef: { name: "ADMIN_TOKEN" } } },
      },
      field: "spec.accessKeyId.secretKeyRef.name",
    },
    {
      path: "sources.edge-eventing.dev/v1alpha1/namespaces/sec/mnssources/m",
      manifest: {
        apiVersion: "sources.edge-eventing.dev/v1alpha1",
        kind: "MNSSource",
        metadata: { name: "m" },
        spec: { ...aliyun, queue: "q", accessKeyId: { secretKeyRef: { name: "ADMIN_TOKEN" } } },
      },
      field: "spec.accessKeyId.secretKeyRef.name",
    },
    {
      path: "sources.knative.dev/v1alpha1/namespaces/sec/githubsources/g",
      manifest: {
        apiVersion: "sources.knative.dev/v1alpha1",
        kind: "GitHubSource",
        metadata: { name: "g" },
        spec: { ownerAndRepository: "o/r", eventTypes: ["push"], secretToken: { secretKeyRef: { name: "ADMIN_TOKEN", key: "token" } }, sink },
      },
      field: "spec.secretToken.secretKeyRef.name",
    },
    {
      path: "sources.edge-eventing.dev/v1alpha1/namespaces/sec/webhooksources/w",
      manifest: {
        apiVersion: "sources.edge-eventing.dev/v1alpha1",
        kind: "WebhookSource",
        metadata: { name: "w" },
        spec: { provider: "stripe", secretKeyRef: [{ name: "SECRET_OK" }, { name: "ADMIN_TOKEN" }], sink },
      },
      field: "spec.secretKeyRef[1].name",
    },
    {
      path: "keda.sh/v1alpha1/namespaces/sec/scaledobjects/s",
      manifest: {
        apiVersion: "keda.sh/v1alpha1",
        kind: "ScaledObject",
        metadata: { name: "s" },
        spec: {
          scaleTargetRef: { name: "d" },
          cluster: { url: "https://k8s.example", secretKeyRef: { name: "ADMIN_TOKEN" } },
          triggers: [{ type: "cpu", metadata: { value: "50" } }],
        },
      },
      field: "spec.cluster.secretKeyRef.name",
    },
  ];

  it.each(CASES)("refuses $manifest.kind naming the router's own secret or a var, with a 422 naming $field", async ({ path, manifest, field }) => {
    const r = await fetchRouter(`/apis/${path}`, { method: "PUT", headers: { ...auth, "content-type": "application/json" }, body: JSON.stringify(manifest) });
    const status = (await r.json()) as { reason: string; details?: { causes?: Array<{ field: string; message: string }> } };
    expect(r.status, JSON.stringify(status)).toBe(422);
    expect(status.details?.causes).toContainEqual({ field, message: expect.stringMatching(/starts with SECRET_/) });
    expect((await fetchRouter(`/apis/${path}`, { headers: auth })).status).toBe(404);
  });
});

describe("credentials in clear", () => {
  it.each([
    [
      "RedisStreamSource",
      "sources.edge-eventing.dev/v1alpha1/namespaces/sec/redisstreamsources/plain",
      {
        apiVersion: "sources.edge-eventing.dev/v1alpha1",
        kind: "RedisStreamSource",
        metadata: { name: "plain" },
        spec: {
          url: "http://redis.example",
          token: { secretKeyRef: { name: "SECRET_T" } },
          stream: "s",
          consumerGroup: "g",
          sink: { uri: "https://sink.example" },
        },
      },
      "spec.url",
    ],
    [
      "KafkaSource",
      "sources.knative.dev/v1/namespaces/sec/kafkasources/plain",
      {
        apiVersion: "sources.knative.dev/v1",
        kind: "KafkaSource",
        metadata: { name: "plain" },
        spec: {
          bootstrapServers: ["b:9092"],
          topics: ["t"],
          sink: { uri: "https://sink.example" },
          bridge: { type: "confluent-v2", url: "http://bridge.example" },
        },
      },
      "spec.bridge.url",
    ],
  ])("refuses a %s whose bridge is plain http off this machine, with a 422 naming the field", async (_kind, path, manifest, field) => {
    const r = await fetchRouter(`/apis/${path}`, { method: "PUT", headers: { ...auth, "content-type": "application/json" }, body: JSON.stringify(manifest) });
    expect(r.status).toBe(422);
    const status = (await r.json()) as { details: { causes: Array<{ field: string; message: string }> } };
    expect(status.details.causes).toContainEqual({ field, message: expect.stringMatching(/https URL \(http only for localhost/) });
  });
});
