import { describe, expect, it } from "vitest";
import { resolveDestination, selfHostsOf, validateDestination } from "../../../shared/resources/destination.ts";
import { parseManifestBody, validateEnvelope } from "../../../shared/resources/manifest.ts";
import { renderMetrics } from "../../../shared/metrics/prometheus.ts";
import { triggerSettings, validateTrigger } from "../../../shared/resources/eventing.ts";

const ctx = {
  baseUrl: "https://events.example.com",
  selfHosts: selfHostsOf("https://events.example.com", "https://events.example.com/apis"),
  domainTemplate: "https://{HOST}",
  domain: "svc.example.com",
};

describe("destinations", () => {
  it("resolves URIs, Knative Services (with Alibaba's domain annotation), Brokers and the display", () => {
    expect(resolveDestination({ uri: "https://a.example/x" }, "ns", ctx)).toEqual({ kind: "url", url: "https://a.example/x" });
    expect(resolveDestination({ ref: { apiVersion: "serving.knative.dev/v1", kind: "Service", name: "asr" } }, "live", ctx)).toEqual({
      kind: "url",
      url: "https://asr.live.svc.example.com",
    });
    expect(resolveDestination({ ref: { kind: "Service", name: "asr" }, uri: "/hook" }, "live", ctx, { "k8s.aliyun.com/domain": "asr.live.ack.cn" })).toEqual({
      kind: "url",
      url: "https://asr.live.ack.cn/hook",
    });
    expect(resolveDestination({ ref: { apiVersion: "eventing.knative.dev/v1", kind: "Broker", name: "b", namespace: "other" } }, "ns", ctx)).toEqual({
      kind: "broker",
      namespace: "other",
      name: "b",
    });
    expect(resolveDestination({ ref: { apiVersion: "edge-eventing.dev/v1alpha1", kind: "EventDisplay", name: "d" } }, "ns", ctx)).toEqual({
      kind: "display",
      namespace: "ns",
      name: "d",
    });
  });

  it("takes k8s.aliyun.com/domain as the Service's whole host, as Alibaba's manifests write it", () => {
    const sink = { ref: { apiVersion: "serving.knative.dev/v1", kind: "Service", name: "event-display" } };
    const annotations = { "k8s.aliyun.com/domain": "event-display.default.example.com" };
    expect(resolveDestination(sink, "default", ctx, annotations)).toEqual({ kind: "url", url: "https://event-display.default.example.com" });
    // {HOST} is placed where the template says; {name}, {namespace} and {DOMAIN} keep their meaning.
    const local = { ...ctx, domainTemplate: "http://127.0.0.1:9000/{HOST}" };
    expect(resolveDestination(sink, "default", local, annotations)).toEqual({ kind: "url", url: "http://127.0.0.1:9000/event-display.default.example.com" });
    expect(resolveDestination(sink, "default", local)).toEqual({ kind: "url", url: "http://127.0.0.1:9000/event-display.default.svc.example.com" });
    // A template without {HOST} cannot place the annotated host: the annotation is then the URL's authority.
    const legacy = { ...ctx, domainTemplate: "https://{name}.{namespace}.{DOMAIN}" };
    expect(resolveDestination(sink, "default", legacy, annotations)).toEqual({ kind: "url", url: "https://event-display.default.example.com" });
    expect(resolveDestination(sink, "default", legacy)).toEqual({ kind: "url", url: "https://event-display.default.svc.example.com" });
  });

  it("turns a URI at the router's own ingress into an internal broker delivery (no HTTP loop)", () => {
    expect(resolveDestination({ uri: "https://events.example.com/default/default" }, "ns", ctx)).toEqual({
      kind: "broker",
      namespace: "default",
      name: "default",
    });
  });

  it("recognises its own ingress however the URL spells the origin or the path", () => {
    const aliased = {
      ...ctx,
      selfHosts: selfHostsOf(ctx.baseUrl, "https://events.example.com/apis", "edge-eventing.acme.workers.dev, https://internal.example:8443"),
    };
    const self = { kind: "broker", namespace: "default", name: "b" };
    for (const uri of [
      "HTTPS://EVENTS.EXAMPLE.COM/default/b",
      "https://events.example.com:443/default/b",
      "http://events.example.com/default/b",
      "http://events.example.com:80/default/b/",
      "https://events.example.com/d%65fault/b?x=1",
      "https://edge-eventing.acme.workers.dev/default/b",
      "https://internal.example:8443/default/b",
    ]) {
      expect(resolveDestination({ uri }, "ns", aliased), uri).toEqual(self);
    }
    for (const uri of [
      "https://events.example.com:8443/default/b",
      "https://other.example/default/b",
      "https://events.example.com/display/default/b",
      "https://events.example.com/default/b/x",
    ]) {
      expect(resolveDestination({ uri }, "ns", aliased), uri).toEqual({ kind: "url", url: uri });
    }
  });

  it("refuses what it cannot resolve", () => {
    expect(validateDestination({ ref: { apiVersion: "v1", kind: "ConfigMap", name: "x" } }, "spec.subscriber", true)[0].field).toBe("spec.subscriber.ref");
    expect(validateDestination({ uri: "ftp://x" }, "spec.subscriber", true)[0].field).toBe("spec.subscriber.uri");
    expect(validateDestination(undefined, "spec.subscriber", true)[0].message).toBe("is required");
  });
});

