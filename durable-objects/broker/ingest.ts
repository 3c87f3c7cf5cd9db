/**
 * A broker partition's ingest: admission (the broker's shared ingress token, the partition that owns the
 * events), Knative's TTL, dedup of (source, id) within the window, the backlog limit, each trigger's
 * filter, and the turn's group commit that appends the accepted events to the log and their triggers'
 * lanes before the producer gets its 202.
 */
import type { CloudEvent } from "../../shared/cloudevents/event.ts";
import { encodeStructured } from "../../shared/cloudevents/index.ts";
import type { IngestResult } from "../../shared/contracts/ingest.ts";
import { sameSecret } from "../../shared/crypto.ts";
import { DedupIndex } from "../../shared/delivery/dedup-index.ts";
import { isTraceparent } from "../../shared/delivery/trace.ts";
import type { CompiledFilter, FilterScratch } from "../../shared/filters/knative.ts";
import { partitionOf } from "../../shared/partitions.ts";
import { BROKER_ANNOTATIONS } from "../../shared/resources/eventing.ts";
import { secretReader } from "../../shared/secrets.ts";
import { seenByEarlierOwners } from "../../clients/partitions.ts";
import type { BrokerState } from "./state.ts";
import { type EventMeta, type LogEntry, SEGMENT_EVENTS, segmentOf } from "./event-log.ts";
import { GroupCommit } from "./group-commit.ts";
import type { Writer } from "./write-behind.ts";

/** Knative's MAX_TTL: hops an event and its replies may make through brokers. */
const MAX_TTL = 255;
/** Retry-After a refused producer is told to wait when the backlog is full. */
const BACKLOG_RETRY_AFTER_S = 5;

export class BrokerIngest {
  private dedup = new DedupIndex();
  /** Deliveries of events accepted and not yet committed (they count against the backlog limit already). */
  private committing = 0;
  /** Accepted events wait here for the turn's group commit. */
  private readonly commits: GroupCommit<LogEntry[]>;

  private readonly state: BrokerState;
  private readonly laned: (trigger: string) => void;
  private readonly stored: (events: CloudEvent[], fresh: boolean[]) => void;

  /**
   * `laned(trigger)`: the trigger's lane got events (dispatch looks at it). `stored(events, fresh)`: a
   * request's events are stored, `fresh[i]` when new to the broker (RequestReply's replies look at them).
   */
  constructor(state: BrokerState, laned: (trigger: string) => void, stored: (events: CloudEvent[], fresh: boolean[]) => void) {
    this.state = state;
    this.laned = laned;
    this.stored = stored;
    const writer: Writer = state.store.writes.writer("log", 0, () => this.commits.flush());
    this.commits = new GroupCommit<LogEntry[]>(
      (batches) => this.commit(batches.flat()),
      () => writer.soon(),
    );
  }

  /** After a start: each lane gets the logged events it matched above its cursor; the dedup index its window. */
  restore(): void {
    const { store, config } = this.state;
    const now = Date.now();
    this.dedup = new DedupIndex();
    for (const k of store.log.keysSince(now - (config?.dedupWindowMs ?? 0))) this.dedup.add(DedupIndex.key(k.s, k.i), k.at);
    for (let from = segmentOf(store.lanes.floor(store.log.end)); ; ) {
      const rows = store.log.segmentsFrom(from, 64);
      for (const row of rows) {
        for (const [i, meta] of (JSON.parse(row.meta) as EventMeta[]).entries())
          store.lanes.push(row.seq * SEGMENT_EVENTS + i, meta, (t) => this.state.ordered(t));
      }
      if (rows.length < 64) break;
      from = rows.at(-1)!.seq + 1;
    }
  }

  /** The broker was deleted: it keeps no events, so nothing is a duplicate any more. */
  clear(): void {
    this.dedup = new DedupIndex();
  }

  /**
   * Accept events from ingress: durable (in the log, with their lanes' positions) before this returns 202.
   * `headers` are the request's pass-through headers (shared/delivery/headers.ts), sent on with every
   * delivery; an event's own `traceparent` extension wins over the request's.
   */
  async ingest(events: CloudEvent[], headers: Record<string, string>, producer?: { bearer: string | undefined }): Promise<IngestResult> {
    const refused = producer && (await this.refuseProducer(producer.bearer));
    return refused ?? this.store(events, headers);
  }

