/**
 * The seed scenario over real HTTP against `wrangler dev`: a KafkaSource manifest as users already have
 * it (YAML, Alibaba's `k8s.aliyun.com/*` annotations) with one `spec.bridge` added, pointing at the
 * Confluent REST fake; a produced record reaches the Knative Service (a real HTTP subscriber behind the
 * domain template) through the poller's alarm loop alone (no cron is triggered), and the latency is printed.
 */
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KafkaLog, startKafkaRestFake, type FakeBridge } from "../fakes/kafka-rest.ts";
import { auth, eventually, receivedAtLeast } from "../support/client.ts";
import { type RunningRouter, startRouter } from "../support/router.ts";
import { type Subscriber, startSubscriber } from "../support/subscriber.ts";

let router: RunningRouter;
let sub: Subscriber;
let kafka: FakeBridge;
const log = new KafkaLog();

beforeAll(async () => {
  log.createTopic("demo", 1);
  [sub, kafka] = await Promise.all([startSubscriber(), startKafkaRestFake("confluent-v2", { log })]);
  // Knative Services resolve through the domain template; here it points at the subscriber, keeping the host in the path.
  router = await startRouter({ vars: { DOMAIN_TEMPLATE: `${sub.url}/{HOST}` } });
});
afterAll(async () => {
  await Promise.all([router?.stop(), sub?.close(), kafka?.close()]);
});

/** The seed article's KafkaSource as users have it (test/fixtures/seed/), in each Knative version, with one `spec.bridge` added. */
const seed = (version: string) => readFileSync(new URL(`../fixtures/seed/kafkasource-${version}.yaml`, import.meta.url), "utf8");
const manifest = (version: string, bridgeUrl: string) => `${seed(version).trimEnd()}\n  bridge:\n    type: confluent-v2\n    url: ${bridgeUrl}\n`;
const HOST = "event-display.default.example.com";

describe("KafkaSource end to end", () => {
  // One after the other on the same name: each version replaces the last, its consumer resumes at the group's offsets.
  it.each(["v1alpha1", "v1beta1", "v1"].map((version, i) => ({ version, n: i + 1 })))(
    "applies the user's $version manifest unchanged plus spec.bridge and delivers a produced record within a second or two",
    async ({ version, n }) => {
      const path = `/apis/sources.knative.dev/${version}/namespaces/default/kafkasources/kafka-source`;
      const applied = await fetch(`${router.url}${path}`, {
        method: "PUT",
        headers: { ...auth, "content-type": "application/yaml" },
        body: manifest(version, kafka.url),
      });
      expect(applied.status, await applied.clone().text()).toBeLessThan(300);
      expect(((await applied.json()) as any).status.sinkUri).toBe(`${sub.url}/${HOST}`);

      // initialOffset defaults to latest (Knative): produce once the consumer holds its position.
      await eventually(
        async () => {
          const s = (await (await fetch(`${router.url}${path}`, { headers: auth })).json()) as {
            status?: { conditions?: Array<{ status: string }>; lastPollTime?: string };
          };
          return s.status?.conditions?.[0]?.status === "True" && s.status.lastPollTime !== undefined;
        },
        30_000,
        "the first poll",
      );
      const producedAt = Date.now();
      log.produce("demo", { key: `order-${n}`, value: `{"order":${n}}` });
      const got = (await receivedAtLeast(sub.url, `/${HOST}`, n, 10_000))[n - 1];
      const latencyMs = got.at - producedAt;
      console.log(`KafkaSource ${version} end-to-end latency: ${latencyMs} ms (record produced -> subscriber received)`);
      expect(got.headers).toMatchObject({
        "ce-type": "dev.knative.kafka.event",
        "ce-source": "/apis/v1/namespaces/default/kafkasources/kafka-source#demo",
        "ce-key": `order-${n}`,
      });
      expect(got.body).toBe(`{"order":${n}}`);
      expect(latencyMs).toBeLessThan(2_000);
      await eventually(async () => log.groupCommits("knative-group").get("demo/0") === n, 10_000, "the offset committed");
    },
  );
});
