/**
 * Runs one source on its alarm (one object per source, see runner.ts).
 *
 * Bridge sources (KafkaSource, RocketMQSource, MNSSource, RedisStreamSource) run a continuous loop:
 * each alarm is one bounded cycle (long-poll the bridge, hand the batch to the sink broker in one
 * ingest, dead-letter poison messages, commit what was taken) and re-arms at once, so latency is the
 * long-poll's, not the cron's. A 429 from the sink holds the batch in memory: no fetch until it is in
 * (the Kafka consumer is kept alive meanwhile), nothing committed, retried after Retry-After. Held
 * messages lost to an eviction are uncommitted, so the bridge delivers them again.
 *
 * PingSource: the alarm sits at the next tick; a fired tick is ingested with an id derived from the
 * tick, so a tick fired twice is deduplicated by the broker, then the next tick is armed.
 */
import { DurableObject } from "cloudflare:workers";
import { ingestInto } from "../clients/ingest.ts";
import type { IngestResult, PolicyRefusal } from "../shared/contracts/ingest.ts";
import type { ConsumerBacklog, RunnerInput, SourcePollerRpc } from "../shared/contracts/runner.ts";
import { sourceAdmission } from "../shared/policy/admit.ts";
import { KeyValueTable } from "./storage/key-value.ts";
import type { CloudEvent } from "../shared/cloudevents/event.ts";
import { partitionOffsets, type KafkaPollerState } from "../shared/bridges/kafka/poller.ts";
import { poisonEvent } from "../shared/bridges/poison.ts";
import { createSourceBridge, type SourceBridge } from "../shared/bridges/pollers.ts";
import { kafkaConsumers } from "../shared/bridges/kafka/spec.ts";
import type { PolledMessage } from "../shared/bridges/types.ts";
import { kindByName } from "../shared/resources/kinds.ts";
import { type Condition, condition, type Manifest } from "../shared/resources/manifest.ts";
import { deadLetterEntry, isChannelName, type SinkEntry, type SourceSpec } from "../shared/resources/sources.ts";
import { nextTick, pingEvent, type PingSourceResource } from "../shared/sources/ping.ts";
import { secretReader } from "../shared/secrets.ts";

/** An empty poll waits at least this long before the next (bridges that answer at once, e.g. Redis). */
export const MIN_CYCLE_MS = 1_000;
/** Upper bound of one poll, long-poll wait included (bridges wait at most 30 s). */
export const POLL_BUDGET_MS = 60_000;
/** Failure backoff: 1 s doubling up to 60 s. */
const BACKOFF_BASE_MS = 1_000;
const BACKOFF_MAX_MS = 60_000;
/** The watchdog re-arms a loop whose alarm is this far overdue. */
export const STALL_MS = 2 * 60_000;
/** Events per ingest call at most; halves after a 429 (a batch larger than the free backlog never fits whole). */
export const MAX_INGEST_BATCH = 1_000;

interface LoopStatus {
  ready: Condition["status"];
  reason: string;
  message?: string;
  lastPollTime?: string;
  lag?: number;
  /** Messages held back by backpressure or a failed hand-off. */
  heldMessages?: number;
  lastError?: string;
  lastErrorTime?: string;
}

interface Bridge {
  input: string;
  client: SourceBridge;
}

type HandOff = { handed: PolledMessage[]; held: PolledMessage[]; retryAfterMs?: number; error?: string; reason?: string; skipped: string[] };

export class SourcePoller extends DurableObject<Env> implements SourcePollerRpc {
  private readonly kv = new KeyValueTable(this.ctx.storage.sql, "kv");
  private bridge: Bridge | undefined;
  private held: PolledMessage[] | null = null;
  private chunk = MAX_INGEST_BATCH;
  private failures = 0;
  private running = false;

  async configure(input: RunnerInput | null): Promise<void> {
    if (input === null) return this.stop();
    const text = JSON.stringify(input);
    if (this.kv.get("input") !== text) {
      // Changed: the old consumer goes (its bridge or group may differ) and the loop restarts on the new input.
      await this.closeBridge();
      this.held = null;
      this.kv.put("input", text);
      this.kv.delete("tick");
      return this.start(input);
    }
    // Unchanged (the cron watchdog): leave a running loop alone, restart one that stalled.
    const at = await this.ctx.storage.getAlarm();
    if (!this.running && (at === null || at < Date.now() - STALL_MS)) await this.start(input);
  }