  /**
   * A partition stores only the events it owns (421 for others: the sender's routing table is older than
   * a growth of the broker), and after a growth also asks their earlier owners whether they hold them.
   */
  async store(events: CloudEvent[], headers: Record<string, string>): Promise<IngestResult> {
    const p = this.state.config?.partition;
    if (!p) return this.accept(events, headers);
    if (events.some((e) => partitionOf(e, p.count) !== p.index))
      return { status: 421, error: `events of another partition: broker ${this.state.key()} has ${p.count} partitions, this is partition ${p.index}` };
    return this.accept(events, headers, await seenByEarlierOwners(this.state.env, this.state.config!, events));
  }

  /** Of these (source, id) pairs, which this partition holds in its dedup window. */
  seen(keys: { source: string; id: string }[]): boolean[] {
    const config = this.state.config;
    if (!config) return keys.map(() => false);
    const now = Date.now();
    return keys.map((k) => this.dedup.has(DedupIndex.key(k.source, k.id), now, config.dedupWindowMs));
  }

  /** Deliveries queued: the lanes', the rows', and those of events being committed. */
  backlog(): number {
    return this.state.store.lanes.size + this.state.store.rows.count + this.committing;
  }

  /** Write the turn's accepted events now (before anything that must see them stored). */
  flush(): void {
    this.state.store.writes.flush("log");
  }

  /**
   * Public ingress (`producer` given) of a broker that requires a token: 401 without one, 403 with a wrong
   * one. Sources, replies and broker-to-broker deliveries are the router's own and pass no `producer`.
   */
  private async refuseProducer(bearer: string | undefined): Promise<IngestResult | null> {
    const name = this.state.config?.ingressTokenSecret;
    if (!name) return null;
    let expected: string;
    try {
      expected = secretReader(this.state.env)(name, `metadata.annotations.${BROKER_ANNOTATIONS.ingressTokenSecret}`);
    } catch (e) {
      return { status: 500, error: `the broker's ingress token cannot be read: ${(e as Error).message}` };
    }
    if (!bearer) return { status: 401, error: "this broker requires Authorization: Bearer <ingress token>" };
    return (await sameSecret(bearer, expected)) ? null : { status: 403, error: "the ingress token is not valid for this broker" };
  }

