/**
 * The router as the activator of the services it scales, through the running router (`wrangler dev`, its
 * own alarms): the target is at zero in the fake Kubernetes API, whose pods become ready only
 * READY_DELAY_MS after a scale-up, and whose gateway answers 503 while none is ready or when every ready
 * pod is at its containerConcurrency (it counts both). The deliveries' retries are much shorter than the
 * cold start: without the activator every event would spend them all and be dead-lettered.
 */
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KafkaLog, startKafkaRestFake, type FakeBridge } from "../fakes/kafka-rest.ts";
import { FakeKubernetesApi } from "../fakes/kubernetes-api.ts";
import { auth, broker, eventually, received, resourcePath, trigger } from "../support/client.ts";
import { applyManifest } from "../support/manifests.ts";
import { startRouter, type RunningRouter } from "../support/router.ts";
import { startSubscriber, type Subscriber } from "../support/subscriber.ts";

const NS = "act";
const K8S_TOKEN = "k8s-e2e-token";
/** A model load, shortened for the test (the scenario has 12 s). */
const READY_DELAY_MS = 5_000;
/** One inference takes this long; each pod takes CONCURRENCY at once. */
const SERVICE_MS = 400;
const CONCURRENCY = 2;
const EVENTS = 24;

let router: RunningRouter;
let sub: Subscriber;
let k8s: FakeKubernetesApi;
let kafka: FakeBridge;
const log = new KafkaLog();

beforeAll(async () => {
  log.createTopic("demo", 1);
  [sub, k8s, kafka] = await Promise.all([
    startSubscriber(),
    new FakeKubernetesApi({ token: K8S_TOKEN, readyDelayMs: READY_DELAY_MS }).start(),
    startKafkaRestFake("confluent-v2", { log }),
  ]);
  // Knative Services resolve through the domain template: here to the fake cluster's gateway.
  router = await startRouter({ vars: { SECRET_K8S_TOKEN: K8S_TOKEN, DOMAIN_TEMPLATE: `${k8s.url}/gateway/{HOST}` } });
});
afterAll(async () => {
  await Promise.all([router?.stop(), sub?.close(), k8s?.stop(), kafka?.close()]);
});

const apply = (path: string, body: unknown) => applyManifest((p, init) => fetch(`${router.url}${p}`, init), path, body);

const read = async (path: string) => (await (await fetch(`${router.url}${path}`, { headers: auth })).json()) as any;
const soPath = (ns: string, name: string) => `/apis/keda.sh/v1alpha1/namespaces/${ns}/scaledobjects/${name}`;

/** The replicas of every scale write to a workload (a Deployment's scale, a Revision's min-scale), in order. */
function writes(path: string): number[] {
  return k8s.requests
    .filter((r) => r.method === "PATCH" && r.path.startsWith(path))
    .map((r) => {
      const body = JSON.parse(r.body);
      return body.spec?.replicas ?? Number(body.metadata.annotations["autoscaling.knative.dev/min-scale"]);
    });
}

const scaledObject = (name: string, spec: Record<string, unknown>, annotations: Record<string, string>) => ({
  apiVersion: "keda.sh/v1alpha1",
  kind: "ScaledObject",
  metadata: { name, annotations },
  spec: { minReplicaCount: 0, maxReplicaCount: 4, cooldownPeriod: 2, cluster: { url: k8s.url, secretKeyRef: { name: "SECRET_K8S_TOKEN" } }, ...spec },
});

