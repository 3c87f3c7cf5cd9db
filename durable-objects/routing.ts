/**
 * Which brokers exist and how many partitions each has, and which webhook sources exist with what they
 * verify and where they deliver, as the ingress sees it: the control plane's routing table, cached per
 * isolate and shared by a location's isolates (route-cache.ts). Unknown brokers and sources are answered
 * from the table, so a request to a random path never reaches (and never creates) a Broker object, and a
 * webhook delivery needs no control-plane call. Around the table: `ingestInto`, the one way anything stores events in a broker,
 * and the calls between a partitioned broker's partitions (dedup and order after a growth).
 */
import type { CloudEvent } from "../shared/cloudevents/event.ts";
import type { PolicyRule } from "../shared/policy/spec.ts";
import { partitionObjectName, partitionOf, partitionOfKey } from "../shared/partitions.ts";
import { type PartitionedMetrics, sumMetrics } from "../shared/resources/broker-api.ts";
import type { BrokerConfig } from "../shared/resources/eventing.ts";
import { isChannelName, type SinkEntry } from "../shared/resources/sources.ts";
import type { WebhookKind } from "../shared/webhooks/spec.ts";
import type { Broker, IngestResult } from "./broker.ts";
import { IsolateRoutes } from "./route-cache.ts";
import type { Stub } from "./stub.ts";
import { type PolicyRefusal, policyRefusal, type Producer } from "../workers/event-policy.ts";

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

export interface RoutingTable {
  /** By `namespace/name`. */
  brokers: Record<string, Route>;
  /** By `namespace/name`: the GitHubSource when both webhook kinds have the name (WEBHOOK_KINDS_BY_PRECEDENCE). */
  webhooks: Record<string, WebhookRoute>;
}

/** This isolate's table (route-cache.ts). */
const routes = new IsolateRoutes();

/** The broker's route, or null when the control plane does not know it. */
export function lookupRoute(env: Env, namespace: string, name: string): Promise<Route | null> {
  return routes.lookup(env, (t) => t.brokers[`${namespace}/${name}`]);
}

/** The webhook source's route, or null when the control plane knows no webhook source of that name. */
export function lookupWebhook(env: Env, namespace: string, name: string): Promise<WebhookRoute | null> {
  return routes.lookup(env, (t) => t.webhooks[`${namespace}/${name}`]);
}

/** A table fetched no earlier than the next refresh slot (IsolateRoutes.refresh). */
export function refreshRoutes(env: Env): Promise<RoutingTable> {
  return routes.refresh(env);
}

/** Drop this isolate's table (and its location's) after a change made through it, so its own next request sees the change. */
export function forgetRoutes(): Promise<void> {
  return routes.forget();
}

/** An empty batch: stored at once, by nobody (a broker's policies still decide who may send it). */
const NOTHING_STORED: IngestResult = { status: 202, accepted: 0, duplicates: 0 };

/** Where an event is ingested: a broker (partitioned or not) or a source's channel. */
export interface IngestTarget {
  namespace: string;
  name: string;
}

/**
 * Store events in a broker: every event in the partition that owns it, all partitions of the request in
 * parallel. A partition refuses events it does not own (421, a table older than a growth of the broker):
 * those are sent again, once, after a refresh. One result for the whole request: 202 when every
 * partition stored its events, else the first refusal (events other partitions stored are deduplicated
 * when the producer retries).
 */
export async function ingestInto(env: Env, target: IngestTarget, events: CloudEvent[], headers: Record<string, string> = {}, producer?: Producer): Promise<IngestResult | PolicyRefusal> {
  const { namespace, name } = target;
  const bearer = producer && "bearer" in producer ? { bearer: producer.bearer } : undefined;
  // A source's channel is the router's own single-partition broker object, never in the table.
  if (isChannelName(name)) return events.length === 0 ? NOTHING_STORED : partitionStub(env, namespace, name, 0).ingest(events, headers, bearer);
  let route = await lookupRoute(env, namespace, name);
  if (route?.policies && producer) {
    const refused = await policyRefusal(env, target, route.policies, events, producer);
    if (refused) return refused;
  }
  // Applying EventPolicies replace the broker's shared ingress token (the bearer is the sender's JWT then).
  const token = route?.policies ? undefined : bearer;
  let todo = events;
  const done: IngestResult[] = [];
  for (let attempt = 0; todo.length > 0; attempt++) {
    if (!route) return { status: 404, error: `broker ${namespace}/${name} not found` };
    const partitions = route.partitions;
    const groups = new Map<number, CloudEvent[]>();
    for (const e of todo) {
      const p = partitionOf(e, partitions);
      const group = groups.get(p);
      if (group) group.push(e);
      else groups.set(p, [e]);
    }
    const results = await Promise.all([...groups].map(async ([p, group]) => ({ group, r: await partitionStub(env, namespace, name, p).ingest(group, headers, token) })));
    todo = results.flatMap(({ group, r }) => (r.status === 421 ? group : []));
    done.push(...results.map(({ r }) => r).filter((r) => r.status !== 421));
    if (todo.length === 0) break;
    if (attempt === 1) return { status: 503, error: `broker ${namespace}/${name} is changing its partitions; retry`, retryAfterSeconds: 1 };
    route = (await refreshRoutes(env)).brokers[`${namespace}/${name}`] ?? null;
  }
  const refused = done.find((r) => r.status !== 202);
  if (refused) return refused;
  return { status: 202, accepted: sum(done, "accepted"), duplicates: sum(done, "duplicates") };
}

export const partitionStub = (env: Env, namespace: string, name: string, partition: number) => env.BROKER.getByName(partitionObjectName(namespace, name, partition)) as unknown as Stub<Broker>;

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

/** Every partition object of a broker (a channel has one). */
export function partitionStubs(env: Env, namespace: string, name: string, partitions: number): Stub<Broker>[] {
  return Array.from({ length: partitions }, (_, i) => partitionStub(env, namespace, name, i));
}

/** A broker's metrics summed over its partitions (what autoscaling reads). */
export async function brokerMetrics(env: Env, namespace: string, name: string): Promise<PartitionedMetrics> {
  const partitions = (await lookupRoute(env, namespace, name))?.partitions ?? 1;
  return sumMetrics(await Promise.all(partitionStubs(env, namespace, name, partitions).map((stub) => stub.metrics())));
}

function sum(results: IngestResult[], field: "accepted" | "duplicates"): number {
  return results.reduce((n, r) => n + (r.status === 202 ? r[field] : 0), 0);
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
      answers.forEach((held, k) => held && seen.add(indexes[k]));
    }),
  );
  return seen;
}
