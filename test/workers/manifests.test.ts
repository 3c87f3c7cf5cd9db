/**
 * Manifests as a new user applies them: Kubernetes' strict field validation for every kind (unknown and
 * duplicated fields, ?fieldValidation=Strict|Warn|Ignore), the seed article's KafkaSource in each Knative
 * version (test/fixtures/seed/) delivering a record through the Confluent REST fake to the host its
 * `k8s.aliyun.com/domain` names, and what a user sees when a bridge is missing or unreachable.
 */
import { env, exports } from "cloudflare:workers";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import seedV1 from "../fixtures/seed/kafkasource-v1.yaml?raw";
import seedV1alpha1 from "../fixtures/seed/kafkasource-v1alpha1.yaml?raw";
import seedV1beta1 from "../fixtures/seed/kafkasource-v1beta1.yaml?raw";
import { KINDS } from "../../shared/resources/kinds.ts";
import { kafkaFake } from "../fakes/sources-client.ts";
import { auth, binaryEvent, broker, eventually, received, resourcePath, script, trigger } from "../support/client.ts";

const sub = inject("subscriberUrl");
const call = (path: string, init: RequestInit = {}) =>
  exports.default.fetch(`http://router.test${path}`, { ...init, headers: { ...auth, ...(init.headers ?? {}) } });
const put = (path: string, body: unknown, type = "application/json") =>
  call(path, { method: "PUT", body: typeof body === "string" ? body : JSON.stringify(body), headers: { "content-type": type } });
const json = async (r: Response): Promise<any> => r.json();

