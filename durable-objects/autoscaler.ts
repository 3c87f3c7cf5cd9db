/**
 * Scales one ScaledObject's target (issue 6). Its alarm ticks every min(pollingInterval, 2 s) with a
 * concurrency/rps trigger (Knative's KPA tick), else every pollingInterval (KEDA): read the metrics
 * (a Trigger's broker, or a source poller's status), feed the windows, decide, bound, and call the
 * Kubernetes API only to re-read the target (once per pollingInterval) or to change its replicas,
 * within the limits of shared/kubernetes/rate-limit.ts; under the dry-run annotation it never writes.
 * Plan, decider state and status live in SQLite, so an eviction resets nothing.
 */
import { DurableObject } from "cloudflare:workers";
import { KeyValueTable } from "./storage/key-value.ts";
import { brokerMetrics, partitionStub } from "../clients/partitions.ts";
import { lookupRoute } from "../clients/routes.ts";
import type { AutoscalerRpc, RunnerInput } from "../shared/contracts/runner.ts";
import {
  activatorStatus,
  capacityOf,
  CapacityLeases,
  concurrencyWithHeld,
  effectiveConcurrency,
  type Gate,
  type GateStats,
  keepAwake,
  type Lease,
  sumGateStats,
  watchesReadiness,
  WATCH_MS,
} from "../shared/autoscaling/activator.ts";
import { sinkChannelName } from "../shared/resources/sources.ts";
import { sourceBacklog } from "../clients/runner.ts";
import { TICK_SEC } from "../shared/autoscaling/decider.ts";
import type { KedaMetric } from "../shared/autoscaling/keda.ts";
import { backlogOf, rateBetween, sampleTrigger, type BrokerCounters, type TriggerSample } from "../shared/autoscaling/router-metrics.ts";
import { deciderSpecFrom, type AutoscalerPlan, type TriggerSpec } from "../shared/autoscaling/scaled-object.ts";
import type { DecisionInputs, DecisionReason } from "../shared/autoscaling/explain.ts";
import { kedaTriggers, newScalerState, observeSecond, scaleStep, type ScalerState } from "../shared/autoscaling/scaler.ts";
import { SOURCE_KINDS, sourceMetric } from "../shared/autoscaling/source-metrics.ts";
import { KubernetesClient, type FetchLike } from "../shared/kubernetes/client.ts";
import { connectCluster } from "../shared/kubernetes/cluster.ts";
import { KubernetesApiError } from "../shared/kubernetes/errors.ts";
import { applyScale, withCallBudget, type Actuation, type Applied } from "../shared/kubernetes/rate-limit.ts";
import { condition } from "../shared/resources/manifest.ts";

/** Limit: one Kubernetes API call may take this long before the tick gives up on it. */
const K8S_TIMEOUT_MS = 10_000;
/** Alarms fire a little early or late: a KEDA poll due within this much counts as due. */
const ALARM_SLACK_SEC = 0.25;

interface Configured {
  namespace: string;
  plan: AutoscalerPlan;
}

/** Everything a tick carries to the next one (JSON in SQLite). */
interface Runtime {
  scaler: ScalerState | null;
  /** The KPA trigger's previous broker sample, for rps. */
  sample: TriggerSample | null;
  /** The last whole second fed into the windows (one value per second, as Knative scrapes), and its value. */
  lastSecond: number | null;
  lastValue: number | null;
  lastKedaSec: number | null;
  /** Kafka committed offsets of the last poll, per trigger index (excludePersistentLag). */
  kafkaPrevious: Record<number, Record<string, number>>;
  /** The target as last read or written: replicas asked for, pods it reports, pods ready, its containerConcurrency. */
  target: { replicas: number; currentReplicas: number; ready: number; containerConcurrency?: number; readAtSec: number } | null;
  /** The gate last pushed to the gated brokers, and when. */
  gate: Gate | null;
  gatePushedSec: number | null;
  /** When the last scale write was sent (the write limit counts from it). */
  lastWriteSec: number | null;
  lastActiveTime: string | null;
  lastDecision: Decision | null;
  lastError: { time: string; message: string } | null;
}

interface Decision {
  time: string;
  /** After bounds: what the target is asked for. */
  desiredReplicas: number;
  /** Before bounds: the larger of the KPA and KEDA answers. */
  unbounded: number;
  /** The metric values this decision saw, keyed `<trigger or source>.<metric>`. */
  observed: Record<string, number>;
  /** What the deciders saw (window averages, targets, ready pods), which one won and why. */
  inputs: DecisionInputs;
  reason: DecisionReason;
  message: string;
  /** Failed: the write's error is the status's lastError. */
  actuation: Actuation | "Failed";
}

