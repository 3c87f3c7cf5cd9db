/**
 * The contract between a source poller Durable Object and a bridge client (Kafka REST, RocketMQ,
 * MNS, Redis Streams). The object loops: poll, hand every event to the sink, then commit what the
 * sink accepted. Clients never commit on their own, so delivery is at-least-once.
 */
import type { CloudEvent } from "../cloudevents/event.ts";

export interface PolledMessage {
  /** Stable id of the record in its system, e.g. `topic/partition/offset`: dedup and logging key. */
  key: string;
  /** The CloudEvent to hand off; absent when the record is poison. */
  event?: CloudEvent;
  /** Why the record cannot become a CloudEvent: it goes to the dead-letter sink, then is committed. */
  poison?: string;
}

export interface PollBatch {
  messages: PolledMessage[];
  /** Records behind the committed position, where the bridge exposes it. */
  lag?: number;
}

export interface SourcePoller {
  /** Long-poll once; may return an empty batch. */
  poll(signal?: AbortSignal): Promise<PollBatch>;
  /** Called only after hand-off (or dead-lettering) succeeded, with messages in poll order. */
  commit(messages: PolledMessage[]): Promise<void>;
  close(): Promise<void>;
}

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;