const sink = { uri: "https://sink.example/x" };
/** One manifest per kind, each with a misspelt field of its own spec, and the hint the router should give. */
/** `body`: the top-level fields of a kind without a spec (RBAC's). */
const TYPOS: Array<{
  path: string;
  apiVersion: string;
  kind: string;
  spec?: Record<string, unknown>;
  body?: Record<string, unknown>;
  field: string;
  hint: string;
}> = [
  {
    path: "eventing.knative.dev/v1/namespaces/typo/brokers/x",
    apiVersion: "eventing.knative.dev/v1",
    kind: "Broker",
    spec: { delivry: { retry: 1 } },
    field: "spec.delivry",
    hint: "delivery",
  },
  {
    path: "eventing.knative.dev/v1/namespaces/typo/triggers/x",
    apiVersion: "eventing.knative.dev/v1",
    kind: "Trigger",
    spec: { broker: "b", subscribr: sink },
    field: "spec.subscribr",
    hint: "subscriber",
  },
  {
    path: "sources.knative.dev/v1/namespaces/typo/pingsources/x",
    apiVersion: "sources.knative.dev/v1",
    kind: "PingSource",
    spec: { schedul: "* * * * *", sink },
    field: "spec.schedul",
    hint: "schedule",
  },
  {
    path: "sources.knative.dev/v1beta1/namespaces/typo/kafkasources/x",
    apiVersion: "sources.knative.dev/v1beta1",
    kind: "KafkaSource",
    spec: { topic: ["t"], sink },
    field: "spec.topic",
    hint: "topics",
  },
  {
    path: "sources.knative.dev/v1alpha1/namespaces/typo/githubsources/x",
    apiVersion: "sources.knative.dev/v1alpha1",
    kind: "GitHubSource",
    spec: { eventType: ["push"], sink },
    field: "spec.eventType",
    hint: "eventTypes",
  },
  {
    path: "sources.edge-eventing.dev/v1alpha1/namespaces/typo/webhooksources/x",
    apiVersion: "sources.edge-eventing.dev/v1alpha1",
    kind: "WebhookSource",
    spec: { provder: "stripe", sink },
    field: "spec.provder",
    hint: "provider",
  },
  {
    path: "sources.edge-eventing.dev/v1alpha1/namespaces/typo/rocketmqsources/x",
    apiVersion: "sources.edge-eventing.dev/v1alpha1",
    kind: "RocketMQSource",
    spec: { groupID: "GID_x", sink },
    field: "spec.groupID",
    hint: "groupId",
  },
  {
    path: "edge-eventing.dev/v1alpha1/namespaces/typo/replays/x",
    apiVersion: "edge-eventing.dev/v1alpha1",
    kind: "Replay",
    spec: { broker: "b", form: "2026-01-01T00:00:00Z" },
    field: "spec.form",
    hint: "from",
  },
  {
    path: "sources.edge-eventing.dev/v1alpha1/namespaces/typo/mnssources/x",
    apiVersion: "sources.edge-eventing.dev/v1alpha1",
    kind: "MNSSource",
    spec: { queu: "q", sink },
    field: "spec.queu",
    hint: "queue",
  },
  {
    path: "sources.edge-eventing.dev/v1alpha1/namespaces/typo/redisstreamsources/x",
    apiVersion: "sources.edge-eventing.dev/v1alpha1",
    kind: "RedisStreamSource",
    spec: { streams: "s", sink },
    field: "spec.streams",
    hint: "stream",
  },
  {
    path: "keda.sh/v1alpha1/namespaces/typo/scaledobjects/x",
    apiVersion: "keda.sh/v1alpha1",
    kind: "ScaledObject",
    spec: { maxReplicas: 3 },
    field: "spec.maxReplicas",
    hint: "maxReplicaCount",
  },
  {
    path: "eventing.knative.dev/v1alpha1/namespaces/typo/eventpolicies/x",
    apiVersion: "eventing.knative.dev/v1alpha1",
    kind: "EventPolicy",
    spec: { from: [{ sub: "repo:org/app:*" }], filterz: [] },
    field: "spec.filterz",
    hint: "filters",
  },
  {
    path: "eventing.knative.dev/v1alpha1/namespaces/typo/eventtransforms/x",
    apiVersion: "eventing.knative.dev/v1alpha1",
    kind: "EventTransform",
    spec: { jsonata: { expresion: "$" } },
    field: "spec.jsonata.expresion",
    hint: "expression",
  },
  {
    path: "flows.knative.dev/v1/namespaces/typo/sequences/x",
    apiVersion: "flows.knative.dev/v1",
    kind: "Sequence",
    spec: { step: [sink] },
    field: "spec.step",
    hint: "steps",
  },
  {
    path: "edge-eventing.dev/v1alpha1/namespaces/typo/kubernetesclusters/x",
    apiVersion: "edge-eventing.dev/v1alpha1",
    kind: "KubernetesCluster",
    spec: { url: "https://k8s.example", secretKeyref: { name: "SECRET_K8S_TOKEN" } },
    field: "spec.secretKeyref",
    hint: "secretKeyRef",
  },
  {
    path: "sinks.knative.dev/v1alpha1/namespaces/typo/jobsinks/x",
    apiVersion: "sinks.knative.dev/v1alpha1",
    kind: "JobSink",
    spec: { jobs: {} },
    field: "spec.jobs",
    hint: "job",
  },
  {
    path: "flows.knative.dev/v1/namespaces/typo/parallels/x",
    apiVersion: "flows.knative.dev/v1",
    kind: "Parallel",
    spec: { branches: [{ subscriber: sink, filtr: sink }] },
    field: "spec.branches[0].filtr",
    hint: "filter",
  },
  {
    path: "eventing.knative.dev/v1alpha1/namespaces/typo/requestreplies/x",
    apiVersion: "eventing.knative.dev/v1alpha1",
    kind: "RequestReply",
    spec: { brokerRef: { kind: "Broker", name: "b" }, replyAtribute: "answerid" },
    field: "spec.replyAtribute",
    hint: "replyAttribute",
  },
  {
    path: "rbac.authorization.k8s.io/v1/namespaces/typo/roles/x",
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "Role",
    body: { rule: [] },
    field: "rule",
    hint: "rules",
  },
  {
    path: "rbac.authorization.k8s.io/v1/clusterroles/x",
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "ClusterRole",
    body: { rules: [], aggregation: {} },
    field: "aggregation",
    hint: "aggregationRule",
  },
  {
    path: "rbac.authorization.k8s.io/v1/namespaces/typo/rolebindings/x",
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "RoleBinding",
    body: { roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "view" }, subject: [] },
    field: "subject",
    hint: "subjects",
  },
  {
    path: "rbac.authorization.k8s.io/v1/clusterrolebindings/x",
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "ClusterRoleBinding",
    body: { roleref: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "view" } },
    field: "roleref",
    hint: "roleRef",
  },
];