  async status(): Promise<Record<string, unknown>> {
    const s = this.kv.getJson<LoopStatus>("status");
    if (!s) return this.kv.get("input") ? { conditions: [condition("Ready", "Unknown", "Starting")] } : {};
    const { ready, reason, message, ...fields } = s;
    const input = this.kv.getJson<RunnerInput>("input");
    const consumers = input?.manifest.kind === "KafkaSource" ? kafkaConsumers(input.manifest.spec) : 1;
    return { conditions: [condition("Ready", ready, reason, message)], ...fields, ...(consumers > 1 ? { consumers } : {}) };
  }

  /**
   * What this consumer's bridge still holds for the router, and where the router buffers for the sink
   * (`channel`: null when the sink is a Broker, which is the sink itself). Read from storage, so it
   * answers at once while a long poll is in progress. Null when no source runs here.
   */
  async backlog(): Promise<ConsumerBacklog | null> {
    const input = this.kv.getJson<RunnerInput>("input");
    if (!input?.sink) return null;
    const kafka = input.manifest.kind === "KafkaSource" ? this.kv.getJson<KafkaPollerState>("bridge") : null;
    const lag = this.kv.getJson<LoopStatus>("status")?.lag;
    return {
      channel: isChannelName(input.sink.name) ? input.sink : null,
      ...(kafka ? { partitions: partitionOffsets(kafka) } : {}),
      ...(lag !== undefined ? { pending: lag } : {}),
    };
  }

  override async alarm(): Promise<void> {
    const input = this.kv.getJson<RunnerInput>("input");
    if (!input) return;
    this.running = true;
    try {
      if (scheduled(input)) await this.tick(input);
      else await this.cycle(input);
    } finally {
      this.running = false;
    }
  }

  private async start(input: RunnerInput): Promise<void> {
    if (!scheduled(input)) return this.ctx.storage.setAlarm(Date.now());
    const tick = this.armedTick(input) ?? nextTick(...this.schedule(input), Date.now());
    if (tick === null) return this.setStatus({ ready: "False", reason: "NoNextTick", message: "the schedule never fires again" });
    this.kv.put("tick", String(tick));
    await this.ctx.storage.setAlarm(tick);
  }

  /** Deleted: close the consumer (Kafka: delete the instance), forget everything, no alarm. */
  private async stop(): Promise<void> {
    await this.ctx.storage.deleteAlarm();
    const input = this.kv.getJson<RunnerInput>("input");
    if (!this.bridge && input && !scheduled(input)) {
      try {
        this.bridge = { input: JSON.stringify(input), client: this.createBridge(input) };
      } catch {
        // a secret gone with the source: nothing to close with
      }
    }
    await this.closeBridge();
    this.held = null;
    this.kv.delete();
  }

  private async closeBridge(): Promise<void> {
    const bridge = this.bridge;
    this.bridge = undefined;
    try {
      await bridge?.client.close();
    } catch (error) {
      log("warn", "closing the bridge consumer failed", { error: (error as Error).message });
    }
  }

  // -- PingSource ------------------------------------------------------------------------------------

  private async tick(input: RunnerInput): Promise<void> {
    const tick = this.armedTick(input);
    if (tick === null) return this.start(input);
    const event = pingEvent(input.manifest as unknown as PingSourceResource, tick);
    const r = await this.ingest(input, input.sink!, [event]);
    if (this.kv.get("input") !== JSON.stringify(input)) return; // deleted or rescheduled meanwhile: that armed its own tick
    if (r.status !== 202) {
      // Same tick again later: its id makes a repeat harmless.
      this.fail(`sink ${sinkName(input.sink!)} answered ${r.status}: ${r.error}`, r.status === 429 ? "SinkBackpressure" : refusalReason(r));
      return this.arm(Date.now() + (r.status === 429 ? r.retryAfterSeconds * 1000 : this.backoff()));
    }
    this.failures = 0;
    this.setStatus({ ...this.currentStatus(), ready: "True", reason: "Scheduled", message: undefined, lastPollTime: new Date(tick).toISOString() });
    const next = nextTick(...this.schedule(input), Math.max(tick, Date.now()));
    if (next === null) return this.setStatus({ ...this.currentStatus(), ready: "False", reason: "NoNextTick", message: "the schedule never fires again" });
    this.kv.put("tick", String(next));
    await this.ctx.storage.setAlarm(next);
  }

  private armedTick(input: RunnerInput): number | null {
    const tick = this.kv.get("tick");
    return tick === null || !scheduled(input) ? null : Number(tick);
  }

