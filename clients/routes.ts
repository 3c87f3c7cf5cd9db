/**
 * The control plane's routing table (shared/contracts/routing.ts), cached per isolate. Unknown brokers,
 * composition addresses and sources are answered from the table, so a request to a random path never reaches (and never
 * creates) a Broker object, and a webhook delivery needs no control-plane call. Misses refresh the table
 * at most once per REFRESH_INTERVAL_MS per isolate (misses wait for that refresh), so random names cannot
 * hammer the control plane either.
 */
import type { AddressRoute, JobSinkRoute, Route, RoutingTable, WebhookRoute } from "../shared/contracts/routing.ts";
import type { RequestReplyRoute } from "../shared/requestreply/spec.ts";
import { control } from "./stubs.ts";

/** Least time between two refreshes of one isolate's table. */
export const REFRESH_INTERVAL_MS = 1000;
/** A hit older than this refreshes too, so deletions and growth reach every isolate without a miss. */
const MAX_AGE_MS = 30_000;

let table: RoutingTable | null = null;
let fetchedAt = 0;
let pending: Promise<RoutingTable> | null = null;
/** Bumped by every refresh and by forgetRoutes, so a refresh that a forget overtook changes nothing. */
let generations = 0;

/** The broker's route, or null when the control plane does not know it. */
export function lookupRoute(env: Env, namespace: string, name: string): Promise<Route | null> {
  return lookup(env, (t) => t.brokers[`${namespace}/${name}`]);
}

/** The JobSink's route, or null when the control plane knows no JobSink of that name. */
export function lookupJobSink(env: Env, namespace: string, name: string): Promise<JobSinkRoute | null> {
  return lookup(env, (t) => t.jobSinks[`${namespace}/${name}`]);
}

/** A composition's address route (its address channel named), or null when no such composition exists. */
export function lookupAddress(env: Env, namespace: string, channel: string): Promise<AddressRoute | null> {
  return lookup(env, (t) => t.addresses[`${namespace}/${channel}`]);
}

/** The RequestReply's route, or null when the control plane knows none of that name. */
export function lookupRequestReply(env: Env, namespace: string, name: string): Promise<(RequestReplyRoute & AddressRoute) | null> {
  return lookup(env, (t) => t.requestReplies[`${namespace}/${name}`]);
}

/** The webhook source's route, or null when the control plane knows no webhook source of that name. */
export function lookupWebhook(env: Env, namespace: string, name: string): Promise<WebhookRoute | null> {
  return lookup(env, (t) => t.webhooks[`${namespace}/${name}`]);
}

async function lookup<T>(env: Env, pick: (t: RoutingTable) => T | undefined): Promise<T | null> {
  const hit = table && pick(table);
  if (hit && Date.now() - fetchedAt < MAX_AGE_MS) return hit;
  return pick(await refreshRoutes(env)) ?? null;
}

/**
 * A table fetched no earlier than the next refresh slot: concurrent callers share one fetch, and a
 * fetch starts at most once per REFRESH_INTERVAL_MS.
 */
export function refreshRoutes(env: Env): Promise<RoutingTable> {
  if (pending) return pending;
  const generation = ++generations;
  pending = (async () => {
    const wait = fetchedAt + REFRESH_INTERVAL_MS - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    try {
      const fresh = await control(env).routes();
      if (generation === generations) table = fresh;
      return fresh;
    } finally {
      if (generation === generations) {
        fetchedAt = Date.now();
        pending = null;
      }
    }
  })();
  return pending;
}

/** Drop this isolate's table after a change made through it, so its own next request sees the change. */
export function forgetRoutes(): void {
  table = null;
  fetchedAt = 0;
  pending = null;
  generations++;
}