const freshRuntime = (): Runtime => ({
  scaler: null,
  sample: null,
  lastSecond: null,
  lastValue: null,
  lastKedaSec: null,
  kafkaPrevious: {},
  target: null,
  gate: null,
  gatePushedSec: null,
  lastWriteSec: null,
  lastActiveTime: null,
  lastDecision: null,
  lastError: null,
});

export class Autoscaler extends DurableObject<Env> implements AutoscalerRpc {
  private readonly kv = new KeyValueTable(this.ctx.storage.sql, "kv");
  /** The tick in progress: alarms arriving meanwhile wait for it instead of interleaving with it. */
  private running: Promise<void> | null = null;
  /** The next tick reads KEDA's metrics whatever its polling interval: a delivery found the target at zero. */
  private activating = false;
  private tickStartedAt = 0;
  /** The target's capacity shared between the broker partitions that deliver to it (memory only). */
  private readonly leases = new CapacityLeases();

  async configure(input: RunnerInput | null): Promise<void> {
    if (!input) {
      await this.ctx.storage.deleteAlarm();
      this.kv.delete();
      return;
    }
    let configured: Configured;
    try {
      configured = { namespace: input.manifest.metadata.namespace ?? "default", plan: deciderSpecFrom(input.manifest, input.cluster) };
    } catch (e) {
      // The control plane validates first; this only guards against a manifest stored by an older version.
      await this.ctx.storage.deleteAlarm();
      this.kv.delete("plan", "runtime");
      this.kv.putJson("status", { conditions: [condition("Ready", "False", "InvalidSpec", (e as Error).message)] });
      return;
    }
    const text = JSON.stringify(configured);
    if (this.kv.get("plan") !== text) {
      // A new plan starts new windows: their sizes and targets may have changed.
      this.kv.put("plan", text);
      this.kv.delete("runtime");
      this.kv.putJson("status", { conditions: [condition("Ready", "Unknown", "Pending", "waiting for the first tick")] });
      await this.ctx.storage.setAlarm(Date.now());
    } else if ((await this.ctx.storage.getAlarm()) === null) {
      await this.ctx.storage.setAlarm(Date.now());
    }
  }

  async status(): Promise<Record<string, unknown>> {
    return this.kv.getJson<Record<string, unknown>>("status") ?? {};
  }

  override async alarm(): Promise<void> {
    this.running ??= this.tick().finally(() => (this.running = null));
    await this.running;
  }

  /**
   * Activation (Knative's activator poking the autoscaler): a gated broker partition has deliveries that
   * found no ready replica. A decision is taken now, not at the next polling interval; the answer is the
   * gate after it.
   */
  async activate(): Promise<Gate | null> {
    // One tick that started after the call answers every partition that asked meanwhile: a burst of
    // activations from many partitions costs one or two ticks, not one each.
    const asked = Date.now();
    while (this.tickStartedAt < asked) {
      if (this.running) {
        await this.running;
        continue;
      }
      this.activating = true;
      await this.alarm();
    }
    return this.kv.getJson<Runtime>("runtime")?.gate ?? null;
  }

  /** A broker partition's lease of the target's capacity (durable-objects/broker/activator-gates.ts): its allowance for `demand`. */
  lease(partition: string, demand: number, inFlight: number): Lease {
    const gate = this.kv.getJson<Runtime>("runtime")?.gate;
    return this.leases.request(partition, demand, inFlight, !gate || gate.ready === 0 ? 0 : gate.capacity, Date.now());
  }