describe("the router holds deliveries through a cold start and never overloads a replica", () => {
  it("a Deployment at zero: every event delivered once ready, no attempt before, nothing dead-lettered, in flight within ready x containerConcurrency", async () => {
    const name = "asr";
    k8s.addWorkload("Deployment", NS, name, 0, { containerConcurrency: CONCURRENCY, serviceMs: SERVICE_MS });
    await apply(resourcePath(NS, "brokers", "default"), broker("default"));
    await apply(
      resourcePath(NS, "triggers", name),
      trigger(name, {
        broker: "default",
        subscriber: { uri: `${k8s.url}/gateway/${NS}/${name}` },
        // Three linear retries of half a second: all spent within the cold start if attempted.
        delivery: { retry: 3, backoffPolicy: "linear", backoffDelay: "PT0.5S", deadLetterSink: { uri: `${sub.url}/dead` } },
      }),
    );
    // A polling interval far above the cold start: activation and the readiness watch, not the poll, drive it.
    await apply(
      soPath(NS, name),
      scaledObject(
        name,
        {
          scaleTargetRef: { name },
          pollingInterval: 30,
          triggers: [{ type: "edge-eventing", metadata: { broker: "default", trigger: name, metric: "backlog", target: "4" } }],
        },
        { "edge-eventing.dev/container-concurrency": String(CONCURRENCY) },
      ),
    );
    await eventually(async () => (await read(soPath(NS, name))).status?.activation?.state === "Idle", 20_000, "the ScaledObject's first tick");

    const sentAt = Date.now();
    for (let i = 0; i < EVENTS; i++) {
      const r = await fetch(`${router.url}/${NS}/default`, {
        method: "POST",
        headers: { "ce-specversion": "1.0", "ce-id": `job-${i}`, "ce-source": "/e2e", "ce-type": "inference", "content-type": "application/json" },
        body: "{}",
      });
      expect(r.status).toBe(202);
    }
    // Activation: a scale-up within a second or two of the first event, not at the 30 s poll.
    await eventually(async () => writes(`/apis/apps/v1/namespaces/${NS}/deployments/${name}`).length > 0, 5_000, "a scale-up on activation");
    const activatedMs = Date.now() - sentAt;
    // While nothing is ready the events wait in the router, and the ScaledObject says so.
    const holding = await read(soPath(NS, name));
    expect(holding.status).toMatchObject({ readyReplicas: 0, activation: { state: "Activating", inFlight: 0 } });
    expect(holding.status.activation.held).toBeGreaterThan(0);
    // As kubectl get -o wide shows it (the Table the API serves).
    const table = (await (
      await fetch(`${router.url}/apis/keda.sh/v1alpha1/namespaces/${NS}/scaledobjects`, {
        headers: { ...auth, accept: "application/json;as=Table;v=v1;g=meta.k8s.io" },
      })
    ).json()) as any;
    const columns = table.columnDefinitions.map((c: { name: string }) => c.name);
    const row = Object.fromEntries(columns.map((c: string, i: number) => [c, table.rows.find((r: any) => r.cells[0] === name).cells[i]]));
    expect(row).toMatchObject({ ReadyReplicas: 0, Activation: "Activating", InFlight: 0 });
    const metrics = await (await fetch(`${router.url}/metrics`, { headers: auth })).text();
    expect(metrics).toMatch(new RegExp(`edge_eventing_activator_held_deliveries\\{namespace="${NS}",scaledobject="${name}"\\} [1-9]`));

    await eventually(async () => k8s.gateway(NS, name).served.length >= EVENTS, 60_000, "every event served");
    const g = k8s.gateway(NS, name);
    expect(new Set(g.served)).toEqual(new Set(Array.from({ length: EVENTS }, (_, i) => `job-${i}`)));
    expect(g.served).toHaveLength(EVENTS);
    // No attempt while nothing was ready, none above what the ready pods take.
    expect(g.unavailable).toBe(0);
    expect(g.overloaded).toBe(0);
    expect(g.maxOverCapacity).toBeLessThanOrEqual(0);
    expect(await received(sub.url, "/dead")).toHaveLength(0);
    // A surge of EVENTS at 4 per replica scales out past one replica.
    expect(Math.max(...writes(`/apis/apps/v1/namespaces/${NS}/deployments/${name}`))).toBeGreaterThan(1);
    const readyToFirstMs = g.firstServedAt! - g.firstReadyAt!;
    console.log(
      `activator: scale-up ${activatedMs} ms after the first event; first delivery ${readyToFirstMs} ms after the first pod was ready; max in flight ${g.maxInFlight} (cap per ready pod ${CONCURRENCY}); 503s ${g.unavailable + g.overloaded}`,
    );
    expect(readyToFirstMs).toBeLessThan(3_000);

    // Back to zero once nothing is held or in flight and the cooldown has passed.
    await eventually(async () => writes(`/apis/apps/v1/namespaces/${NS}/deployments/${name}`).at(-1) === 0, 60_000, "back to 0 after the cooldown");
    const after = await read(soPath(NS, name));
    expect(after.status.activation).toMatchObject({ held: 0, inFlight: 0 });
  });

  it("the seed's KafkaSource (k8s.aliyun.com/* annotations) into a Knative Service at zero, scaled on its backlog: held until a Revision pod is ready", async () => {
    k8s.addKnativeService("default", "event-display", "event-display-00001", 0, { containerConcurrency: 1, serviceMs: SERVICE_MS });
    const seed = readFileSync(new URL("../fixtures/seed/kafkasource-v1.yaml", import.meta.url), "utf8");
    await apply(
      "/apis/sources.knative.dev/v1/namespaces/default/kafkasources/kafka-source",
      `${seed.trimEnd()}\n  initialOffset: earliest\n  bridge:\n    type: confluent-v2\n    url: ${kafka.url}\n`,
    );
    await apply(
      soPath("default", "event-display"),
      scaledObject(
        "event-display",
        {
          scaleTargetRef: { apiVersion: "serving.knative.dev/v1", kind: "Service", name: "event-display" },
          pollingInterval: 30,
          triggers: [{ type: "kafka", metadata: { kafkaSource: "kafka-source", lagThreshold: "5" } }],
        },
        {},
      ),
    );
    const records = 6;
    for (let i = 0; i < records; i++) log.produce("demo", { key: `order-${i}`, value: `{"order":${i}}` });
    await eventually(async () => k8s.gateway("default", "event-display").served.length >= records, 60_000, "every record served");
    const g = k8s.gateway("default", "event-display");
    // The seed's retry-interval of 2 s with 5 retries would have been spent before the pod was ready.
    expect(g.unavailable).toBe(0);
    // The Revision's containerConcurrency 1 caps what is in flight to its ready pods.
    expect(g.overloaded).toBe(0);
    expect(g.maxOverCapacity).toBeLessThanOrEqual(0);
    expect(g.served).toEqual(Array.from({ length: records }, () => expect.any(String)));
    expect(writes("/apis/serving.knative.dev/v1/namespaces/default/revisions/event-display-00001")[0]).toBeGreaterThanOrEqual(1);
  });
});