describe("strict field validation", () => {
  it("refuses an unknown field of every kind with a 400 naming it and the closest known field, and stores nothing", async () => {
    expect(TYPOS.map((t) => t.kind).sort()).toEqual(KINDS.map((k) => k.kind).sort());
    for (const t of TYPOS) {
      const r = await put(`/apis/${t.path}`, { apiVersion: t.apiVersion, kind: t.kind, metadata: { name: "x" }, ...(t.body ?? { spec: t.spec }) });
      const s = await json(r);
      expect(r.status, `${t.kind}: ${JSON.stringify(s)}`).toBe(400);
      expect(s).toMatchObject({ kind: "Status", status: "Failure", reason: "BadRequest", code: 400 });
      expect(s.message).toBe(
        `${t.kind} in version "${t.apiVersion.split("/")[1]}" cannot be handled as a ${t.kind}: strict decoding error: unknown field "${t.field}" (did you mean "${t.hint}"?)`,
      );
      expect(s.details.causes).toEqual([{ field: t.field, message: `unknown field (did you mean "${t.hint}"?)` }]);
      expect((await call(`/apis/${t.path}`)).status).toBe(404);
    }
  });

  // The issue's Trigger: every one of these was stored, and the Trigger was Ready with the default retries.
  const issueTrigger = trigger("orders", {
    broker: "default",
    subscriber: { uri: "https://sink.example/orders" },
    delivery: { retries: 3, backofDelay: "PT1S" },
    deliverry: { retry: 2 },
  });
  const path = resourcePath("strict", "triggers", "orders");

  it("names every unknown field at any depth, under Strict as the default", async () => {
    const r = await put(path, issueTrigger);
    expect(r.status).toBe(400);
    expect((await json(r)).message).toBe(
      'Trigger in version "v1" cannot be handled as a Trigger: strict decoding error: unknown field "spec.delivery.retries" (did you mean "retry"?), unknown field "spec.delivery.backofDelay" (did you mean "backoffDelay"?), unknown field "spec.deliverry" (did you mean "delivery"?)',
    );
    const nested = trigger("n", {
      broker: "default",
      subscriber: { ref: { kind: "Service", nme: "svc" } },
      filters: [{ any: [{ exact: { type: "a" } }, { prefx: { type: "b" } }] }],
    });
    const s = await json(await put(resourcePath("strict", "triggers", "n"), nested));
    expect(s.details.causes.map((c: { field: string }) => c.field)).toEqual(["spec.subscriber.ref.nme", "spec.filters[0].any[1].prefx"]);
    expect(await json(await put(`${path}?fieldValidation=Strict`, issueTrigger))).toMatchObject({ code: 400 });
  });

  it("Warn: stores the manifest without them and answers one Kubernetes Warning header per field", async () => {
    const r = await put(`${path}?fieldValidation=Warn`, issueTrigger);
    expect(r.status).toBe(201);
    expect(r.headers.get("warning")).toBe(
      [
        '299 - "unknown field \\"spec.delivery.retries\\" (did you mean \\"retry\\"?)"',
        '299 - "unknown field \\"spec.delivery.backofDelay\\" (did you mean \\"backoffDelay\\"?)"',
        '299 - "unknown field \\"spec.deliverry\\" (did you mean \\"delivery\\"?)"',
      ].join(", "),
    );
    const stored = await json(await call(path));
    expect(stored.spec).toEqual({ broker: "default", subscriber: { uri: "https://sink.example/orders" }, delivery: {} });
  });

  it("Ignore: stores the manifest without them, silently; an unknown mode is a 400", async () => {
    const r = await put(`${resourcePath("strict", "triggers", "quiet")}?fieldValidation=Ignore`, { ...issueTrigger, metadata: { name: "quiet" } });
    expect(r.status).toBe(201);
    expect(r.headers.get("warning")).toBeNull();
    expect((await json(r)).spec.deliverry).toBeUndefined();
    const bad = await put(`${path}?fieldValidation=warn`, issueTrigger);
    expect(bad.status).toBe(400);
    expect((await json(bad)).message).toMatch(/^fieldValidation parameter unsupported: warn/);
  });

  it("refuses a duplicated key in JSON and in YAML naming it (JSON.parse would keep the last silently); Warn keeps the last", async () => {
    const jsonBody =
      '{"apiVersion":"eventing.knative.dev/v1","kind":"Trigger","metadata":{"name":"dup"},"spec":{"broker":"a","subscriber":{"uri":"https://s.example"},"broker":"b"}}';
    const yamlBody =
      "apiVersion: eventing.knative.dev/v1\nkind: Trigger\nmetadata:\n  name: dup\nspec:\n  broker: a\n  subscriber: {uri: https://s.example}\n  broker: b\n";
    const dupPath = resourcePath("strict", "triggers", "dup");
    for (const [body, type] of [
      [jsonBody, "application/json"],
      [yamlBody, "application/yaml"],
    ]) {
      const r = await put(dupPath, body, type);
      expect(r.status).toBe(400);
      expect((await json(r)).message).toBe('Trigger in version "v1" cannot be handled as a Trigger: strict decoding error: duplicate field "spec.broker"');
    }
    expect((await call(dupPath)).status).toBe(404);
    const warned = await put(`${dupPath}?fieldValidation=Warn`, yamlBody, "application/yaml");
    expect(warned.status).toBe(201);
    expect(warned.headers.get("warning")).toBe('299 - "duplicate field \\"spec.broker\\""');
    expect((await json(warned)).spec.broker).toBe("b");
  });

  it("refuses a value of the wrong type with 422 Invalid in every mode", async () => {
    for (const mode of ["Strict", "Warn", "Ignore"]) {
      const r = await put(
        `${resourcePath("strict", "triggers", "typed")}?fieldValidation=${mode}`,
        trigger("typed", { broker: "b", subscriber: sink, delivery: { retry: "3" } }),
      );
      expect(r.status).toBe(422);
      expect((await json(r)).details.causes).toEqual([{ field: "spec.delivery.retry", message: "must be of type integer" }]);
    }
  });

  it("takes back what it answered: a stored resource (status, uid, generation...) applies again under Strict", async () => {
    await put(resourcePath("strict", "brokers", "default"), broker("default", { "edge-eventing.dev/backlog-limit": "10" }, { delivery: { retry: 2 } }));
    const stored = await json(await call(resourcePath("strict", "brokers", "default")));
    expect(stored.status).toBeDefined();
    const again = await put(resourcePath("strict", "brokers", "default"), stored);
    expect(again.status, JSON.stringify(await again.clone().json())).toBe(200);
  });
});