  private async tick(): Promise<void> {
    this.tickStartedAt = Date.now();
    const planText = this.kv.get("plan");
    if (planText === null) return;
    const { namespace, plan } = JSON.parse(planText) as Configured;
    const kpaTrigger = plan.triggers.find((t) => t.metric === "concurrency" || t.metric === "rps");
    const intervalSec = kpaTrigger ? Math.min(plan.pollingIntervalSec, TICK_SEC) : plan.pollingIntervalSec;
    const nowMs = Date.now();
    const tSec = nowMs / 1000;
    const rt = this.kv.getJson<Runtime>("runtime") ?? freshRuntime();
    const time = new Date(nowMs).toISOString();
    const problems: { reason: string; message: string }[] = [];
    const brokers = new Map<string, Promise<BrokerCounters>>();
    const brokerCounters = (name: string) => {
      if (!brokers.has(name)) brokers.set(name, brokerMetrics(this.env, namespace, name));
      return brokers.get(name)!;
    };
    const observedValues: Record<string, number> = {};
    let nextTickMs = nowMs + intervalSec * 1000;
    const forceKeda = this.activating;
    this.activating = false;
    // What waits for the target and what is in flight to it, in the brokers it scales from (the activator).
    const gated = await gatedObjects(this.env, namespace, plan);
    const gateStats = await this.gateStats(gated, brokerCounters);
    const stats = sumGateStats([...gateStats.values()]);

    try {
      const { fetch: k8sFetch, credentials } = connectCluster(plan.cluster, this.env as unknown as Record<string, unknown>, timedFetch);
      const client = new KubernetesClient(withCallBudget(k8sFetch), credentials);
      // While deliveries wait for readiness, readiness is watched closely: they start within a watch of it.
      const watching = rt.target !== null && watchesReadiness(rt.target, stats);
      if (!rt.target || forceKeda || tSec - rt.target.readAtSec >= (watching ? WATCH_MS / 1000 : plan.pollingIntervalSec) - ALARM_SLACK_SEC) {
        const scale = await client.getScale(plan.target);
        rt.target = {
          replicas: scale.replicas,
          currentReplicas: scale.currentReplicas,
          ready: scale.readyReplicas,
          containerConcurrency: scale.containerConcurrency,
          readAtSec: tSec,
        };
      }
      await this.pushGate(rt, plan, gated, tSec);
      rt.scaler ??= newScalerState(plan, rt.target.currentReplicas, tSec);

      // The decider runs only on ticks that read its metric: a gap would read as idle and scale down.
      let kpaRead = false;
      if (kpaTrigger) {
        try {
          const value = this.observeKpa(
            rt,
            kpaTrigger,
            await brokerCounters(kpaTrigger.broker!),
            plan,
            nowMs,
            gateStats.get(gateKey(kpaTrigger.broker!, kpaTrigger.source))?.held ?? 0,
          );
          if (value !== null) observedValues[`${kpaTrigger.source}.${kpaTrigger.metric}`] = value;
          kpaRead = true;
        } catch (e) {
          problems.push({ reason: "MetricUnavailable", message: `Broker ${namespace}/${kpaTrigger.broker}: ${(e as Error).message}` });
        }
      }

      let keda: KedaMetric[] | undefined;
      const polled = kedaTriggers(plan);
      // Scale from the queue: while deliveries are held KEDA's metrics (which count them) are read every KPA
      // tick, as Knative's activator reports what it buffers, so a surge scales out without waiting a poll.
      const pollSec = stats.held > 0 ? Math.min(plan.pollingIntervalSec, TICK_SEC) : plan.pollingIntervalSec;
      if (polled.length > 0 && (forceKeda || rt.lastKedaSec === null || tSec - rt.lastKedaSec >= pollSec - ALARM_SLACK_SEC)) {
        const read = await Promise.all(polled.map((t) => this.kedaMetric(t, plan.triggers.indexOf(t), namespace, rt, brokerCounters)));
        const missing = read.filter((r) => typeof r === "string");
        for (const message of missing) problems.push({ reason: "MetricUnavailable", message });
        // Never decide on part of the metrics: a missing one could read as idle and scale to zero.
        if (missing.length === 0) {
          const metrics = read as KedaMetric[];
          for (const [i, t] of polled.entries()) observedValues[`${t.source}.${t.metric}`] = metrics[i].value;
          keda = metrics;
          rt.lastKedaSec = tSec;
        }
      }

      const step = scaleStep(plan, rt.scaler, { tSec, readyPods: rt.target.currentReplicas, current: rt.target.replicas, kpa: kpaRead, keda });
      rt.scaler = step.state;
      if (isActive(step.state)) rt.lastActiveTime = time;
      // A tick on which no decider ran (an extra alarm, a held-back write's retry) keeps the decision it
      // applied on record, with what became of it, unless the bounds moved the replicas.
      const decided = step.inputs.kpa !== undefined || step.inputs.keda !== undefined;
      const record = (actuation: Decision["actuation"]) => {
        if (step.desired !== null && (decided || rt.lastDecision?.desiredReplicas !== step.replicas)) {
          rt.lastDecision = {
            time,
            desiredReplicas: step.replicas,
            unbounded: step.desired,
            observed: observedValues,
            inputs: step.inputs,
            reason: step.reason,
            message: step.message,
            actuation,
          };
        } else if (rt.lastDecision && actuation !== "Unchanged") {
          rt.lastDecision.actuation = actuation;
        }
      };
      // Never zero while deliveries wait for the target or are in flight to it.
      const replicas = keepAwake(step.replicas, stats, plan.keda.maxReplicaCount);
      if (replicas !== step.replicas) {
        step.replicas = replicas;
        step.reason = "ActivatorHolding";
        step.message = `${stats.held} deliveries wait for the target and ${stats.inFlight} are in flight to it: ${replicas} replica kept (${step.message})`;
      }
      let applied: Applied;
      try {
        applied = await applyScale(client, plan.target, step.replicas, {
          tSec,
          current: rt.target.replicas,
          lastWriteSec: rt.lastWriteSec ?? null,
          dryRun: plan.dryRun,
        });
      } catch (e) {
        record("Failed");
        throw e;
      }
      record(applied.actuation);
      if (applied.scale)
        rt.target = {
          replicas: applied.scale.replicas,
          currentReplicas: applied.scale.currentReplicas,
          ready: applied.scale.readyReplicas,
          containerConcurrency: applied.scale.containerConcurrency,
          readAtSec: tSec,
        };
      if (watchesReadiness(rt.target, stats)) nextTickMs = Math.min(nextTickMs, nowMs + WATCH_MS);
      else if (stats.held > 0) nextTickMs = Math.min(nextTickMs, nowMs + TICK_SEC * 1000);
      if (applied.actuation === "Written") rt.lastWriteSec = tSec;
      // A held-back write is retried as soon as the limit allows, with the decision of that tick.
      if (applied.retryAtSec !== undefined) nextTickMs = Math.min(nextTickMs, applied.retryAtSec * 1000);
    } catch (e) {
      const reason = e instanceof KubernetesApiError ? e.reason : "ScaleTargetUnavailable";
      problems.push({ reason, message: (e as Error).message });
    }

    // A configure() or delete that landed while this tick awaited wins over what the tick computed.
    if (this.kv.get("plan") !== planText) return;
    const error = problems.map((p) => p.message).join("; ");
    if (error) rt.lastError = { time, message: error };
    this.kv.putJson("runtime", rt);
    this.kv.putJson("status", {
      conditions: [
        error ? condition("Ready", "False", problems[0].reason, error) : condition("Ready", "True", "ScaledObjectReady"),
        rt.scaler && isActive(rt.scaler) ? condition("Active", "True", "ScalerActive") : condition("Active", "False", "ScalerNotActive"),
        ...(plan.dryRun ? [condition("DryRun", "True", "DryRunAnnotation", "decisions are reported, never written to the target")] : []),
      ],
      scaleTargetKind: `${plan.target.apiVersion}.${plan.target.kind}`,
      currentReplicas: rt.target?.currentReplicas ?? null,
      readyReplicas: rt.target?.ready ?? null,
      ...(gated.length > 0 ? { activation: activatorStatus(rt.target?.ready ?? 0, stats, rt.gate) } : {}),
      desiredReplicas: rt.lastDecision?.desiredReplicas ?? null,
      ...(rt.scaler?.decider ? { mode: rt.scaler.panic ? "panic" : "stable" } : {}),
      lastActiveTime: rt.lastActiveTime,
      lastDecision: rt.lastDecision,
      lastError: rt.lastError,
    });
    await this.ctx.storage.setAlarm(nextTickMs);
  }

