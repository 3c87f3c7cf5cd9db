import { describe, expect, it } from "vitest";
import type { Manifest } from "../../../shared/resources/manifest.ts";
import { deadLetterEntry, sinkEntry, sourceChannels, type SourceSpec, sourceDelivery, validateSourceCommon } from "../../../shared/resources/sources.ts";

const ctx = { baseUrl: "https://r.example", selfHosts: ["r.example"], domainTemplate: "https://{name}.{namespace}.{DOMAIN}", domain: "svc.example" };
const source = (kind: string, spec: SourceSpec, annotations: Record<string, string> = {}): Manifest<SourceSpec> => ({
  apiVersion: "sources.knative.dev/v1",
  kind,
  metadata: { name: "s", namespace: "ns", uid: "u-1", annotations },
  spec,
});

const channel = (s: Manifest<SourceSpec>, i = 0) => sourceChannels(s, ctx)[i].config;

describe("source sinks", () => {
  it("ingests straight into a sink Broker, and through the source's own channel otherwise", () => {
    const toBroker = source("PingSource", { sink: { ref: { apiVersion: "eventing.knative.dev/v1", kind: "Broker", name: "default" } } });
    expect(sinkEntry(toBroker, ctx)).toEqual({ namespace: "ns", name: "default" });
    expect(channel(toBroker)).toBeNull();
    const toService = source("KafkaSource", { sink: { ref: { apiVersion: "serving.knative.dev/v1", kind: "Service", name: "asr" } } });
    expect(sinkEntry(toService, ctx)).toEqual({ namespace: "ns", name: "source:kafkasource:s" });
    const config = channel(toService)!;
    expect(config.name).toBe("source:kafkasource:s");
    expect(config.triggers).toHaveLength(1);
    expect(config.triggers[0]).toMatchObject({ subscriberUri: "https://asr.ns.svc.example", ordered: true, filter: {} });
  });

  it("routes poison messages to the dead-letter sink through a channel of their own, with the source's retries", () => {
    const sink = { uri: "https://x.example" };
    expect(deadLetterEntry(source("KafkaSource", { sink }), ctx)).toBeNull();
    const s = source("KafkaSource", { sink, delivery: { retry: 4, deadLetterSink: { uri: "https://dls.example" } } });
    expect(deadLetterEntry(s, ctx)).toEqual({ namespace: "ns", name: "source:kafkasource:s:dead-letter" });
    const dl = channel(s, 1)!;
    expect(dl.delivery).toEqual({ retry: 4 });
    expect(dl.triggers[0]).toMatchObject({ subscriberUri: "https://dls.example", ordered: false });
    expect(channel(s, 0)!.deadLetter).toEqual({ kind: "url", url: "https://dls.example" });
    const toBroker = source("KafkaSource", {
      sink,
      delivery: { deadLetterSink: { ref: { apiVersion: "eventing.knative.dev/v1", kind: "Broker", name: "dead" } } },
    });
    expect(deadLetterEntry(toBroker, ctx)).toEqual({ namespace: "ns", name: "dead" });
    expect(channel(toBroker, 1)).toBeNull();
  });

  it("orders KafkaSource deliveries unless ordering is unordered, as Knative does", () => {
    const sink = { uri: "https://x.example" };
    expect(channel(source("KafkaSource", { sink, ordering: "unordered" }))!.triggers[0].ordered).toBe(false);
    expect(channel(source("PingSource", { sink }))!.triggers[0].ordered).toBe(false);
  });
});

describe("ACK delivery annotations", () => {
  const sink = { uri: "https://x.example" };
  it("become a fixed retry interval, a retry count and a timeout; spec.delivery wins", () => {
    const s = source("KafkaSource", { sink }, { "k8s.aliyun.com/retry-count": "3", "k8s.aliyun.com/retry-interval": "2s", "k8s.aliyun.com/req-timeout": "15" });
    expect(sourceDelivery(s)).toEqual({ retry: 3, backoffPolicy: "linear", backoffDelay: "PT2S", backoffMax: "PT2S", timeout: "PT15S" });
    const both = source("KafkaSource", { sink, delivery: { retry: 9 } }, { "k8s.aliyun.com/retry-count": "3" });
    expect(sourceDelivery(both)).toEqual({ retry: 9 });
    expect(sourceDelivery(source("KafkaSource", { sink, delivery: { retry: 1 } }))).toEqual({ retry: 1 });
  });

  it("are validated with the source, every cause named", () => {
    const bad = source("KafkaSource", { sink }, { "k8s.aliyun.com/retry-count": "many", "k8s.aliyun.com/retry-interval": "soon" });
    expect(validateSourceCommon(bad).map((c) => c.field)).toEqual([
      "metadata.annotations.k8s.aliyun.com/retry-count",
      "metadata.annotations.k8s.aliyun.com/retry-interval",
    ]);
    expect(validateSourceCommon(source("PingSource", { sink, delivery: { retry: -1, deadLetterSink: { uri: "nope" } } })).map((c) => c.field)).toEqual([
      "spec.delivery.retry",
      "spec.delivery.deadLetterSink.uri",
    ]);
    expect(validateSourceCommon(source("PingSource", { sink }, { "k8s.aliyun.com/req-timeout": "20m" }))[0].field).toBe(
      "metadata.annotations.k8s.aliyun.com/req-timeout",
    );
  });
});
