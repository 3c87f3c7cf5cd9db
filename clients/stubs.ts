/**
 * The one way to reach a Durable Object: a stub typed by the object's contract (shared/contracts/), never
 * by its class, so a caller depends on what an object answers and not on how it is built. The generated
 * stub types turn results that hold `unknown` (manifests, events) into `never`; the cast below is the only
 * one between a binding and its contract.
 */
import type { BrokerRpc } from "../shared/contracts/broker.ts";
import type { ControlPlaneRpc } from "../shared/contracts/control-plane.ts";
import type { AutoscalerRpc, SourcePollerRpc } from "../shared/contracts/runner.ts";
import type { DispatcherRpc, EventDisplayRpc, FlowLimiterRpc } from "../shared/contracts/sending.ts";
import type { ReplyWaiterRpc } from "../shared/contracts/request-reply.ts";

/** Each Durable Object binding (wrangler.toml) and the contract its objects implement. */
export interface Contracts {
  CONTROL: ControlPlaneRpc;
  BROKER: BrokerRpc;
  DISPATCHER: DispatcherRpc;
  DISPLAY: EventDisplayRpc;
  POLLER: SourcePollerRpc;
  AUTOSCALER: AutoscalerRpc;
  LIMITER: FlowLimiterRpc;
  REPLIES: ReplyWaiterRpc;
}

/** A contract as called over RPC: every call answers a promise. */
export type Stub<T> = { [K in keyof T]: T[K] extends (...args: infer A) => infer R ? (...args: A) => Promise<Awaited<R>> : never };

/** The object of `binding` named `name`. */
export function stub<B extends keyof Contracts>(env: Env, binding: B, name: string): Stub<Contracts[B]> {
  return (env[binding] as DurableObjectNamespace).getByName(name) as unknown as Stub<Contracts[B]>;
}

/** The router's one control plane. */
export const control = (env: Env): Stub<ControlPlaneRpc> => stub(env, "CONTROL", "control");
/** One of a RequestReply's waiter objects (the replica a correlation value names). */
export const replyWaiter = (env: Env, namespace: string, name: string, replica: number): Stub<ReplyWaiterRpc> =>
  stub(env, "REPLIES", `${namespace}/${name}#${replica}`);