  /** The gate stats of every gated trigger, by `gateKey`; a broker that cannot be read reports nothing. */
  private async gateStats(gated: GatedObject[], brokerCounters: (name: string) => Promise<BrokerCounters>): Promise<Map<string, GateStats>> {
    const read = await Promise.all(
      gated.map(async (o) => {
        try {
          const metrics = o.channel ? await partitionStub(this.env, o.namespace, o.broker, 0).metrics() : await brokerCounters(o.broker);
          return metrics.activator?.[o.trigger];
        } catch {
          return undefined;
        }
      }),
    );
    return new Map(gated.flatMap((o, i) => (read[i] ? [[gateKey(o.broker, o.trigger), read[i]] as const] : [])));
  }

  /**
   * Push the gate (ready replicas, capacity) to the gated brokers' partitions when it changed, and once a
   * polling interval besides (a partition that restarted learns it then, or when it asks).
   */
  private async pushGate(rt: Runtime, plan: AutoscalerPlan, gated: GatedObject[], tSec: number): Promise<void> {
    if (!rt.target || gated.length === 0) return;
    const ready = rt.target.ready;
    const partitions = gated.reduce((n, o) => n + o.partitions, 0);
    const gate: Gate = {
      ready,
      capacity: capacityOf(ready, effectiveConcurrency(plan.activator.containerConcurrency, rt.target.containerConcurrency)),
      holdMs: plan.activator.holdMs,
      shared: partitions > 1,
    };
    const changed = JSON.stringify(gate) !== JSON.stringify(rt.gate);
    rt.gate = gate;
    if (!changed && rt.gatePushedSec !== null && tSec - rt.gatePushedSec < plan.pollingIntervalSec - ALARM_SLACK_SEC) return;
    rt.gatePushedSec = tSec;
    // Saved before the push: a partition that asks (activate, lease) meanwhile reads this gate.
    this.kv.putJson("runtime", rt);
    await Promise.all(
      gated.flatMap((o) =>
        Array.from({ length: o.partitions }, (_, p) =>
          partitionStub(this.env, o.namespace, o.broker, p)
            .gate(o.trigger, gate)
            .catch(() => undefined),
        ),
      ),
    );
  }

