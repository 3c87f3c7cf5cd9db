/**
 * A RequestReply's waiter objects (durable-objects/reply-waiter.ts), named `{ns}/{name}#{replica}`: where a
 * request to its address waits for the reply that a broker partition hands over.
 */
import type { HandOff } from "../requestreply/rendezvous.ts";

export interface ReplyWaiterRpc {
  /** The reply to `id` as structured JSON, null at the deadline, or "full" when too many requests wait. */
  wait(id: string, expiresAt: number): Promise<string | null | "full">;
  /** The request gave up (its event was refused). */
  cancel(id: string): void;
  /** A verified reply for `id`, whose request ends at `expiresAt`. */
  deliver(id: string, expiresAt: number, reply: string): HandOff;
}
