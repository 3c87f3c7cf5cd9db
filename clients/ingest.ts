/**
 * `ingestInto`: the one way anything stores events in a broker (ingress, webhooks, sources, broker
 * targets, replies to another partition). It groups the events by partition (shared/partitions.ts) and
 * calls each partition's object. The EventPolicies of a broker or a composition's address are decided by
 * the caller's Admission before any broker object is touched.
 */
import type { CloudEvent } from "../shared/cloudevents/event.ts";
import type { Admission, IngestResult, IngestTarget, PolicyRefusal } from "../shared/contracts/ingest.ts";
import { partitionOf } from "../shared/partitions.ts";
import { compositionOfChannel } from "../shared/resources/composition-address.ts";
import { isChannelName } from "../shared/resources/sources.ts";
import { countRefusal } from "./ingress-refusals.ts";
import { partitionStub } from "./partitions.ts";
import { lookupAddress, lookupRoute, refreshRoutes } from "./routes.ts";

/** An empty batch: stored at once, by nobody (a broker's policies still decide who may send it). */
const NOTHING_STORED: IngestResult = { status: 202, accepted: 0, duplicates: 0 };

/**
 * Store events in a broker: every event in the partition that owns it, all partitions of the request in
 * parallel. A partition refuses events it does not own (421, a table older than a growth of the broker):
 * those are sent again, once, after a refresh. One result for the whole request: 202 when every
 * partition stored its events, else the first refusal (events other partitions stored are deduplicated
 * when the producer retries). `admission` is given for producers from outside the router (ingress,
 * webhooks, sources); the router's own hops (broker targets, replies) pass none.
 */
export async function ingestInto(
  env: Env,
  target: IngestTarget,
  events: CloudEvent[],
  headers: Record<string, string> = {},
  admission?: Admission,
): Promise<IngestResult | PolicyRefusal> {
  const { namespace, name } = target;
  const producer = admission?.producer;
  // A channel is the router's own single-partition broker object. A composition's address channel takes
  // the policies that apply to the composition from the table (a producer's events only); others are inner.
  if (isChannelName(name)) {
    const address = admission ? compositionOfChannel(name) : undefined;
    const policies = address ? (await lookupAddress(env, namespace, name))?.policies : undefined;
    if (policies && address) {
      const at = { kind: address.kind, namespace, name: address.name };
      const refused = await admission!.decide(at, policies, events);
      if (refused) return countRefusal(at, refused);
    }
    return events.length === 0 ? NOTHING_STORED : partitionStub(env, namespace, name, 0).ingest(events, headers, policies ? undefined : producer);
  }
  let route = await lookupRoute(env, namespace, name);
  if (route?.policies && admission) {
    const broker = { kind: "Broker" as const, ...target };
    const refused = await admission.decide(broker, route.policies, events);
    if (refused) return countRefusal(broker, refused);
  }
  // Applying EventPolicies replace the broker's shared ingress token (the bearer is the sender's JWT then).
  const token = route?.policies ? undefined : producer;
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
    const results = await Promise.all(
      [...groups].map(async ([p, group]) => ({ group, r: await partitionStub(env, namespace, name, p).ingest(group, headers, token) })),
    );
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

function sum(results: IngestResult[], field: "accepted" | "duplicates"): number {
  return results.reduce((n, r) => n + (r.status === 202 ? r[field] : 0), 0);
}