  private schedule(input: RunnerInput): [string, string | undefined] {
    const spec = (input.manifest as unknown as PingSourceResource).spec;
    return [spec.schedule || "* * * * *", spec.timezone];
  }

  // -- Bridge sources --------------------------------------------------------------------------------

  private async cycle(input: RunnerInput): Promise<void> {
    const started = Date.now();
    let bridge: Bridge;
    try {
      bridge = this.bridgeFor(input);
    } catch (error) {
      this.fail((error as Error).message, "ConfigError");
      return this.arm(Date.now() + this.backoff());
    }
    let messages: PolledMessage[];
    let lag: number | undefined;
    try {
      if (this.held) {
        // Backpressure: no new fetch until the held batch is in.
        messages = this.held;
        await bridge.client.keepAlive?.();
      } else {
        const batch = await bridge.client.poll(AbortSignal.timeout(POLL_BUDGET_MS));
        messages = batch.messages;
        lag = batch.lag;
      }
    } catch (error) {
      if (this.bridge !== bridge) return; // reconfigured or deleted meanwhile: the new loop is armed
      this.fail(`poll: ${(error as Error).message}`, "PollFailed");
      return this.arm(Date.now() + this.backoff());
    }
    if (this.bridge !== bridge) return; // uncommitted: whatever replaces this consumer reads it again
    const polledAt = this.held ? this.currentStatus().lastPollTime : new Date().toISOString();

    const result = await this.handOff(input, messages);
    if (this.bridge !== bridge) return; // reconfigured meanwhile: uncommitted, so the new consumer reads it again
    if (result.handed.length > 0) {
      try {
        await bridge.client.commit(result.handed);
      } catch (error) {
        // Handed off but not committed: delivered again later, and deduplicated by the broker on (source, id).
        this.held = null;
        this.fail(`commit: ${(error as Error).message}`, "CommitFailed");
        return this.arm(Date.now() + this.backoff());
      }
    }
    this.held = result.held.length > 0 ? result.held : null;
    // The bridge counted this batch as not committed; what was committed since is the sink's now.
    if (lag !== undefined) lag = Math.max(0, lag - result.handed.length);
    const base = { ...this.currentStatus(), lastPollTime: polledAt, ...(lag !== undefined ? { lag } : {}), heldMessages: result.held.length };
    for (const skipped of result.skipped) this.noteError(skipped, base);
    if (result.error) {
      const reason = result.retryAfterMs !== undefined ? "SinkBackpressure" : (result.reason ?? "SinkUnavailable");
      if (reason !== "SinkBackpressure") this.noteError(result.error, base);
      this.setStatus({ ...base, ready: reason === "SinkBackpressure" ? "True" : "False", reason, message: result.error });
      return this.arm(Date.now() + (result.retryAfterMs ?? this.backoff()));
    }
    this.failures = 0;
    this.setStatus({ ...base, ready: "True", reason: "Polling", message: undefined });
    await this.arm(messages.length === 0 ? Math.max(Date.now() + 1, started + MIN_CYCLE_MS) : Date.now() + 1);
  }

  private bridgeFor(input: RunnerInput): Bridge {
    const text = JSON.stringify(input);
    if (this.bridge?.input !== text) this.bridge = { input: text, client: this.createBridge(input) };
    return this.bridge;
  }

  private createBridge(input: RunnerInput): SourceBridge {
    return createSourceBridge(input.manifest, {
      consumer: input.consumer,
      secret: secretReader(this.env),
      fetch: (url, init) => fetch(url, init),
      store: {
        load: async () => this.kv.getJson<KafkaPollerState>("bridge") ?? undefined,
        save: async (state) => this.kv.put("bridge", JSON.stringify(state)),
      },
    });
  }

