/**
 * Interop with the CloudEvents JavaScript SDK (npm `cloudevents`), over real HTTP against `wrangler dev`: the
 * SDK's emitter is the producer, in binary and in structured mode, and the SDK's `HTTP.toEvent` reads what
 * the router delivers, as a subscriber built on it would. The SDK stands only for users' producers and
 * subscribers; it is never on the router's path (it rewrites events it parses).
 */
import { CloudEvent, emitterFor, HTTP, Mode } from "cloudevents";
import { beforeAll, describe, expect, it } from "vitest";
import { auth, broker, eventually, received as deliveries, resourcePath, trigger } from "../support/client.ts";
import { routerWithSubscriber } from "../support/router.ts";

const NS = "sdk";
const { router, subscriber } = routerWithSubscriber();

async function apply(plural: string, manifest: { metadata: { name: string } }): Promise<void> {
  const r = await fetch(`${router().url}${resourcePath(NS, plural, manifest.metadata.name)}`, {
    method: "PUT",
    headers: { ...auth, "content-type": "application/json" },
    body: JSON.stringify(manifest),
  });
  expect(r.status).toBeLessThan(300);
}

beforeAll(async () => {
  await apply("brokers", broker("sdk"));
  await apply("triggers", trigger("sdk", { broker: "sdk", filters: [{ exact: { type: "dev.example.sdk" } }], subscriber: { uri: `${subscriber().url}/sdk` } }));
});

describe("the CloudEvents SDK as producer and consumer", () => {
  it.each([Mode.BINARY, Mode.STRUCTURED])(
    "an event the SDK emits in %s mode reaches an SDK receiver with every attribute and the data as sent",
    async (mode) => {
      const sent = new CloudEvent({
        id: `sdk-${mode}`,
        source: "/sdk/producer",
        type: "dev.example.sdk",
        subject: "order-7",
        datacontenttype: "application/json",
        data: { order: 7, items: ["a", "b"], note: null, price: 9.5 },
        tier: "gold",
      });
      // What the SDK puts on the wire is what the router must hand on: the SDK adds `time` when constructing.
      expect(sent.time).toBeDefined();
      const statuses: number[] = [];
      const emit = emitterFor(
        async (message) => {
          const r = await fetch(`${router().url}/${NS}/sdk`, {
            method: "POST",
            headers: message.headers as Record<string, string>,
            body: message.body as string,
          });
          statuses.push(r.status);
          return r;
        },
        { mode },
      );
      await emit(sent);
      expect(statuses).toEqual([202]);

      const got = await eventually(
        async () => (await deliveries(subscriber().url, "/sdk")).find((r) => r.headers["ce-id"] === sent.id),
        15_000,
        `delivery of ${sent.id}`,
      );
      const received = HTTP.toEvent({ headers: got.headers, body: got.body }) as CloudEvent;
      expect(received.id).toBe(sent.id);
      expect(received.specversion).toBe("1.0");
      expect(received.source).toBe(sent.source);
      expect(received.type).toBe(sent.type);
      expect(received.subject).toBe(sent.subject);
      expect(received.time).toBe(sent.time);
      expect(received.datacontenttype).toBe("application/json");
      expect(received.data).toEqual(sent.data);
      expect(received.tier).toBe("gold");
      // The broker's own extension, and no hop count (Knative strips it for subscribers).
      expect(typeof received.knativearrivaltime).toBe("string");
      expect(received.knativebrokerttl).toBeUndefined();
    },
  );
});
