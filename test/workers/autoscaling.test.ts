import { runDurableObjectAlarm } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { runnerKey } from "../../clients/runner.ts";
import { stub } from "../../clients/stubs.ts";
import { auth, binaryEvent, broker, eventually, resourcePath, script, trigger } from "../support/client.ts";
import { applyManifest } from "../support/manifests.ts";

const sub = inject("subscriberUrl");
const k8s = inject("kubernetesUrl");
const control = inject("kubernetesControlUrl");
const NS = "scale";
const url = (path: string) => `http://router.test${path}`;
const soPath = (name: string) => `/apis/keda.sh/v1alpha1/namespaces/${NS}/scaledobjects/${name}`;
const MERGE_PATCH = "application/merge-patch+json";

interface Recorded {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
}

const apply = (path: string, body: unknown) => applyManifest((p, init) => exports.default.fetch(url(p), init), path, body);
const getScaledObject = async (name: string) => (await (await exports.default.fetch(url(soPath(name)), { headers: auth })).json()) as any;
const requests = async (path: string): Promise<Recorded[]> =>
  ((await (await fetch(`${control}/requests`)).json()) as Recorded[]).filter((r) => r.path.startsWith(path));
const patchedReplicas = async (path: string) =>
  (await requests(path)).filter((r) => r.method === "PATCH").map((r) => JSON.parse(r.body).spec.replicas as number);
const autoscaler = (name: string) => env.AUTOSCALER.getByName(runnerKey("ScaledObject", NS, name));
/** Broker b4's in-flight deliveries over all its partitions, as its metrics subresource sums them. */
const inflight = async (trigger: string) =>
  ((await (await exports.default.fetch(url(`/apis/eventing.knative.dev/v1/namespaces/${NS}/brokers/b4/metrics`), { headers: auth })).json()) as any).inflight[
    trigger
  ] ?? 0;

async function addToFake(kind: "workloads" | "knative-services", body: Record<string, unknown>): Promise<void> {
  const r = await fetch(`${control}/${kind}`, { method: "POST", body: JSON.stringify({ namespace: NS, ...body }) });
  expect(r.status).toBe(204);
}