  /**
   * Check, filter and log events; answered once the turn's group commit has written them. Their dedup
   * keys and backlog count are taken at once, so the requests of the same turn see them.
   */
  private async accept(events: CloudEvent[], headers: Record<string, string>, seenElsewhere = new Set<number>()): Promise<IngestResult> {
    const config = this.state.config;
    if (!config) return { status: 404, error: "broker not found" };
    const now = Date.now();
    const arrival = new Date(now).toISOString();
    const prepared: CloudEvent[] = [];
    for (const [i, e] of events.entries()) {
      const ttl = nextTtl(e.attributes.knativebrokerttl);
      if (ttl <= 0)
        return {
          status: 400,
          error: "event TTL exhausted: it made more hops through brokers than knativebrokerttl allows",
          field: events.length > 1 ? `[${i}].knativebrokerttl` : "knativebrokerttl",
        };
      prepared.push({ attributes: { ...e.attributes, knativearrivaltime: arrival, knativebrokerttl: ttl }, data: e.data });
    }
    this.dedup.expire(now, config.dedupWindowMs);
    const fresh = this.unseen(prepared, now, config.dedupWindowMs).map((f, i) => f && !seenElsewhere.has(i));
    const matches = prepared.map((e, i) => {
      if (!fresh[i]) return [];
      const scratch = {}; // what one trigger's filter derives from this event, the next ones reuse
      return [...this.state.triggers.values()].filter((t) => safeMatch(t.filter, e, scratch));
    });
    const wanted = matches.reduce((n, m) => n + m.length, 0);
    const backlog = this.backlog();
    if (backlog + wanted > config.backlogLimit) {
      return {
        status: 429,
        error: `broker backlog is full (${backlog} of ${config.backlogLimit} deliveries queued)`,
        retryAfterSeconds: BACKLOG_RETRY_AFTER_S,
      };
    }
    // Kept even when no trigger matched: for dedup, and with retention "where did my event go" has an answer too.
    const keep = config.dedupWindowMs > 0 || (config.retentionMs ?? 0) > 0;
    const entries: LogEntry[] = [];
    const keys: string[] = [];
    prepared.forEach((event, i) => {
      if (!fresh[i] || (matches[i].length === 0 && !keep)) return;
      const own = event.attributes.traceparent;
      const forwarded = isTraceparent(own) ? { ...headers, traceparent: own } : headers;
      const meta: EventMeta = { s: String(event.attributes.source), i: String(event.attributes.id), m: matches[i].map((t) => t.config.name) };
      if (Object.keys(forwarded).length > 0) meta.h = forwarded;
      if (event.attributes.partitionkey !== undefined) meta.k = String(event.attributes.partitionkey);
      entries.push({ event, body: encodeStructured(event), meta });
      keys.push(DedupIndex.key(meta.s, meta.i));
    });
    if (config.dedupWindowMs > 0) for (const key of keys) this.dedup.add(key, now);
    this.committing += wanted;
    try {
      if (entries.length > 0) await this.commits.add(entries);
    } catch (e) {
      for (const key of keys) this.dedup.remove(key);
      return { status: 500, error: `events not stored: ${(e as Error).message}` };
    } finally {
      this.committing -= wanted;
    }
    this.stored(prepared, fresh);
    const accepted = fresh.filter(Boolean).length;
    const duplicates = prepared.length - accepted;
    this.state.live.send(() =>
      prepared.map((event, i) => ({
        kind: "event",
        at: now,
        id: String(event.attributes.id),
        source: String(event.attributes.source),
        type: String(event.attributes.type),
        matched: matches[i].map((t) => t.config.name),
      })),
    );
    this.state.count("", "accepted", accepted);
    if (duplicates > 0) this.state.count("", "duplicates", duplicates);
    return { status: 202, accepted, duplicates };
  }

  /** The turn's group commit: one log segment (and one transaction) for every event accepted in it. */
  private commit(entries: LogEntry[]): void {
    const { store, config } = this.state;
    const now = Date.now();
    const matched = new Map<string, number>();
    try {
      store.transaction(() => {
        const positions = store.log.append(entries, now);
        entries.forEach((e, i) => {
          for (const name of store.lanes.push(positions[i], e.meta, (t) => this.state.ordered(t))) {
            matched.set(name, (matched.get(name) ?? 0) + 1);
            this.laned(name);
          }
        });
      });
    } catch (e) {
      store.log.reload(); // what memory holds of the log must match the rolled-back table
      throw e;
    }
    for (const [trigger, n] of matched) this.state.count(trigger, "matched", n);
    store.appended(now, config);
  }

  /** Per event: not seen within the dedup window, neither stored before nor earlier in this request. */
  private unseen(events: CloudEvent[], now: number, windowMs: number): boolean[] {
    if (windowMs <= 0) return events.map(() => true);
    const inRequest = new Set<string>();
    return events.map((e) => {
      const key = DedupIndex.key(String(e.attributes.source), String(e.attributes.id));
      if (inRequest.has(key)) return false;
      inRequest.add(key);
      return !this.dedup.has(key, now, windowMs);
    });
  }
}

/** Knative's TTL rule: absent or not an integer -> MAX_TTL; otherwise one hop less, never above MAX_TTL. */
function nextTtl(raw: unknown): number {
  if (raw === undefined || !/^-?\d{1,10}$/.test(String(raw))) return MAX_TTL;
  return Math.min(Math.max(Number(raw) - 1, 0), MAX_TTL);
}

function safeMatch(filter: CompiledFilter, event: CloudEvent, scratch: FilterScratch): boolean {
  try {
    return filter(event, scratch) !== "fail";
  } catch {
    return false;
  }
}
