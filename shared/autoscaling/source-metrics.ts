/**
 * KEDA metrics of the source triggers (kafka, rocketmq, redis-streams) from what their source's poller
 * reports (`SourcePoller.backlog()`): what the bridge still holds for the router, plus what the router
 * took and its sink has not received yet, so a slow sink scales whatever the router buffers.
 */
import type { KedaMetric } from "./keda.ts";
import { kafkaLag, type PartitionOffsets } from "./kafka-lag.ts";
import type { TriggerSpec } from "./scaled-object.ts";
import type { BridgeKind } from "../resources/kinds.ts";

/** The source kind each trigger type reads. */
export const SOURCE_KINDS = { kafka: "KafkaSource", rocketmq: "RocketMQSource", "redis-streams": "RedisStreamSource" } as const satisfies Record<
  string,
  BridgeKind
>;
export type SourceTrigger = TriggerSpec & { type: keyof typeof SOURCE_KINDS };

/** A source's backlog, summed over its consumer instances. */
export interface SourceBacklog {
  /** Kafka: every partition read so far, for KEDA's per-partition formula. */
  partitions?: PartitionOffsets[];
  /** Records the bridge holds that are not committed (read or not); absent where the bridge cannot tell. */
  pending?: number;
  /** Events the router's channel holds for the sink (stored, not yet delivered); 0 when the sink is a Broker. */
  buffered: number;
  /** Why there is no metric (a RocketMQ source whose sink is a Broker: nothing to measure on the way). */
  unmeasured?: string;
}

export type SourceMetric = { ok: true; metric: KedaMetric; value: number; previous: Record<string, number> } | { ok: false; error: string };

/** `previous`: the committed offsets of the last poll, for Kafka's excludePersistentLag. */
export function sourceMetric(trigger: SourceTrigger, backlog: SourceBacklog, previous: Record<string, number> = {}): SourceMetric {
  const { target, activationTarget } = trigger;
  const name = `${SOURCE_KINDS[trigger.type]} ${trigger.source}`;
  if (backlog.unmeasured) return { ok: false, error: `${name}: ${backlog.unmeasured}` };
  if (trigger.kafka) {
    if (!backlog.partitions?.length) return { ok: false, error: `${name} has read no partition yet` };
    const lag = kafkaLag(backlog.partitions, trigger.kafka, previous, backlog.buffered);
    return { ok: true, value: lag.totalLag, metric: { value: lag.totalLag, target, active: lag.active }, previous: lag.previous };
  }
  // The RocketMQ HTTP API tells no backlog: the router drains the topic into its channel, where it is counted.
  const value = (backlog.pending ?? 0) + backlog.buffered;
  return { ok: true, value, metric: { value, target, active: value > activationTarget }, previous: {} };
}