/** Runs the autoscaler's alarm now, then again every 200 ms, until `check` holds (bounded by `timeoutMs`). */
async function stepUntil<T>(name: string, check: () => Promise<T | undefined | false>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await runDurableObjectAlarm(autoscaler(name));
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; status: ${JSON.stringify((await getScaledObject(name)).status)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const scaledObject = (name: string, spec: Record<string, unknown>, annotations: Record<string, string> = {}) => ({
  apiVersion: "keda.sh/v1alpha1",
  kind: "ScaledObject",
  metadata: { name, annotations },
  spec: { pollingInterval: 1, cluster: { url: k8s, secretKeyRef: { name: "SECRET_K8S_TOKEN" } }, ...spec },
});

beforeAll(async () => {
  await apply(resourcePath(NS, "brokers", "b"), broker("b"));
  // Four partitions: what the autoscaler reads must be the whole broker's, not one object's.
  await apply(resourcePath(NS, "brokers", "b4"), broker("b4", { "edge-eventing.dev/partitions": "4" }));
});

describe("ScaledObjects in the router", () => {
  it("scales a Deployment up on a trigger's concurrency burst, holds it through the panic window, then scales back down", { timeout: 60_000 }, async () => {
    await addToFake("workloads", { kind: "Deployment", name: "consumer", replicas: 1 });
    await script(sub, "/slow", [{ status: 200, delayMs: 4000 }]);
    await apply(
      resourcePath(NS, "triggers", "slow"),
      trigger("slow", { broker: "b4", filter: { attributes: { type: "slow.t" } }, subscriber: { uri: `${sub}/slow` } }),
    );
    // Per-pod target 2 × 70 % utilization; a 6 s stable window (Knative's minimum) and a 1 s panic window.
    await apply(
      soPath("consumer"),
      scaledObject(
        "consumer",
        {
          scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "consumer" },
          minReplicaCount: 1,
          maxReplicaCount: 10,
          triggers: [{ type: "edge-eventing", metadata: { broker: "b4", trigger: "slow", metric: "concurrency", target: "2" } }],
        },
        { "autoscaling.knative.dev/window": "6s" },
      ),
    );
    const scalePath = `/apis/apps/v1/namespaces/${NS}/deployments/consumer/scale`;

    await Promise.all(Array.from({ length: 20 }, (_, i) => exports.default.fetch(url(`/${NS}/b4`), binaryEvent(`slow-${i}`, "slow.t"))));
    await eventually(async () => (await inflight("slow")) === 20, 5_000, "20 deliveries in flight");

    // 20 in flight / 1.4 per pod = 15 pods, capped by maxReplicaCount.
    await stepUntil("consumer", async () => (await patchedReplicas(scalePath)).includes(10), 3_000, "a scale-up to 10");
    const up = (await requests(scalePath)).find((r) => r.method === "PATCH")!;
    expect(up.headers["content-type"]).toBe(MERGE_PATCH);
    expect(JSON.parse(up.body)).toMatchObject({ metadata: { resourceVersion: expect.any(String) }, spec: { replicas: 10 } });
    let so = await getScaledObject("consumer");
    expect(so.status).toMatchObject({
      desiredReplicas: 10,
      mode: "panic",
      lastError: null,
      lastDecision: { desiredReplicas: 10, observed: { "slow.concurrency": 20 } },
    });
    // The decision's inputs and reason: the KPA's window averages against 2 × 70 % per pod, capped by the max.
    expect(so.status.lastDecision).toMatchObject({
      reason: "PanicWindow",
      inputs: { readyPods: 1, kpa: { metric: "concurrency", observedPanic: 20, target: 1.4, panic: true } },
      message: expect.stringMatching(
        /^KPA panic mode \(stable concurrency [\d.]+, panic concurrency 20, target 1.4 per pod, ready pods 1\) asks for 15; capped at maxReplicaCount 10$/,
      ),
    });
    expect(so.status.conditions).toContainEqual(expect.objectContaining({ type: "Ready", status: "True" }));

    // The burst drains; the autoscaler still holds the panic count (Knative never scales down in panic).
    await eventually(async () => (await inflight("slow")) === 0, 10_000, "the burst to drain");
    await runDurableObjectAlarm(autoscaler("consumer"));
    so = await getScaledObject("consumer");
    expect(so.status).toMatchObject({ desiredReplicas: 10, mode: "panic" });
    expect(await patchedReplicas(scalePath)).toEqual([10]);

    // Panic ends a stable window after the last overload; the idle stable window then asks for 0, bounded to min 1.
    await stepUntil("consumer", async () => (await patchedReplicas(scalePath)).at(-1) === 1, 15_000, "the scale-down to 1");
    const fake = (await (await fetch(`${control}/object?path=${encodeURIComponent(scalePath.replace(/\/scale$/, ""))}`)).json()) as any;
    expect(fake.spec.replicas).toBe(1);
    so = await getScaledObject("consumer");
    expect(so.status).toMatchObject({ desiredReplicas: 1, mode: "stable" });
  });

  it("scales a Knative Service on a trigger's backlog through its Revision's min-scale, never writing the Service", async () => {
    await addToFake("knative-services", { name: "ksvc", revision: "ksvc-00001" });
    await script(sub, "/queue", [{ status: 200, delayMs: 4000 }]);
    await apply(
      resourcePath(NS, "triggers", "queue"),
      trigger("queue", { broker: "b", filter: { attributes: { type: "queue.t" } }, subscriber: { uri: `${sub}/queue` } }),
    );
    await apply(
      soPath("ksvc"),
      scaledObject("ksvc", {
        scaleTargetRef: { apiVersion: "serving.knative.dev/v1", kind: "Service", name: "ksvc" },
        maxReplicaCount: 10,
        triggers: [{ type: "edge-eventing", metadata: { broker: "b", trigger: "queue", metric: "backlog", target: "2" } }],
      }),
    );
    await Promise.all(Array.from({ length: 10 }, (_, i) => exports.default.fetch(url(`/${NS}/b`), binaryEvent(`queue-${i}`, "queue.t"))));

    // KEDA activates 0 -> 1, then the HPA formula asks for ceil(10 / 2) = 5.
    const revisionPath = `/apis/serving.knative.dev/v1/namespaces/${NS}/revisions/ksvc-00001`;
    const minScales = async () =>
      (await requests(revisionPath))
        .filter((r) => r.method === "PATCH")
        .map((r) => JSON.parse(r.body).metadata.annotations["autoscaling.knative.dev/min-scale"]);
    // The second write waits out the write limit (one per target per 2 s) after the first.
    await stepUntil("ksvc", async () => (await minScales()).includes("5"), 5_000, "min-scale 5 on the revision");
    expect(await minScales()).toEqual(["1", "5"]);
    const patches = (await requests(revisionPath)).filter((r) => r.method === "PATCH");
    expect(patches.every((p) => p.headers["content-type"] === MERGE_PATCH)).toBe(true);
    // Only reads of the Service: a write to its template is what would mint a new Revision.
    expect((await requests(`/apis/serving.knative.dev/v1/namespaces/${NS}/services/ksvc`)).map((r) => r.method)).not.toContain("PATCH");
    expect((await requests("/")).filter((r) => !["GET", "PATCH"].includes(r.method))).toEqual([]);
    const so = await getScaledObject("ksvc");
    expect(so.status).toMatchObject({
      desiredReplicas: 5,
      scaleTargetKind: "serving.knative.dev/v1.Service",
      lastDecision: { observed: { "queue.backlog": 10 }, reason: "KedaAverageValue", actuation: "Written" },
    });
    expect(so.status.mode).toBeUndefined();
    expect(so.status.conditions).toContainEqual(expect.objectContaining({ type: "Active", status: "True" }));
  });

  it("scales a Deployment up while events wait, and to minReplicaCount 0 once no trigger was active for cooldownPeriod (KEDA; no Knative grace period)", {
    timeout: 60_000,
  }, async () => {
    await addToFake("workloads", { kind: "Deployment", name: "display", replicas: 0 });
    await script(sub, "/slow-display", [{ status: 200, delayMs: 1500 }]);
    await apply(
      resourcePath(NS, "triggers", "slow-display"),
      trigger(
        "slow-display",
        { broker: "b", filter: { attributes: { type: "display.t" } }, subscriber: { uri: `${sub}/slow-display` } },
        { "edge-eventing.dev/parallelism": "2" },
      ),
    );
    await apply(
      soPath("display"),
      scaledObject("display", {
        scaleTargetRef: { name: "display" },
        minReplicaCount: 0,
        maxReplicaCount: 5,
        cooldownPeriod: 1,
        triggers: [{ type: "edge-eventing", metadata: { broker: "b", trigger: "slow-display", metric: "backlog", target: "2" } }],
      }),
    );
    const deployment = `/apis/apps/v1/namespaces/${NS}/deployments/display`;
    await Promise.all(Array.from({ length: 8 }, (_, i) => exports.default.fetch(url(`/${NS}/b`), binaryEvent(`display-${i}`, "display.t"))));
    await stepUntil("display", async () => (await patchedReplicas(deployment)).some((n) => n >= 3), 10_000, "a scale-up while events wait");
    // The backlog drains at 2 per 1.5 s; then, a second of cooldown later, zero: not 60 s stable + 30 s grace.
    const idle = await stepUntil(
      "display",
      async () => (await patchedReplicas(deployment)).at(-1) === 0 && (await getScaledObject("display")),
      25_000,
      "scale to zero after the cooldown",
    );
    expect(idle.status.lastDecision).toMatchObject({ desiredReplicas: 0, reason: "KedaIdle" });
    expect(idle.status.lastDecision.message).not.toMatch(/grace period/);
  });

  it("reports a refused token as Ready False with the API server's answer, and stops when deleted", async () => {
    await addToFake("workloads", { kind: "Deployment", name: "guarded", replicas: 2 });
    await apply(
      soPath("denied"),
      scaledObject("denied", {
        scaleTargetRef: { name: "guarded" },
        cluster: { url: k8s, secretKeyRef: { name: "SECRET_K8S_WRONG_TOKEN" } },
        triggers: [{ type: "edge-eventing", metadata: { broker: "b", trigger: "slow", metric: "backlog", target: "5" } }],
      }),
    );
    expect(await runDurableObjectAlarm(autoscaler("denied"))).toBe(true);
    const so = await getScaledObject("denied");
    const ready = so.status.conditions.find((c: any) => c.type === "Ready");
    expect(ready).toMatchObject({ status: "False", reason: "Unauthorized" });
    expect(ready.message).toMatch(/401.*bearer token was refused.*spec\.cluster\.secretKeyRef/);
    expect(so.status.lastError.message).toBe(ready.message);

    const r = await exports.default.fetch(url(soPath("denied")), { method: "DELETE", headers: auth });
    expect(r.status).toBe(200);
    expect(await runDurableObjectAlarm(autoscaler("denied"))).toBe(false);
    expect(await stub(env, "AUTOSCALER", runnerKey("ScaledObject", NS, "denied")).status()).toEqual({});
  });

  it("holds the replicas and names the source when a trigger's source does not exist", async () => {
    await addToFake("workloads", { kind: "Deployment", name: "kafka-consumer", replicas: 3 });
    await apply(
      soPath("lagging"),
      scaledObject("lagging", {
        scaleTargetRef: { name: "kafka-consumer" },
        minReplicaCount: 0,
        cooldownPeriod: 0,
        triggers: [{ type: "kafka", metadata: { kafkaSource: "orders-src", lagThreshold: "10" } }],
      }),
    );
    await runDurableObjectAlarm(autoscaler("lagging"));
    const so = await getScaledObject("lagging");
    expect(so.status.conditions).toContainEqual(
      expect.objectContaining({
        type: "Ready",
        status: "False",
        reason: "MetricUnavailable",
        message: "KafkaSource orders-src: no such KafkaSource in namespace scale",
      }),
    );
    expect(so.status.currentReplicas).toBe(3);
    expect((await requests(`/apis/apps/v1/namespaces/${NS}/deployments/kafka-consumer`)).map((q) => q.method)).toEqual(["GET"]);
  });

  it("in dry-run reports the replicas it would set and why, and never writes the target", async () => {
    await addToFake("workloads", { kind: "Deployment", name: "rehearsal", replicas: 1 });
    await script(sub, "/held", [{ status: 200, delayMs: 4000 }]);
    await apply(
      resourcePath(NS, "triggers", "held"),
      trigger("held", { broker: "b", filter: { attributes: { type: "held.t" } }, subscriber: { uri: `${sub}/held` } }),
    );
    await apply(
      soPath("rehearsal"),
      scaledObject(
        "rehearsal",
        {
          scaleTargetRef: { name: "rehearsal" },
          maxReplicaCount: 10,
          triggers: [{ type: "edge-eventing", metadata: { broker: "b", trigger: "held", metric: "backlog", target: "2" } }],
        },
        { "edge-eventing.dev/dry-run": "true" },
      ),
    );
    await Promise.all(Array.from({ length: 6 }, (_, i) => exports.default.fetch(url(`/${NS}/b`), binaryEvent(`held-${i}`, "held.t"))));

    // Backlog 6 at 2 per replica: KEDA's HPA would set 3.
    const status = await stepUntil(
      "rehearsal",
      async () => {
        const s = (await getScaledObject("rehearsal")).status;
        return s.lastDecision?.desiredReplicas === 3 && s;
      },
      5_000,
      "a dry-run decision of 3",
    );
    expect(status.lastDecision).toMatchObject({
      actuation: "DryRun",
      reason: "KedaAverageValue",
      inputs: { currentReplicas: 1, keda: [{ metric: "held.backlog", value: 6, target: 2, active: true }] },
    });
    expect(status.conditions).toContainEqual(expect.objectContaining({ type: "DryRun", status: "True" }));
    const deploymentPath = `/apis/apps/v1/namespaces/${NS}/deployments/rehearsal`;
    expect((await requests(deploymentPath)).map((r) => r.method)).not.toContain("PATCH");
    const fake = (await (await fetch(`${control}/object?path=${encodeURIComponent(deploymentPath)}`)).json()) as any;
    expect(fake.spec.replicas).toBe(1);
  });

  it("exports each ScaledObject's desired and current replicas, panic mode and last decision time on /metrics", async () => {
    const before = (await getScaledObject("consumer")).status;
    const text = await (await exports.default.fetch(url("/metrics"), { headers: auth })).text();
    const gauge = (name: string, so: string) => {
      const m = new RegExp(`^edge_eventing_autoscaler_${name}\\{namespace="${NS}",scaledobject="${so}"\\} (\\S+)$`, "m").exec(text);
      return m ? Number(m[1]) : undefined;
    };
    expect(text).toMatch(/# TYPE edge_eventing_autoscaler_desired_replicas gauge/);
    expect([gauge("desired_replicas", "consumer"), gauge("current_replicas", "consumer"), gauge("panic_mode", "consumer")]).toEqual([1, 1, 0]);
    const decidedAt = gauge("last_decision_timestamp_seconds", "consumer")!;
    expect(decidedAt).toBeGreaterThanOrEqual(Date.parse(before.lastDecision.time) / 1000);
    expect(decidedAt).toBeLessThanOrEqual(Date.now() / 1000);
    // A KEDA-only ScaledObject has no panic mode; a dry-run one shows what it would set.
    expect([gauge("desired_replicas", "ksvc"), gauge("panic_mode", "ksvc")]).toEqual([5, undefined]);
    expect([gauge("desired_replicas", "rehearsal"), gauge("current_replicas", "rehearsal")]).toEqual([3, 1]);
    // The broker families are unchanged beside them.
    expect(text).toContain(`edge_eventing_backlog{namespace="${NS}",broker="b"}`);
  });
});
