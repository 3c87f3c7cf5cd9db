/**
 * Partitioned brokers (API.md §5): which partition of a broker owns an event, and the object that holds
 * each partition. Pure, so the ingress, the broker objects and the tests agree on every byte.
 *
 * The owner is a jump consistent hash (Lamping and Veach, 2014) of a 64-bit FNV-1a hash of the event's
 * `partitionkey`, or of its (source, id) when it has none. Jump hashing keeps a key where it was when N
 * grows unless it must move to a new partition: going from N to M > N moves only (M - N) / M of the keys,
 * all of them to the new partitions.
 */
import type { CloudEvent } from "./cloudevents/event.ts";

export const MAX_PARTITIONS = 256;
export const PARTITIONS_ANNOTATION = "edge-eventing.dev/partitions";

/** What an event is partitioned by: its `partitionkey`, else its (source, id). */
export function partitionInput(event: CloudEvent): string {
  const key = event.attributes.partitionkey;
  return key === undefined ? JSON.stringify([String(event.attributes.source), String(event.attributes.id)]) : `key:${String(key)}`;
}

/** The partition (0 .. partitions - 1) that owns the event. */
export function partitionOf(event: CloudEvent, partitions: number): number {
  return partitions <= 1 ? 0 : jumpHash(fnv1a64(partitionInput(event)), partitions);
}

/** The partition that owns every event with this `partitionkey`. */
export function partitionOfKey(key: string, partitions: number): number {
  return partitions <= 1 ? 0 : jumpHash(fnv1a64(`key:${key}`), partitions);
}

/** Partition 0 keeps the broker's original object name, so a broker that grows keeps its data. */
export function partitionObjectName(namespace: string, broker: string, partition: number): string {
  return partition === 0 ? `${namespace}/${broker}` : `${namespace}/${broker}#${partition}`;
}

const MASK64 = (1n << 64n) - 1n;

/** FNV-1a, 64 bits, over the UTF-8 bytes of `text`. */
export function fnv1a64(text: string): bigint {
  let h = 0xcbf29ce484222325n;
  for (const byte of new TextEncoder().encode(text)) h = ((h ^ BigInt(byte)) * 0x100000001b3n) & MASK64;
  return h;
}

/** Jump consistent hash: a bucket in [0, buckets) for a 64-bit key. */
export function jumpHash(key: bigint, buckets: number): number {
  let b = -1;
  let j = 0;
  while (j < buckets) {
    b = j;
    key = (key * 2862933555777941757n + 1n) & MASK64;
    j = Math.floor((b + 1) * (2 ** 31 / (Number(key >> 33n) + 1)));
  }
  return b;
}
