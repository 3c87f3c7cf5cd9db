import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { KubernetesClient, type FetchLike } from "../../../shared/kubernetes/client.ts";
import { applyScale, MAX_CALLS_PER_TICK, MIN_WRITE_INTERVAL_SEC, withCallBudget, type Actuation } from "../../../shared/kubernetes/rate-limit.ts";
import { FakeKubernetesApi } from "../../fakes/kubernetes-api.ts";

const deployment = { apiVersion: "apps/v1", kind: "Deployment", name: "consumer", namespace: "shop" };
const ksvc = { apiVersion: "serving.knative.dev/v1", kind: "Service", name: "orders", namespace: "shop" };
const DEPLOY_PATH = "/apis/apps/v1/namespaces/shop/deployments/consumer";
const REV_PATH = "/apis/serving.knative.dev/v1/namespaces/shop/revisions/orders-00001";

let api: FakeKubernetesApi;
const client = (f: FetchLike = fetch) => new KubernetesClient(f, { url: api.url, token: "t0k" });
const patches = () => api.requests.filter((r) => r.method === "PATCH");

beforeEach(async () => {
  api = await new FakeKubernetesApi({ token: "t0k" }).start();
  api.addWorkload("Deployment", "shop", "consumer", 1);
  api.addKnativeService("shop", "orders", "orders-00001");
});
afterEach(() => api.stop());

/** Ticks every 0.2 s for 6 s with a decision that changes on every tick, keeping the state as the Autoscaler does. */
async function burst(dryRun: boolean): Promise<Actuation[]> {
  let current = 1;
  let lastWriteSec: number | null = null;
  const seen: Actuation[] = [];
  for (let i = 0; i <= 30; i++) {
    const tSec = i / 5;
    const applied = await applyScale(client(), deployment, 2 + i, { tSec, current, lastWriteSec, dryRun });
    if (applied.scale) current = applied.scale.replicas;
    if (applied.actuation === "Written") lastWriteSec = tSec;
    if (applied.actuation === "Deferred") expect(applied.retryAtSec).toBe(lastWriteSec! + MIN_WRITE_INTERVAL_SEC);
    seen.push(applied.actuation);
  }
  return seen;
}

describe("scale write limit", () => {
  it("writes a burst of changing decisions at most once per interval, the latest decision each time", async () => {
    const seen = await burst(false);
    // 31 different decisions over 6 s: writes at 0, 2, 4 and 6 s only.
    expect(patches().map((p) => JSON.parse(p.body).spec.replicas)).toEqual([2, 12, 22, 32]);
    expect(seen.filter((a) => a === "Written")).toHaveLength(4);
    expect(seen.filter((a) => a === "Deferred")).toHaveLength(27);
    expect(api.object(DEPLOY_PATH)!.spec.replicas).toBe(32);
  });

  it("in dry-run reports every decision and sends nothing", async () => {
    expect(new Set(await burst(true))).toEqual(new Set(["DryRun"]));
    expect(api.requests).toEqual([]);
    expect(api.object(DEPLOY_PATH)!.spec.replicas).toBe(1);
  });

  it("makes no call for a decision the target already has", async () => {
    expect(await applyScale(client(), deployment, 1, { tSec: 0, current: 1, lastWriteSec: null, dryRun: false })).toEqual({ actuation: "Unchanged" });
    expect(api.requests).toEqual([]);
  });
});

describe("API call budget per tick", () => {
  /** Another writer bumps the object before every PATCH: each write meets 409 Conflict. */
  const racing =
    (path: string): FetchLike =>
    async (url, init) => {
      if (init.method === "PATCH") api.touch(path);
      return fetch(url, init);
    };

  it("fits the worst legitimate tick: a Knative read, then a write through every 409 retry", async () => {
    const budgeted = withCallBudget(racing(REV_PATH));
    await client(budgeted).getScale(ksvc);
    await expect(client(budgeted).setReplicas(ksvc, 3)).rejects.toMatchObject({ status: 409 });
    expect(api.requests).toHaveLength(MAX_CALLS_PER_TICK);
    await expect(client(budgeted).getScale(ksvc)).rejects.toMatchObject({
      reason: "CallBudgetExhausted",
      message: expect.stringMatching(/not sent.*11 Kubernetes API calls/),
    });
    expect(api.requests).toHaveLength(MAX_CALLS_PER_TICK);
  });

  it("stops a tick's calls at the budget without reaching the server", async () => {
    await expect(client(withCallBudget(racing(DEPLOY_PATH), 3)).setReplicas(deployment, 5)).rejects.toMatchObject({ reason: "CallBudgetExhausted" });
    expect(api.requests.map((r) => r.method)).toEqual(["GET", "PATCH", "GET"]);
  });
});
