/**
 * The activator's gate in workerd: a partitioned broker's deliveries to a target at zero wait, the first
 * one activates the Autoscaler object without its alarm, the partitions share ready x containerConcurrency
 * through leases, and a hold that outlasts its limit lets the delivery spec apply. The target sits behind
 * the fake cluster's gateway (test/fakes/kubernetes-api.ts), which counts what reached it unready or over
 * capacity.
 */
import { runDurableObjectAlarm } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { describe, expect, inject, it } from "vitest";
import { runnerKey } from "../../clients/runner.ts";
import type { GatewayStats } from "../fakes/kubernetes-api.ts";
import { auth, binaryEvent, broker, eventually, received, resourcePath, trigger } from "../support/client.ts";
import { applyManifest } from "../support/manifests.ts";

const sub = inject("subscriberUrl");
const k8s = inject("kubernetesUrl");
const control = inject("kubernetesControlUrl");
const NS = "activator";
const url = (path: string) => `http://router.test${path}`;
const soPath = (name: string) => `/apis/keda.sh/v1alpha1/namespaces/${NS}/scaledobjects/${name}`;

const apply = (path: string, body: unknown) => applyManifest((p, init) => exports.default.fetch(url(p), init), path, body);
const status = async (name: string) => ((await (await exports.default.fetch(url(soPath(name)), { headers: auth })).json()) as any).status;
const brokerMetrics = async (name: string) =>
  (await (await exports.default.fetch(url(`/apis/eventing.knative.dev/v1/namespaces/${NS}/brokers/${name}/metrics`), { headers: auth })).json()) as any;
const gateway = async (name: string) => (await (await fetch(`${control}/gateway?namespace=${NS}&name=${name}`)).json()) as GatewayStats;
const scaleWrites = async (name: string) =>
  ((await (await fetch(`${control}/requests`)).json()) as { method: string; path: string; body: string }[])
    .filter((r) => r.method === "PATCH" && r.path === `/apis/apps/v1/namespaces/${NS}/deployments/${name}/scale`)
    .map((r) => JSON.parse(r.body).spec.replicas as number);

async function addDeployment(name: string, options: Record<string, number>): Promise<void> {
  const r = await fetch(`${control}/workloads`, { method: "POST", body: JSON.stringify({ kind: "Deployment", namespace: NS, name, replicas: 0, options }) });
  expect(r.status).toBe(204);
}

const scaledObject = (name: string, broker: string, annotations: Record<string, string>, spec: Record<string, unknown> = {}) => ({
  apiVersion: "keda.sh/v1alpha1",
  kind: "ScaledObject",
  metadata: { name, annotations },
  spec: {
    scaleTargetRef: { name },
    minReplicaCount: 0,
    maxReplicaCount: 2,
    pollingInterval: 30,
    cooldownPeriod: 1,
    cluster: { url: k8s, secretKeyRef: { name: "SECRET_K8S_TOKEN" } },
    triggers: [{ type: "edge-eventing", metadata: { broker, trigger: name, metric: "backlog", target: "1" } }],
    ...spec,
  },
});

