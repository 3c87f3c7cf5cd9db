/** KEDA's Kafka scaler lag (`pkg/scalers/kafka_scaler.go`, `getTotalLag`), over offsets the caller fetched. */

export interface PartitionOffsets {
  topic: string;
  partition: number;
  /** The consumer group's committed offset; -1 when none was committed. */
  committed: number;
  /** The partition's newest offset; undefined when the broker did not return it. */
  latest?: number;
}

export interface KafkaLagOptions {
  lagThreshold: number;
  activationLagThreshold: number;
  offsetResetPolicy: "latest" | "earliest";
  allowIdleConsumers: boolean;
  excludePersistentLag: boolean;
  scaleToZeroOnInvalidOffset: boolean;
  limitToPartitionsWithLag: boolean;
  ensureEvenDistributionOfPartitions: boolean;
}

export const KAFKA_DEFAULTS: KafkaLagOptions = {
  lagThreshold: 10,
  activationLagThreshold: 0,
  offsetResetPolicy: "latest",
  allowIdleConsumers: false,
  excludePersistentLag: false,
  scaleToZeroOnInvalidOffset: false,
  limitToPartitionsWithLag: false,
  ensureEvenDistributionOfPartitions: false,
};

export interface KafkaLag {
  /** The metric: lag used for scaling, after caps. */
  totalLag: number;
  /** Lag including partitions stuck on one offset; decides activity. */
  totalLagWithPersistent: number;
  active: boolean;
  /** Committed offsets seen at this poll, keyed "topic/partition" (for excludePersistentLag). */
  previous: Record<string, number>;
}

function partitionLag(p: PartitionOffsets, o: KafkaLagOptions, previous: Record<string, number>, next: Record<string, number>): [number, number] {
  if (p.committed === -1) {
    if (o.scaleToZeroOnInvalidOffset) return [0, 0];
    if (o.offsetResetPolicy === "latest") return [1, 1];
  }
  if (p.latest === undefined) return [0, 0];
  if (p.committed === -1) return [p.latest, p.latest];
  const lag = p.latest - p.committed;
  if (o.excludePersistentLag) {
    const key = `${p.topic}/${p.partition}`;
    const before = previous[key];
    if (before === p.committed) {
      next[key] = before;
      return [0, lag];
    }
    next[key] = p.committed;
  }
  return [lag, lag];
}

/** The smallest factor f of `partitions` with f × threshold >= lag (KEDA's even distribution). */
export function nextEvenFactor(totalLag: number, partitions: number, lagThreshold: number): number {
  for (let f = 1; f <= partitions; f++) if (partitions % f === 0 && f * lagThreshold >= totalLag) return f;
  return partitions;
}

/**
 * `buffered`: records the consumer took that the workload has not received yet (the router's channel);
 * they add to the total before the caps, and count as one more partition with lag.
 */
export function kafkaLag(partitions: PartitionOffsets[], o: KafkaLagOptions, previous: Record<string, number> = {}, buffered = 0): KafkaLag {
  const next: Record<string, number> = {};
  let totalLag = buffered;
  let totalLagWithPersistent = buffered;
  let withLag = buffered > 0 ? 1 : 0;
  for (const p of partitions) {
    const [lag, persistent] = partitionLag(p, o, previous, next);
    totalLag += lag;
    totalLagWithPersistent += persistent;
    if (lag > 0) withLag++;
  }
  if (!o.allowIdleConsumers || o.limitToPartitionsWithLag || o.ensureEvenDistributionOfPartitions) {
    // Never ask for more consumers than partitions (or partitions with lag).
    const upperBound = o.limitToPartitionsWithLag ? withLag : partitions.length;
    if (o.ensureEvenDistributionOfPartitions) totalLag = nextEvenFactor(totalLag, partitions.length, o.lagThreshold) * o.lagThreshold;
    if (Math.trunc(totalLag / o.lagThreshold) > upperBound) totalLag = upperBound * o.lagThreshold;
  }
  return { totalLag, totalLagWithPersistent, active: totalLagWithPersistent > o.activationLagThreshold, previous: next };
}