describe("the seed article's KafkaSource, in each Knative version, with only spec.bridge added", () => {
  const SEED = { v1alpha1: seedV1alpha1, v1beta1: seedV1beta1, v1: seedV1 };
  const host = "event-display.default.example.com";
  const withBridge = (yaml: string, url: string) => `${yaml.trimEnd()}\n  bridge:\n    type: confluent-v2\n    url: ${url}\n`;
  const sourcePath = (version: string) => `/apis/sources.knative.dev/${version}/namespaces/default/kafkasources/kafka-source`;
  const template = env.DOMAIN_TEMPLATE;

  it("resolves the sink to the host k8s.aliyun.com/domain names, not a domain under it", async () => {
    const r = await put(sourcePath("v1beta1"), withBridge(seedV1beta1, "http://127.0.0.1:1"), "application/yaml");
    expect(r.status, await r.clone().text()).toBe(201);
    expect((await json(r)).status.sinkUri).toBe(`https://${host}`);
    expect((await call(sourcePath("v1beta1"), { method: "DELETE" })).status).toBe(200);
  });

  describe("delivering", () => {
    // The Knative Service's host is served by the test subscriber: {HOST} becomes a path on it.
    beforeAll(() => {
      (env as { DOMAIN_TEMPLATE: string }).DOMAIN_TEMPLATE = `${sub}/{HOST}`;
    });
    afterAll(() => {
      (env as { DOMAIN_TEMPLATE: string }).DOMAIN_TEMPLATE = template;
    });

    for (const [i, [version, yaml]] of Object.entries(SEED).entries()) {
      it(`${version}: applies and delivers a produced record to the sink`, async () => {
        const kafka = await kafkaFake("demo");
        // Records before the consumer starts are skipped (latest), and give this version's record its own
        // offset: every version's source has the same name, and the sink channel deduplicates (source, id).
        for (let n = 0; n < i; n++) await kafka.produce({ value: "before" });
        await script(sub, `/${host}`, [{ status: 200 }]);
        const applied = await put(sourcePath(version), withBridge(yaml, kafka.url), "application/yaml");
        expect(applied.status, await applied.clone().text()).toBe(201);
        const body = await json(applied);
        expect(body.apiVersion).toBe(`sources.knative.dev/${version}`);
        expect(body.status.sinkUri).toBe(`${sub}/${host}`);
        // initialOffset is Knative's latest: produce once the consumer fetches from its position.
        await eventually(async () => (await kafka.requests()).some((r) => r.method === "GET" && r.path.endsWith("/records")), 20_000, "the first fetch");
        await kafka.produce({ key: "order-1", value: JSON.stringify({ version }) });
        const got = await eventually(
          async () => (await received(sub, `/${host}`)).find((r) => r.body === JSON.stringify({ version })),
          20_000,
          `the ${version} record`,
        );
        expect(got.headers).toMatchObject({
          "ce-type": "dev.knative.kafka.event",
          "ce-source": "/apis/v1/namespaces/default/kafkasources/kafka-source#demo",
          "ce-key": "order-1",
        });
        expect(got.headers["ce-id"]).toBe(`partition:0/offset:${i}`);
        await eventually(async () => (await kafka.committed("knative-group"))["demo/0"] === i + 1, 10_000, "the offset committed");
        // Deleting waits for the consumer's open long-poll (up to 10 s) before the next version reuses the name.
        expect((await call(sourcePath(version), { method: "DELETE" })).status).toBe(200);
      }, 45_000);
    }
  });
});

