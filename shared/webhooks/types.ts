/** What the webhook route hands this module and what it gets back (API.md §2). */
import type { CloudEvent } from "../cloudevents/event.ts";
import type { HashAlgorithm } from "../crypto.ts";

export const PROVIDERS = ["github", "gitlab", "stripe", "slack", "standard-webhooks", "shopify", "twilio", "jira", "generic-hmac"] as const;
export type Provider = (typeof PROVIDERS)[number];

export interface GenericHmacSettings {
  /** Request header holding the signature, e.g. `X-Signature`. */
  header: string;
  algorithm: HashAlgorithm;
  encoding: "hex" | "base64";
  /** Text before the encoded signature in the header, e.g. `sha256=`; required when set. */
  prefix?: string;
}

export interface WebhookConfig {
  provider: Provider;
  /** Secret values (already resolved from Worker secrets); several during a rotation, any one verifies. */
  secrets: string[];
  /** Largest allowed |now - signed timestamp| in seconds; 0 turns the check off (replaying captured deliveries). */
  timestampToleranceSeconds: number;
  /** The URL the provider calls, exactly as configured at the provider (Twilio signs it). */
  publicUrl?: string;
  generic?: GenericHmacSettings;
  source: { namespace: string; name: string; kind: "GitHubSource" | "WebhookSource" };
  /** GitHubSource: `spec.ownerAndRepository` (the event source is its github.com URL). */
  ownerAndRepository?: string;
  /** GitHubSource: only these GitHub events (X-GitHub-Event) become events; others are answered and dropped. */
  eventTypes?: string[];
}

export interface WebhookRequest {
  url: string;
  headers: Headers;
  body: Uint8Array;
}

export interface ProviderReply {
  status: number;
  headers?: Record<string, string>;
  body: string;
}

export type WebhookOutcome =
  /** Verified; `event.attributes.id` is a signed delivery id or the body's hash, so the broker deduplicates retries and replays. */
  | { kind: "event"; event: CloudEvent }
  /** A handshake or an event type the source does not want: answer it, store nothing. */
  | ({ kind: "reply" } & ProviderReply)
  | { kind: "rejected"; status: 400 | 401 | 413 | 415; error: string };