describe("manifest bodies", () => {
  it("reads JSON, YAML, and undeclared bodies as YAML; refuses other media types", () => {
    expect(parseManifestBody("application/json", '{"a":1}')).toEqual({ value: { a: 1 }, duplicates: [] });
    expect(parseManifestBody("application/yaml", "a: 1\n")).toEqual({ value: { a: 1 }, duplicates: [] });
    expect(parseManifestBody(null, "a: [1, 2]")).toEqual({ value: { a: [1, 2] }, duplicates: [] });
    expect(parseManifestBody("application/xml", "<a/>")).toMatchObject({ status: 415 });
    expect(parseManifestBody("application/yaml", "a: 1\n---\nb: 2\n")).toMatchObject({ status: 400 });
    expect(parseManifestBody("application/yaml", "a: [1\n")).toMatchObject({ status: 400 });
  });

  it("names every duplicated key of a JSON or YAML body by its field path; the last value is kept", () => {
    const json = '{"spec": {"broker": "a", "filters": [{"exact": {"type": "x", "type": "y"}}], "broker": "b"}}';
    expect(parseManifestBody("application/json", json)).toEqual({
      value: { spec: { broker: "b", filters: [{ exact: { type: "y" } }] } },
      duplicates: ["spec.filters[0].exact.type", "spec.broker"],
    });
    const yaml = "spec:\n  broker: a\n  broker: b\nmetadata: {name: x}\nmetadata: {name: y}\n";
    expect(parseManifestBody("application/yaml", yaml)).toEqual({
      value: { spec: { broker: "b" }, metadata: { name: "y" } },
      duplicates: ["spec.broker", "metadata"],
    });
  });

  it("refuses __proto__, constructor and prototype keys anywhere, JSON or YAML, naming each field", () => {
    expect(parseManifestBody("application/json", '{"spec": {"__proto__": {"error": 1}, "filters": [{"exact": {"constructor": "x"}}]}}')).toEqual({
      error: expect.stringContaining("spec.__proto__, spec.filters[0].exact.constructor"),
      status: 400,
      causes: [
        { field: "spec.__proto__", message: "field name not allowed" },
        { field: "spec.filters[0].exact.constructor", message: "field name not allowed" },
      ],
    });
    expect(parseManifestBody("application/yaml", "metadata:\n  labels:\n    prototype: x\n")).toMatchObject({
      status: 400,
      causes: [{ field: "metadata.labels.prototype" }],
    });
    expect(parseManifestBody("application/json", '{"data": "__proto__", "__protos__": 1}')).toEqual({
      value: { data: "__proto__", __protos__: 1 },
      duplicates: [],
    });
  });

  it("checks apiVersion, kind, names and namespaces", () => {
    const causes = validateEnvelope(
      { apiVersion: "eventing.knative.dev/v2", kind: "Brokr", metadata: { name: "Bad_Name", namespace: "x" } },
      { apiVersions: ["eventing.knative.dev/v1"], kind: "Broker", namespace: "y" },
    );
    expect(causes.map((c) => c.field)).toEqual(["apiVersion", "kind", "metadata.name", "metadata.namespace"]);
  });
});

