/**
 * KEDA metrics of the source triggers (kafka, rocketmq, redis-streams) from the status their source
 * poller reports: `partitions` (per-partition offsets, KEDA's full Kafka formula), else `lag`, else
 * `backlog`. A poller that reports none of them gives an error naming what is missing.
 */
import type { KedaMetric } from "./keda.ts";
import { kafkaLag, type PartitionOffsets } from "./kafka-lag.ts";
import type { TriggerSpec } from "./scaled-object.ts";

/** The source kind each trigger type reads (the poller's runner key starts with it). */
export const SOURCE_KINDS: Record<string, string> = { kafka: "KafkaSource", rocketmq: "RocketMQSource", "redis-streams": "RedisStreamSource" };

export type SourceMetric =
  | { ok: true; metric: KedaMetric; value: number; previous: Record<string, number> }
  | { ok: false; error: string };

const isCount = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v) && v >= 0;

function isPartitions(v: unknown): v is PartitionOffsets[] {
  return Array.isArray(v) && v.every((p) => typeof p === "object" && p !== null && typeof p.partition === "number" && typeof p.committed === "number");
}

/** `previous`: the committed offsets of the last poll, for Kafka's excludePersistentLag. */
export function sourceMetric(trigger: TriggerSpec, status: Record<string, unknown>, previous: Record<string, number> = {}): SourceMetric {
  const { target, activationTarget } = trigger;
  if (trigger.kafka && isPartitions(status.partitions)) {
    const lag = kafkaLag(status.partitions, trigger.kafka, previous);
    return { ok: true, value: lag.totalLag, metric: { value: lag.totalLag, target, active: lag.active }, previous: lag.previous };
  }
  // A total without partitions: KEDA's per-partition caps cannot apply.
  const value = isCount(status.lag) ? status.lag : trigger.type !== "kafka" && isCount(status.backlog) ? status.backlog : null;
  if (value === null) {
    const fields = trigger.type === "kafka" ? "status.partitions or status.lag" : "status.backlog or status.lag";
    return { ok: false, error: `${SOURCE_KINDS[trigger.type]} ${trigger.source} reports no ${fields} yet` };
  }
  return { ok: true, value, metric: { value, target, active: value > activationTarget }, previous: {} };
}