describe("what a user sees about bridges", () => {
  const path = "/apis/sources.knative.dev/v1beta1/namespaces/bridges/kafkasources/k";
  const source = (spec: Record<string, unknown>) => ({
    apiVersion: "sources.knative.dev/v1beta1",
    kind: "KafkaSource",
    metadata: { name: "k" },
    spec: { topics: ["t"], sink, ...spec },
  });

  it("a missing spec.bridge says why one is needed and where the docs are", async () => {
    const s = await json(await put(path, source({})));
    expect(s.code).toBe(422);
    const cause = s.details.causes.find((c: { field: string }) => c.field === "spec.bridge");
    expect(cause.message).toMatch(/Workers cannot open Kafka's TCP protocol/);
    expect(cause.message).toContain("docs/BRIDGES.md");
  });

  it("an unreachable bridge: PollFailed names the request and URL that failed", async () => {
    expect((await put(path, source({ consumerGroup: "g", bridge: { type: "confluent-v2", url: "http://127.0.0.1:1/kafka" } }))).status).toBe(201);
    const status = await eventually(
      async () => {
        const s = (await json(await call(path))).status;
        return s?.conditions?.[0]?.reason === "PollFailed" ? s : undefined;
      },
      20_000,
      "PollFailed",
    );
    expect(status.conditions[0].message).toMatch(/^poll: POST http:\/\/127\.0\.0\.1:1\/kafka\/consumers\/g: ./);
  });
});

describe("metrics and ingress", () => {
  it("a deleted trigger's series leave /metrics; the broker's stay", async () => {
    const display = { ref: { apiVersion: "edge-eventing.dev/v1alpha1", kind: "EventDisplay", name: "m" } };
    await put(resourcePath("gone", "brokers", "b"), broker("b"));
    await put(resourcePath("gone", "triggers", "t"), trigger("t", { broker: "b", subscriber: display }));
    expect((await exports.default.fetch("http://router.test/gone/b", binaryEvent("1"))).status).toBe(202);
    const metrics = async () => (await call("/metrics")).text();
    await eventually(
      async () => (await metrics()).includes('edge_eventing_events_delivered_total{namespace="gone",broker="b",trigger="t"} 1'),
      10_000,
      "the delivered series",
    );
    expect((await call(resourcePath("gone", "triggers", "t"), { method: "DELETE" })).status).toBe(200);
    const after = await metrics();
    expect(after).not.toContain('trigger="t"');
    expect(after).toContain('edge_eventing_events_accepted_total{namespace="gone",broker="b"} 1');
  });

  it("an event for a broker that does not exist is a 404 naming it", async () => {
    const r = await exports.default.fetch("http://router.test/nowhere/foo", binaryEvent("1"));
    expect(r.status).toBe(404);
    expect(await r.json()).toEqual({ error: "broker nowhere/foo not found" });
  });
});
