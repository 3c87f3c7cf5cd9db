/** What the Kafka poller tests share: a poller config and state storage that behaves like a Durable Object's. */
import type { KafkaPollerConfig, KafkaPollerState, PollerStateStore } from "../../../../shared/bridges/kafka/index.ts";
import type { PolledMessage } from "../../../../shared/bridges/types.ts";

/** Saves through JSON, as Durable Object storage would keep it across evictions. */
export function memoryStore(): PollerStateStore & { saved?: KafkaPollerState } {
  return {
    saved: undefined,
    async load() {
      return this.saved && JSON.parse(JSON.stringify(this.saved));
    },
    async save(state) {
      this.saved = JSON.parse(JSON.stringify(state));
    },
  };
}

/** Group `g1` reading topic `orders` from the earliest offset, polling 30 ms at a time. */
export const pollerConfig = (bridge: KafkaPollerConfig["bridge"], extra: Partial<KafkaPollerConfig> = {}): KafkaPollerConfig => ({
  bridge,
  topics: ["orders"],
  consumerGroup: "g1",
  initialOffset: "earliest",
  source: { namespace: "default", name: "ks" },
  keyType: "string",
  pollTimeoutMs: 30,
  ...extra,
});

export const ids = (messages: PolledMessage[]) => messages.map((m) => m.event?.attributes.id);
