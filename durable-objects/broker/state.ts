/**
 * What the parts of one broker partition share (broker.ts wires them: ingest, dispatch, history): where
 * it runs, its storage, its live feed, and the configuration it was pushed with its triggers compiled.
 */
import type { CloudEvent } from "../../shared/cloudevents/event.ts";
import { type DeliveryPolicy, resolvePolicy } from "../../shared/delivery/policy.ts";
import { type CompiledFilter, compileTriggerFilter } from "../../shared/filters/knative.ts";
import type { CounterName } from "../../shared/resources/broker-api.ts";
import type { Target } from "../../shared/resources/destination.ts";
import type { BrokerConfig, TriggerConfig } from "../../shared/resources/eventing.ts";
import type { BrokerStore } from "./store.ts";
import type { LiveFeed } from "./live-feed.ts";

/** A trigger as the partition runs it: its configuration, compiled once per push. */
export interface Trigger {
  config: TriggerConfig;
  filter: CompiledFilter;
  policy: DeliveryPolicy;
  deadLetter?: Target;
}

export class BrokerState {
  config: BrokerConfig | null = null;
  triggers = new Map<string, Trigger>();

  readonly env: Env;
  readonly ctx: DurableObjectState;
  readonly store: BrokerStore;
  readonly live: LiveFeed;

  constructor(env: Env, ctx: DurableObjectState, store: BrokerStore, live: LiveFeed) {
    this.env = env;
    this.ctx = ctx;
    this.store = store;
    this.live = live;
  }

  /** Take a configuration: compile its triggers. */
  apply(config: BrokerConfig | null): void {
    this.config = config;
    this.triggers = new Map();
    for (const t of config?.triggers ?? []) {
      const compiled = compileTriggerFilter(t.filter);
      // Validated at apply time; a filter that no longer compiles (an upgrade changed a dialect) matches nothing.
      const filter: CompiledFilter = "filter" in compiled ? compiled.filter : () => "fail";
      this.triggers.set(t.name, { config: t, filter, policy: resolvePolicy(t.delivery, config!.delivery), deadLetter: t.deadLetter ?? config!.deadLetter });
    }
  }

  /** The key an ordered trigger keeps an event's order by (events without `partitionkey` share one); null when unordered. */
  keyOf(trigger: string, event: CloudEvent): string | null {
    return this.triggers.get(trigger)?.config.ordered ? String(event.attributes.partitionkey ?? "") : null;
  }

  /** Whether a trigger keeps the order of its partition keys. */
  ordered(trigger: string): boolean {
    return !!this.triggers.get(trigger)?.config.ordered;
  }

  count(trigger: string, name: CounterName, n: number): void {
    this.store.counters.add(trigger, name, n);
  }

  /** `namespace/name`, for log lines. */
  key(): string {
    return `${this.config?.namespace}/${this.config?.name}`;
  }
}
