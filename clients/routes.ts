/**
 * The control plane's routing table (shared/contracts/routing.ts), cached per isolate and shared by a
 * location's isolates (route-cache.ts). Unknown brokers, composition addresses and sources are answered
 * from the table, so a request to a random path never reaches (and never creates) a Broker object, and a
 * webhook delivery needs no control-plane call. Misses refresh the table at most once per second per
 * isolate (misses wait for that refresh), so random names cannot hammer the control plane either.
 */
import type { AddressRoute, JobSinkRoute, Route, RoutingTable, WebhookRoute } from "../shared/contracts/routing.ts";
import type { RequestReplyRoute } from "../shared/requestreply/spec.ts";
import { IsolateRoutes } from "./route-cache.ts";

/** This isolate's table, shared with the location's other isolates (route-cache.ts). */
const routes = new IsolateRoutes();

/** The broker's route, or null when the control plane does not know it. */
export function lookupRoute(env: Env, namespace: string, name: string): Promise<Route | null> {
  return routes.lookup(env, (t) => t.brokers[`${namespace}/${name}`]);
}

/** The JobSink's route, or null when the control plane knows no JobSink of that name. */
export function lookupJobSink(env: Env, namespace: string, name: string): Promise<JobSinkRoute | null> {
  return routes.lookup(env, (t) => t.jobSinks[`${namespace}/${name}`]);
}

/** A composition's address route (its address channel named), or null when no such composition exists. */
export function lookupAddress(env: Env, namespace: string, channel: string): Promise<AddressRoute | null> {
  return routes.lookup(env, (t) => t.addresses[`${namespace}/${channel}`]);
}

/** The RequestReply's route, or null when the control plane knows none of that name. */
export function lookupRequestReply(env: Env, namespace: string, name: string): Promise<(RequestReplyRoute & AddressRoute) | null> {
  return routes.lookup(env, (t) => t.requestReplies[`${namespace}/${name}`]);
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