  /** Feeds the KPA windows with the trigger's concurrency (with what its activator holds) or rps for each second since the last feed. */
  private observeKpa(rt: Runtime, trigger: TriggerSpec, metrics: BrokerCounters, plan: AutoscalerPlan, nowMs: number, held: number): number | null {
    const sample = sampleTrigger(metrics, trigger.source, nowMs);
    const second = Math.floor(nowMs / 1000);
    // A second already fed: its value stands (a decision within it still shows what it saw).
    if (rt.lastSecond !== null && second <= rt.lastSecond) return rt.lastValue;
    const value = trigger.metric === "concurrency" ? concurrencyWithHeld(sample.inflight, held) : rateBetween(rt.sample, sample);
    rt.sample = sample;
    if (value === null) return null;
    // The value holds since the last feed (at most a stable window back: older seconds leave the window anyway).
    const from = Math.max(rt.lastSecond === null ? second : rt.lastSecond + 1, second - plan.decider!.stableWindowSec + 1);
    for (let s = from; s <= second; s++) observeSecond(rt.scaler!, s, value);
    rt.lastSecond = second;
    rt.lastValue = value;
    return value;
  }

  /** One KEDA trigger's metric, or a message saying why it is unavailable. */
  private async kedaMetric(
    trigger: TriggerSpec,
    index: number,
    namespace: string,
    rt: Runtime,
    brokerCounters: (name: string) => Promise<BrokerCounters>,
  ): Promise<KedaMetric | string> {
    try {
      if (trigger.type === "edge-eventing") {
        const value = backlogOf(sampleTrigger(await brokerCounters(trigger.broker!), trigger.source, Date.now()));
        return { value, target: trigger.target, active: value > trigger.activationTarget };
      }
      const read = sourceMetric(
        { ...trigger, type: trigger.type },
        await sourceBacklog(this.env, SOURCE_KINDS[trigger.type], namespace, trigger.source),
        rt.kafkaPrevious[index],
      );
      if (!read.ok) return read.error;
      rt.kafkaPrevious[index] = read.previous;
      return read.metric;
    } catch (e) {
      const where = trigger.type === "edge-eventing" ? `Broker ${namespace}/${trigger.broker}` : `${SOURCE_KINDS[trigger.type]} ${trigger.source}`;
      return `${where}: ${(e as Error).message}`;
    }
  }
}

const gateKey = (broker: string, trigger: string) => `${broker}/${trigger}`;

/** A broker (or a source's channel) whose trigger the ScaledObject gates, with its partition count. */
interface GatedObject {
  namespace: string;
  broker: string;
  trigger: string;
  partitions: number;
  channel: boolean;
}

/**
 * What the ScaledObject gates: the Trigger of each `edge-eventing` trigger in its broker's partitions, and
 * the sink channel of each source it scales from (a source whose sink is a Broker has no channel; its
 * Triggers are gated by naming them in `edge-eventing` triggers).
 */
async function gatedObjects(env: Env, namespace: string, plan: AutoscalerPlan): Promise<GatedObject[]> {
  return Promise.all(
    plan.triggers.map(async (t) => {
      if (t.type === "edge-eventing") {
        const partitions = (await lookupRoute(env, namespace, t.broker!))?.partitions ?? 1;
        return { namespace, broker: t.broker!, trigger: t.source, partitions, channel: false };
      }
      return { namespace, broker: sinkChannelName(SOURCE_KINDS[t.type], t.source), trigger: "sink", partitions: 1, channel: true };
    }),
  );
}

/** KEDA's activity, or a non-zero KPA decision. */
const isActive = (s: ScalerState) => s.active || (s.kpaWant ?? 0) > 0;

const timedFetch: FetchLike = (url, init) => fetch(url, { ...init, signal: AbortSignal.timeout(K8S_TIMEOUT_MS) });
