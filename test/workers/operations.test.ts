import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { auth, binaryEvent, broker, eventually, resourcePath, trigger } from "../support/client.ts";

const r = (path: string, init?: RequestInit) => exports.default.fetch(`http://router.test${path}`, init);
const put = (path: string, body: unknown) => r(path, { method: "PUT", headers: { ...auth, "content-type": "application/json" }, body: JSON.stringify(body) });

describe("operations", () => {
  it("exposes per broker and trigger counters, backlog and latency in Prometheus format", async () => {
    await put(resourcePath("ops", "brokers", "m"), broker("m"));
    await put(
      resourcePath("ops", "triggers", "shown"),
      trigger("shown", {
        broker: "m",
        filters: [{ exact: { type: "m.t" } }],
        subscriber: { ref: { apiVersion: "edge-eventing.dev/v1alpha1", kind: "EventDisplay", name: "m" } },
      }),
    );
    for (const id of ["1", "2", "3"]) expect((await r("/ops/m", binaryEvent(id, "m.t"))).status).toBe(202);
    expect((await r("/ops/m", binaryEvent("4", "other.t"))).status).toBe(202);
    expect((await r("/ops/m", binaryEvent("1", "m.t"))).status).toBe(202);
    const text = await eventually(async () => {
      const body = await (await r("/metrics", { headers: auth })).text();
      return body.includes('edge_eventing_events_delivered_total{namespace="ops",broker="m",trigger="shown"} 3') ? body : undefined;
    });
    expect(text).toContain('edge_eventing_events_accepted_total{namespace="ops",broker="m"} 4');
    expect(text).toContain('edge_eventing_events_duplicate_total{namespace="ops",broker="m"} 1');
    expect(text).toContain('edge_eventing_events_matched_total{namespace="ops",broker="m",trigger="shown"} 3');
    expect(text).toContain('edge_eventing_backlog{namespace="ops",broker="m"} 0');
    expect(text).toContain('edge_eventing_delivery_latency_seconds_count{namespace="ops",broker="m",trigger="shown"} 3');
    expect(text).toMatch(/# TYPE edge_eventing_delivery_latency_seconds histogram/);
  });

  it("includes the delivery channel of a source whose sink is not a broker", async () => {
    const ping = {
      apiVersion: "sources.knative.dev/v1",
      kind: "PingSource",
      metadata: { name: "tick" },
      spec: { schedule: "* * * * *", sink: { ref: { apiVersion: "edge-eventing.dev/v1alpha1", kind: "EventDisplay", name: "tick" } } },
    };
    expect((await put("/apis/sources.knative.dev/v1/namespaces/ops/pingsources/tick", ping)).status).toBe(201);
    const text = await (await r("/metrics", { headers: auth })).text();
    expect(text).toContain('edge_eventing_backlog{namespace="ops",broker="source:pingsource:tick"} 0');
  });

  it("guards metrics and the event display with the admin token; healthz is open", async () => {
    expect((await r("/metrics")).status).toBe(401);
    expect((await r("/display/ops/m")).status).toBe(401);
    expect((await r("/healthz")).status).toBe(200);
  });
});