  /** Events to the sink in as few ingest calls as it takes; poison (and events the sink refuses as invalid) to the dead-letter sink. */
  private async handOff(input: RunnerInput, messages: PolledMessage[]): Promise<HandOff> {
    const good = messages.filter((m) => m.event);
    const poison = messages.filter((m) => !m.event);
    const out: HandOff = { handed: [], held: [], skipped: [] };
    let i = 0;
    while (i < good.length) {
      const part = good.slice(i, i + this.chunk);
      const r = await this.ingest(
        input,
        input.sink!,
        part.map((m) => m.event!),
      );
      if (r.status === 202) {
        out.handed.push(...part);
        i += part.length;
        this.chunk = Math.min(MAX_INGEST_BATCH, this.chunk * 2);
      } else if (r.status === 400 && part.length > 1) {
        this.chunk = 1; // one of them is refused: find it, one at a time
      } else if (r.status === 400) {
        poison.push({ key: part[0].key, poison: `the sink refused the event: ${r.error}${r.field ? ` (field ${r.field})` : ""}` });
        i++;
      } else {
        if (r.status === 429) {
          this.chunk = Math.max(1, Math.ceil(part.length / 2));
          out.retryAfterMs = r.retryAfterSeconds * 1000;
        }
        out.error = `sink ${sinkName(input.sink!)} answered ${r.status}: ${r.error}`;
        out.reason = refusalReason(r);
        break;
      }
    }
    out.held.push(...good.slice(i));
    for (const m of poison) {
      const outcome = await this.deadLetter(input, m);
      if (outcome.ok) {
        out.handed.push(m);
        if (outcome.skipped) out.skipped.push(outcome.skipped);
      } else {
        out.held.push(m);
        out.error ??= outcome.error;
      }
    }
    return out;
  }

  /** The source hands events over as itself, so that EventPolicies naming it in `from.ref` allow them. */
  private ingest(input: RunnerInput, sink: SinkEntry, events: CloudEvent[]): Promise<IngestResult | PolicyRefusal> {
    const { kind, metadata } = input.manifest;
    return ingestInto(this.env, sink, events, {}, sourceAdmission({ kind, namespace: metadata.namespace!, name: metadata.name }));
  }

  /**
   * A poison message, as a CloudEvent, into the source's dead-letter route (the dead-letter Broker, or a
   * channel that delivers to the dead-letter sink with the source's retries); without one it is skipped
   * and reported in status.
   */
  private async deadLetter(input: RunnerInput, message: PolledMessage): Promise<{ ok: true; skipped?: string } | { ok: false; error: string }> {
    const { manifest } = input;
    const entry = deadLetterEntry(manifest as Manifest<SourceSpec>, input.ctx);
    if (!entry) {
      log("error", "poison message skipped: no dead-letter sink", { source: manifest.metadata.name, key: message.key, reason: message.poison });
      return { ok: true, skipped: `poison message ${message.key} skipped (no spec.delivery.deadLetterSink): ${message.poison}` };
    }
    const plural = kindByName(manifest.kind)?.plural ?? manifest.kind.toLowerCase();
    const event = poisonEvent({ namespace: manifest.metadata.namespace!, plural, name: manifest.metadata.name }, message, Date.now());
    try {
      const r = await this.ingest(input, entry, [event]);
      return r.status === 202 ? { ok: true } : { ok: false, error: `dead-letter route ${sinkName(entry)} answered ${r.status}: ${r.error}` };
    } catch (error) {
      return { ok: false, error: `dead-letter route: ${(error as Error).message}` };
    }
  }

  // -- State -----------------------------------------------------------------------------------------

  /** Arm the next cycle unless the source was deleted meanwhile. */
  private async arm(at: number): Promise<void> {
    if (this.kv.get("input") !== null) await this.ctx.storage.setAlarm(at);
  }

  private backoff(): number {
    return Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** this.failures++);
  }

  private fail(error: string, reason: string): void {
    log("warn", "source cycle failed", { reason, error });
    const base = this.currentStatus();
    this.noteError(error, base);
    this.setStatus({ ...base, ready: "False", reason, message: error });
  }

  private noteError(error: string, into: LoopStatus): void {
    into.lastError = error;
    into.lastErrorTime = new Date().toISOString();
  }

  private currentStatus(): LoopStatus {
    return this.kv.getJson<LoopStatus>("status") ?? { ready: "Unknown", reason: "Starting" };
  }

  private setStatus(status: LoopStatus): void {
    if (this.kv.get("input") !== null) this.kv.put("status", JSON.stringify(status));
  }
}

/** A schedule (PingSource) ticks; every other kind run here is a bridge poll loop. */
function scheduled(input: RunnerInput): boolean {
  return kindByName(input.manifest.kind)?.runs === "schedule";
}

/**
 * Why the sink refused, for the source's Ready condition. A refusal by the broker's EventPolicies holds the
 * messages like any other (not committed, tried again with backoff) until a policy allows this source.
 */
function refusalReason(r: { status: number }): string {
  return r.status === 403 && "reason" in r ? "EventPolicyDenied" : "SinkUnavailable";
}

function sinkName(sink: SinkEntry): string {
  return `${sink.namespace}/${sink.name}`;
}

function log(level: string, msg: string, fields: Record<string, unknown>): void {
  console.log(JSON.stringify({ level, msg, ...fields }));
}