/** Runs the Autoscaler object's alarm every 100 ms (its readiness watch, without waiting on the runtime's alarms) until `check` holds. */
async function stepUntil<T>(name: string, check: () => Promise<T | undefined | false>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await runDurableObjectAlarm(env.AUTOSCALER.getByName(runnerKey("ScaledObject", NS, name)));
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; status: ${JSON.stringify(await status(name))}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("the activator's gate", () => {
  it("holds a partitioned broker's deliveries at zero, activates at once, and shares ready x containerConcurrency between the partitions", {
    timeout: 60_000,
  }, async () => {
    const name = "infer";
    await addDeployment(name, { containerConcurrency: 1, serviceMs: 300, readyDelayMs: 1500 });
    await apply(resourcePath(NS, "brokers", "p4"), broker("p4", { "edge-eventing.dev/partitions": "4" }));
    await apply(
      resourcePath(NS, "triggers", name),
      trigger(name, {
        broker: "p4",
        subscriber: { uri: `${k8s}/gateway/${NS}/${name}` },
        delivery: { retry: 2, backoffPolicy: "linear", backoffDelay: "PT0.2S", deadLetterSink: { uri: `${sub}/${NS}-dead` } },
      }),
    );
    await apply(soPath(name), scaledObject(name, "p4", { "edge-eventing.dev/container-concurrency": "1" }));
    const events = 12;
    await Promise.all(Array.from({ length: events }, (_, i) => exports.default.fetch(url(`/${NS}/p4`), binaryEvent(`infer-${i}`))));

    // The first held delivery tells the Autoscaler object, which scales up without its alarm running.
    await eventually(async () => (await scaleWrites(name)).length > 0, 5_000, "a scale-up on activation");
    const metrics = await brokerMetrics("p4");
    expect(metrics.activator[name]).toMatchObject({ held: events, inFlight: 0, expired: false });
    expect(metrics.inflight[name]).toBe(0);

    await stepUntil(name, async () => (await gateway(name)).served.length >= events, 30_000, "every event served");
    const g = await gateway(name);
    expect(new Set(g.served).size).toBe(events);
    expect({ unavailable: g.unavailable, overloaded: g.overloaded }).toEqual({ unavailable: 0, overloaded: 0 });
    expect(g.maxOverCapacity).toBeLessThanOrEqual(0);
    // Two replicas of one request each: never more than 2 at once, and (with 12 waiting) 2 reached.
    expect(g.maxInFlight).toBe(2);
    expect(await received(sub, `/${NS}-dead`)).toHaveLength(0);
    expect(await status(name)).toMatchObject({ readyReplicas: 2, activation: { state: "Active", capacity: 2 } });
  });

  it("lets the delivery spec apply once a hold outlasts its activation-timeout", { timeout: 30_000 }, async () => {
    const name = "stuck";
    // A pod that never becomes ready (an image that cannot be pulled).
    await addDeployment(name, { readyDelayMs: 3_600_000 });
    await apply(resourcePath(NS, "brokers", "one"), broker("one"));
    await apply(
      resourcePath(NS, "triggers", name),
      trigger(name, {
        broker: "one",
        subscriber: { uri: `${k8s}/gateway/${NS}/${name}` },
        delivery: { retry: 0, deadLetterSink: { uri: `${sub}/${NS}-stuck-dead` } },
      }),
    );
    await apply(soPath(name), scaledObject(name, "one", { "edge-eventing.dev/activation-timeout": "1s" }));
    const sentAt = Date.now();
    expect((await exports.default.fetch(url(`/${NS}/one`), binaryEvent("stuck-1"))).status).toBe(202);
    await eventually(async () => (await brokerMetrics("one")).activator?.[name]?.held === 1, 5_000, "the event held");
    expect((await gateway(name)).unavailable).toBe(0);
    // After the limit: one attempt (retry 0), a 503, the dead-letter sink.
    const dead = await eventually(
      async () => {
        const got = await received(sub, `/${NS}-stuck-dead`);
        return got.length > 0 ? got : undefined;
      },
      10_000,
      "the dead letter",
    );
    expect(dead[0].at - sentAt).toBeGreaterThanOrEqual(1_000);
    expect(dead[0].headers["ce-knativeerrorcode"]).toBe("503");
    expect((await gateway(name)).unavailable).toBe(1);
  });

  it("counts what it holds in the KPA's concurrency, so a surge at zero scales out past one replica at once", { timeout: 30_000 }, async () => {
    const name = "surge";
    await addDeployment(name, { readyDelayMs: 3_600_000 });
    await apply(resourcePath(NS, "brokers", "kpa"), broker("kpa"));
    await apply(resourcePath(NS, "triggers", name), trigger(name, { broker: "kpa", subscriber: { uri: `${k8s}/gateway/${NS}/${name}` } }));
    await apply(
      soPath(name),
      scaledObject(
        name,
        "kpa",
        {},
        {
          maxReplicaCount: 5,
          triggers: [{ type: "edge-eventing", metadata: { broker: "kpa", trigger: name, metric: "concurrency", target: "1" } }],
        },
      ),
    );
    await Promise.all(Array.from({ length: 6 }, (_, i) => exports.default.fetch(url(`/${NS}/kpa`), binaryEvent(`surge-${i}`))));
    // Nothing is in flight (no replica is ready), yet the decider sees the 6 held: 6 / 0.7 per pod, capped at 5.
    const s = await stepUntil(
      name,
      async () => {
        const st = await status(name);
        return st.lastDecision?.observed?.[`${name}.concurrency`] === 6 && (await scaleWrites(name)).includes(5) ? st : undefined;
      },
      10_000,
      "a decision on the held concurrency",
    );
    expect(s.activation).toMatchObject({ state: "Activating", held: 6, inFlight: 0 });
    expect((await gateway(name)).unavailable).toBe(0);
  });

  it("leaves triggers no ScaledObject gates alone: no activator state in their broker", async () => {
    await apply(resourcePath(NS, "brokers", "free"), broker("free"));
    await apply(resourcePath(NS, "triggers", "free"), trigger("free", { broker: "free", subscriber: { uri: `${sub}/${NS}-free` } }));
    expect((await exports.default.fetch(url(`/${NS}/free`), binaryEvent("free-1"))).status).toBe(202);
    await eventually(async () => (await received(sub, `/${NS}-free`)).length === 1 || undefined, 5_000, "the delivery");
    expect((await brokerMetrics("free")).activator).toBeUndefined();
  });
});