describe("Prometheus exposition", () => {
  it("renders counters with labels and a cumulative latency histogram", () => {
    const text = renderMetrics(
      [
        {
          namespace: "ns",
          broker: "b",
          backlog: 3,
          dead: 1,
          counters: [
            { trigger: "", name: "accepted", value: 10 },
            { trigger: "t", name: "delivered", value: 7 },
            { trigger: "t", name: "latency_le_10", value: 5 },
            { trigger: "t", name: "latency_le_100", value: 2 },
            { trigger: "t", name: "latency_sum_ms", value: 150 },
          ],
        },
      ],
      [10, 100],
    );
    expect(text).toContain('edge_eventing_backlog{namespace="ns",broker="b"} 3');
    expect(text).toContain('edge_eventing_events_accepted_total{namespace="ns",broker="b"} 10');
    expect(text).toContain('edge_eventing_events_delivered_total{namespace="ns",broker="b",trigger="t"} 7');
    expect(text).toContain('edge_eventing_delivery_latency_seconds_bucket{namespace="ns",broker="b",trigger="t",le="0.1"} 7');
    expect(text).toContain('edge_eventing_delivery_latency_seconds_bucket{namespace="ns",broker="b",trigger="t",le="+Inf"} 7');
    expect(text).toContain('edge_eventing_delivery_latency_seconds_sum{namespace="ns",broker="b",trigger="t"} 0.15');
  });
});

describe("trigger flow-control annotations", () => {
  const manifest = (annotations: Record<string, string>) => ({
    apiVersion: "eventing.knative.dev/v1",
    kind: "Trigger",
    metadata: { name: "t", annotations },
    spec: { broker: "b", subscriber: { uri: "https://s.example" } },
  });

  it("compiles rate-limit and paused into the trigger's configuration", () => {
    expect(triggerSettings(manifest({ "edge-eventing.dev/rate-limit": "10/s", "edge-eventing.dev/paused": "true" }))).toEqual({
      ordered: false,
      parallelism: 50,
      rateLimit: { count: 10, periodMs: 1000 },
      paused: true,
    });
    expect(triggerSettings(manifest({ "edge-eventing.dev/rate-limit": "30/m", "edge-eventing.dev/paused": "false" }))).toEqual({
      ordered: false,
      parallelism: 50,
      rateLimit: { count: 30, periodMs: 60_000 },
    });
    expect(triggerSettings(manifest({}))).toEqual({ ordered: false, parallelism: 50 });
  });

  it("names the annotation of a bad value", () => {
    expect(validateTrigger(manifest({ "edge-eventing.dev/rate-limit": "10/h", "edge-eventing.dev/paused": "yes" }))).toEqual([
      { field: "metadata.annotations.edge-eventing.dev/rate-limit", message: 'must be "<n>/s" or "<n>/m" with n an integer from 1 to 100000' },
      { field: "metadata.annotations.edge-eventing.dev/paused", message: 'must be "true" or "false"' },
    ]);
    expect(validateTrigger(manifest({ "edge-eventing.dev/rate-limit": "1/m", "edge-eventing.dev/paused": "false" }))).toEqual([]);
  });

  it("exposes what the limit holds back as a gauge per trigger", () => {
    const text = renderMetrics([{ namespace: "ns", broker: "b", backlog: 3, dead: 0, rateLimited: { t: 3 }, counters: [] }], []);
    expect(text).toContain(
      '# TYPE edge_eventing_deliveries_rate_limited gauge\nedge_eventing_deliveries_rate_limited{namespace="ns",broker="b",trigger="t"} 3\n',
    );
  });
});
