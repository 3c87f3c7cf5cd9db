/**
 * An overflow slot of a trigger's outbound delivery. A broker object sends up to 6 deliveries itself;
 * beyond that it spreads a trigger's deliveries over ceil(parallelism / 6) of these objects, each with its
 * own connection budget: parallelism is a setting, not an accident of the runtime.
 */
import { DurableObject } from "cloudflare:workers";
import type { DispatcherRpc, OutboundRequest, OutboundResult } from "../shared/contracts/sending.ts";
import { Connections } from "./broker/outbound.ts";

export class Dispatcher extends DurableObject<Env> implements DispatcherRpc {
  private readonly connections = new Connections();

  /** All at once (the broker never hands a slot more than its connection budget); results in request order. */
  sendAll(reqs: OutboundRequest[]): Promise<OutboundResult[]> {
    return Promise.all(reqs.map((req) => this.connections.send(req)));
  }

  /** Concurrency seen by this slot, so tests can check the connection budget by design. */
  stats(): { open: number; peak: number } {
    return this.connections.stats();
  }
}
