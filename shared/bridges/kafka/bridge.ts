/**
 * What the poller needs from a bridge: one consumer instance's lifecycle. Each bridge client
 * (REST proxy dialects, Upstash) hides its paths, bodies and commit arithmetic behind this.
 */
import type { TopicPartition } from "./config.ts";
import type { KafkaRecord } from "./record.ts";

/** A live consumer instance. `baseUri` is where every later call must go (instance affinity). */
export interface ConsumerInstance {
  name: string;
  baseUri: string;
}

export interface BridgeClient {
  /** Create (or replace a leftover of the same name) and subscribe/assign. */
  create(name: string): Promise<ConsumerInstance>;
  fetch(instance: ConsumerInstance, maxBytes: number, signal?: AbortSignal): Promise<FetchedRecord[]>;
  /** Commit so that each partition resumes right after `lastOffset` (the last handed-off record). */
  commit(instance: ConsumerInstance, offsets: Array<TopicPartition & { lastOffset: number }>): Promise<void>;
  /**
   * Make the next fetch start at `offset` (first record not committed) for each partition.
   * Returns false when the bridge cannot seek: the caller recreates the instance instead.
   */
  seek(instance: ConsumerInstance, positions: Array<TopicPartition & { offset: number }>): Promise<boolean>;
  /**
   * A request that touches the instance and changes nothing, pushing its idle expiry forward.
   * False when this bridge has no such request to make (nothing was sent).
   */
  touch(instance: ConsumerInstance, committed: Array<TopicPartition & { lastOffset: number }>): Promise<boolean>;
  remove(instance: ConsumerInstance): Promise<void>;
  /** Log end offsets (next offset to be written), where the bridge exposes them. */
  endOffsets?(partitions: TopicPartition[]): Promise<Map<string, number>>;
  /** Consumer instance idle expiry of this server by default (undefined: never expires). */
  readonly defaultIdleExpiryMs?: number;
}

/** A record whose position is known but whose bytes the bridge sent malformed: it becomes poison. */
export interface UndecodableRecord {
  topic: string;
  partition: number;
  offset: number;
  undecodable: string;
}

export type FetchedRecord = KafkaRecord | UndecodableRecord;

/** The bridge answered with an error. `errorCode` is the body's `error_code` when present. */
export class KafkaBridgeError extends Error {
  readonly status: number;
  readonly errorCode?: number;
  constructor(message: string, status: number, errorCode?: number) {
    super(message);
    this.name = "KafkaBridgeError";
    this.status = status;
    this.errorCode = errorCode;
  }
}

/** The consumer instance no longer exists on its node (expired, node restarted, wrong node): recreate. */
export class InstanceGoneError extends KafkaBridgeError {
  constructor(message: string, status: number, errorCode?: number) {
    super(message, status, errorCode);
    this.name = "InstanceGoneError";
  }
}

/** Strimzi's 422: the polled records did not fit `max_bytes` and were dropped, the position moved past them. */
export class ResponseTooLargeError extends KafkaBridgeError {
  constructor(message: string) {
    super(message, 422, 422);
    this.name = "ResponseTooLargeError";
  }
}

export function partitionId(tp: TopicPartition): string {
  return `${tp.topic}/${tp.partition}`;
}
