/**
 * The control plane's routing table, as every isolate caches it (clients/routes.ts): which brokers exist
 * and over how many partitions, which EventTransforms, Sequences and Parallels take events at an address,
 * which webhook sources exist with what they verify and where they deliver, which JobSinks exist with
 * the Job they make and the cluster they make it in, and which RequestReplies exist; with the EventPolicies
 * that apply to each addressable.
 */
import type { PolicyRule } from "../policy/spec.ts";
import type { JobSinkRun } from "../resources/job-sink.ts";
import type { SinkEntry } from "../resources/sources.ts";
import type { WebhookKind } from "../webhooks/spec.ts";
import type { RequestReplyRoute } from "../requestreply/spec.ts";

/** A broker's entry in the routing table. */
export interface Route {
  partitions: number;
  /** The EventPolicies that apply to the broker, when any do (API.md §8): its ingress checks them. */
  policies?: PolicyRule[];
}

/** A webhook source's entry: what its receiver needs to verify a delivery and store its event. */
export interface WebhookRoute {
  kind: WebhookKind;
  spec: Record<string, unknown>;
  sink: SinkEntry;
}

/** A JobSink's entry: what its address needs to make a Job of an event, and the token it asks for when it asks for one. */
export interface JobSinkRoute {
  run: JobSinkRun;
  /** The Worker secret a producer presents as bearer token (annotation edge-eventing.dev/ingress-token-secret). */
  tokenSecret?: string;
  /** The EventPolicies that apply to the JobSink, when any do: they replace the token (workers/job-sinks.ts). */
  policies?: PolicyRule[];
}

/** An EventTransform's, Sequence's, Parallel's or RequestReply's address: the policies that apply to it, when any do. */
export interface AddressRoute {
  policies?: PolicyRule[];
}

export interface RoutingTable {
  /** By `namespace/name`. */
  brokers: Record<string, Route>;
  /** By `namespace/channel`: the address channel (`sequence:{name}`...) of every composition that exists. */
  addresses: Record<string, AddressRoute>;
  /** By `namespace/name`: the GitHubSource when both webhook kinds have the name (WEBHOOK_KINDS_BY_PRECEDENCE). */
  webhooks: Record<string, WebhookRoute>;
  /** By `namespace/name`. */
  jobSinks: Record<string, JobSinkRoute>;
  /** By `namespace/name`: each RequestReply's broker, attributes, timeout and keys' secrets, and the policies that apply to it. */
  requestReplies: Record<string, RequestReplyRoute & AddressRoute>;
}
