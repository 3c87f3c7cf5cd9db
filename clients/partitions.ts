/**
 * A broker's partition objects: their stubs, their metrics summed, and the calls between the partitions
 * of a partitioned broker after a growth (dedup and per-key order across the partition count's change).
 */
import type { CloudEvent } from "../shared/cloudevents/event.ts";
import type { BrokerRpc } from "../shared/contracts/broker.ts";
import { partitionObjectName, partitionOf, partitionOfKey } from "../shared/partitions.ts";
import { type PartitionedMetrics, sumMetrics } from "../shared/resources/broker-api.ts";
import type { BrokerConfig } from "../shared/resources/eventing.ts";
import { lookupRoute } from "./routes.ts";
import { type Stub, stub } from "./stubs.ts";

export const partitionStub = (env: Env, namespace: string, name: string, partition: number): Stub<BrokerRpc> =>
  stub(env, "BROKER", partitionObjectName(namespace, name, partition));

/** Every partition object of a broker (a channel has one, partition 0). */
export function partitionStubs(env: Env, namespace: string, name: string, partitions: number): Stub<BrokerRpc>[] {
  return Array.from({ length: partitions }, (_, i) => partitionStub(env, namespace, name, i));
}

/** A broker's metrics summed over its partitions (what autoscaling reads). */
export async function brokerMetrics(env: Env, namespace: string, name: string): Promise<PartitionedMetrics> {
  const partitions = (await lookupRoute(env, namespace, name))?.partitions ?? 1;
  return sumMetrics(await Promise.all(partitionStubs(env, namespace, name, partitions).map((s) => s.metrics())));
}

/**
 * Whether an ordered trigger's delivery for `pkey` must wait: after a growth moved the key here, its
 * earlier owner may still hold queued events of the key, which go first.
 */
export async function queuedAtEarlierOwner(env: Env, config: BrokerConfig, trigger: string, pkey: string): Promise<boolean> {
  const self = config.partition;
  if (!self || pkey === "") return false;
  const now = Date.now();
  const owners = new Set(self.previous.filter((p) => p.until > now).map((p) => partitionOfKey(pkey, p.count)));
  owners.delete(self.index);
  const answers = await Promise.all([...owners].map((owner) => partitionStub(env, config.namespace, config.name, owner).queued(trigger, pkey)));
  return answers.some(Boolean);
}

/**
 * After a broker grew, the events a partition now owns may have been stored, within the dedup window, by
 * their owner under an earlier partition count: the indexes of `events` such an owner holds.
 */
export async function seenByEarlierOwners(env: Env, config: BrokerConfig, events: CloudEvent[]): Promise<Set<number>> {
  const self = config.partition!;
  const now = Date.now();
  const asks = new Map<number, number[]>();
  for (const earlier of self.previous.filter((p) => p.until > now)) {
    events.forEach((e, i) => {
      const owner = partitionOf(e, earlier.count);
      if (owner === self.index) return;
      const list = asks.get(owner);
      if (list) list.push(i);
      else asks.set(owner, [i]);
    });
  }
  const seen = new Set<number>();
  await Promise.all(
    [...asks].map(async ([owner, indexes]) => {
      const keys = indexes.map((i) => ({ source: String(events[i].attributes.source), id: String(events[i].attributes.id) }));
      const answers = await partitionStub(env, config.namespace, config.name, owner).seen(keys);
      for (const [k, held] of answers.entries()) if (held) seen.add(indexes[k]);
    }),
  );
  return seen;
}
