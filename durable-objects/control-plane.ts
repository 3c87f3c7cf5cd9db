/**
 * The control plane: the desired state of every resource (one object for the whole router). It stores
 * manifests as given, fills metadata and status, and pushes the compiled form to the data plane. What a
 * kind checks, reports and pushes is its entry in the kind registry (shared/resources/kinds.ts): nothing
 * here branches on a kind.
 */
import { DurableObject } from "cloudflare:workers";
import { partitionStub } from "../clients/partitions.ts";
import type { ApplyResult, ControlPlaneRpc, WriteOptions } from "../shared/contracts/control-plane.ts";
import type { RoutingTable } from "../shared/contracts/routing.ts";
import { KeyValueTable } from "./storage/key-value.ts";
import { pushReplay, replayStatusOf } from "../clients/replays.ts";
import type { ReplaySpec } from "../shared/history/replay.ts";
import { runnerCount, runnerKey, runnerStatus, runnerStub } from "../clients/runner.ts";
import type { FieldError } from "../shared/delivery/policy.ts";
import { resolveDestination, type ResolveContext, targetUrl } from "../shared/resources/destination.ts";
import { type BrokerConfig, brokerSettings, type PartitionIdentity, partitionCount, triggerSettings } from "../shared/resources/eventing.ts";
import {
  apiVersions,
  immutableChanges,
  KINDS,
  type KindInfo,
  type KindName,
  type KindSpecs,
  kindByName,
  type LiveObjects,
  type Push,
  type ResourceRef,
  type StoredResources,
} from "../shared/resources/kinds.ts";
import { type Manifest, validateEnvelope } from "../shared/resources/manifest.ts";
import { type SinkEntry, sinkEntry, sourceChannels, type SourceSpec } from "../shared/resources/sources.ts";
import { compositionChannels, transformSpecOf } from "../shared/resources/composition.ts";
import { addressChannel, type CompositionKind } from "../shared/resources/composition-address.ts";
import { failure, invalid } from "../shared/resources/status.ts";
import { WEBHOOK_KINDS_BY_PRECEDENCE } from "../shared/webhooks/spec.ts";
import { recordUpdate } from "../shared/kube-api/field-managers.ts";
import { appliesTo, listedIssuers, policyRule } from "../shared/policy/spec.ts";
import { gatedBy } from "../shared/autoscaling/scaled-object.ts";
import type { JobCountRow, RefusalRow } from "../shared/metrics/prometheus.ts";
import type { AuditCursor, AuditEntry, AuditQuery, AuditRow, RefusalTally } from "../shared/audit/trail.ts";
import type { BindingObject, RbacSnapshot, RoleObject } from "../shared/rbac/authorizer.ts";
import { AuditLog } from "./control-plane/audit-log.ts";
import { requestReplyRoute } from "../shared/requestreply/spec.ts";
import { clusterOf } from "../shared/kubernetes/cluster.ts";
import { JOB_SINK_TOKEN_ANNOTATION, jobSinkCluster, jobSinkRun } from "../shared/resources/job-sink.ts";

type Row = { manifest: string };

export class ControlPlane extends DurableObject<Env> implements ControlPlaneRpc {
  private readonly sql = this.ctx.storage.sql;
  private readonly settings = new KeyValueTable(this.sql, "settings");
  private readonly audit = new AuditLog(this.sql);

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql.exec(`
      CREATE TABLE IF NOT EXISTS resources (
        kind TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL, manifest TEXT NOT NULL,
        PRIMARY KEY (kind, namespace, name)) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS routes (broker TEXT PRIMARY KEY, partitions INTEGER NOT NULL, previous TEXT NOT NULL) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS ingress_refusals (
        namespace TEXT NOT NULL, broker TEXT NOT NULL, code INTEGER NOT NULL, value INTEGER NOT NULL,
        PRIMARY KEY (namespace, broker, code)) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS jobsink_jobs (
        namespace TEXT NOT NULL, name TEXT NOT NULL, value INTEGER NOT NULL, PRIMARY KEY (namespace, name)) WITHOUT ROWID;`);
    // Brokers from before the routing table were single objects, configured already.
    this.sql.exec("INSERT OR IGNORE INTO routes SELECT namespace || '/' || name, 1, '[]' FROM resources WHERE kind = 'Broker'");
  }

  /** Create (`post`) or create-or-replace (`put`) a resource; nothing is stored when it is invalid. */
  async apply(
    kind: string,
    namespace: string,
    body: unknown,
    mode: "put" | "post",
    ctx: ResolveContext,
    pathName: string | undefined,
    options: WriteOptions,
  ): Promise<ApplyResult> {
    const info = kindByName(kind)!;
    this.remember(ctx);
    // A cluster-scoped object has no namespace: one given is dropped, as Kubernetes clears it.
    if (info.clusterScoped && typeof (body as Manifest)?.metadata === "object" && (body as Manifest).metadata !== null)
      delete (body as Manifest).metadata.namespace;
    const envelope = validateEnvelope(body, { apiVersions: apiVersions(info), kind: info.kind, namespace, name: pathName });
    const given = body as Manifest;
    const name = typeof given?.metadata?.name === "string" ? given.metadata.name : pathName;
    if (envelope.length > 0) return this.refuse(info, name, envelope);
    // The namespace is the path's (validateEnvelope refused a different one in the body).
    const candidate = { ...given, metadata: { ...given.metadata, namespace }, spec: given.spec ?? {} };
    const causes = info.validate(candidate);
    if (causes.length > 0) return this.refuse(info, name, causes);
    const refs = info.storedChecks?.(candidate, this.stored(ctx)) ?? [];
    if (refs.length > 0) return this.refuse(info, name, refs);

    const existing = this.read(kind, namespace, given.metadata.name);
    const frozen = existing ? [...immutableChanges(info, existing, candidate), ...(info.change?.(existing, candidate) ?? [])] : [];
    if (frozen.length > 0 && mode === "put") return this.refuse(info, name, frozen);
    if (existing && mode === "post") {
      return {
        code: 409,
        status: failure(409, "AlreadyExists", `${info.plural} "${given.metadata.name}" already exists`, { name: given.metadata.name, kind: info.plural }),
      };
    }
    // Optimistic concurrency, as Kubernetes: a write that names a resourceVersion was computed from it.
    const expected =
      options.expect ??
      (typeof given.metadata.resourceVersion === "string" && given.metadata.resourceVersion !== "" ? given.metadata.resourceVersion : undefined);
    if (expected !== undefined && expected !== (existing?.metadata.resourceVersion ?? "")) {
      const what = `${info.plural}.${info.group} "${given.metadata.name}"`;
      const message = existing
        ? `Operation cannot be fulfilled on ${what}: the object has been modified; please apply your changes to the latest version and try again`
        : `${what} not found`;
      return existing
        ? { code: 409, status: failure(409, "Conflict", message, { name: given.metadata.name, kind: info.plural }) }
        : { code: 404, status: failure(404, "NotFound", message) };
    }
    const content = contentOf(info, given);
    const specChanged = !existing || JSON.stringify(contentOf(info, existing)) !== JSON.stringify(content);
    const manifest = {
      apiVersion: given.apiVersion,
      kind: info.kind,
      metadata: {
        ...given.metadata,
        ...(info.clusterScoped ? {} : { namespace }),
        uid: existing?.metadata.uid ?? crypto.randomUUID(),
        generation: (existing?.metadata.generation ?? 0) + (specChanged ? 1 : 0),
        creationTimestamp: existing?.metadata.creationTimestamp ?? new Date().toISOString(),
        resourceVersion: options.dryRun ? (existing?.metadata.resourceVersion ?? "") : String(this.version() + 1),
      },
      ...content,
    } as Manifest;
    if (!options.applied) {
      manifest.metadata.managedFields = recordUpdate(existing, manifest, options.manager, given.apiVersion, new Date().toISOString());
    }
    // A dry run asks the objects what they would report (a Replay's counts what it would send, status.matched).
    if (options.dryRun) return { code: existing ? 200 : 201, object: await this.withLiveStatus(manifest, ctx, true) };
    this.nextVersion();
    this.sql.exec(
      "INSERT OR REPLACE INTO resources (kind, namespace, name, manifest) VALUES (?, ?, ?, ?)",
      kind,
      namespace,
      manifest.metadata.name,
      JSON.stringify(manifest),
    );
    const code = existing ? 200 : 201;
    if (options.audit) this.audit.change(audited(options.audit, manifest.metadata.name, code));
    await this.propagate(manifest, ctx);
    return { code, object: await this.withLiveStatus(manifest, ctx) };
  }

  async get(kind: string, namespace: string, name: string, ctx: ResolveContext): Promise<Manifest | null> {
    const m = this.read(kind, namespace, name);
    return m ? this.withLiveStatus(m, ctx) : null;
  }

  /** Resources of a kind in one namespace, or in all namespaces when `namespace` is undefined. */
  async list(kind: string, namespace: string | undefined, ctx: ResolveContext): Promise<Manifest[]> {
    return Promise.all(this.manifests(kind, namespace).map((m) => this.withLiveStatus(m, ctx)));
  }

  /** Status as computed here, with what the objects running it report merged over it (KindEntry.live). */
  private async withLiveStatus(m: Manifest, ctx: ResolveContext, dryRun = false): Promise<Manifest> {
    const shown = this.withStatus(m, ctx);
    const live = kindByName(m.kind)?.live;
    return live ? { ...shown, status: { ...shown.status, ...(await live(m, this.liveObjects(dryRun))) } } : shown;
  }

  /** A dry run's manifest was never pushed: its runner has nothing to report, its replay only counts. */
  private liveObjects(dryRun: boolean): LiveObjects {
    return {
      runner: async (m) => (dryRun ? {} : runnerStatus(this.env, m.kind, m.metadata.namespace!, m.metadata.name)),
      replay: (m) => replayStatusOf(this.env, m, this.partitionsOf(m), dryRun),
    };
  }

  async delete(kind: string, namespace: string, name: string, ctx: ResolveContext, audit?: AuditEntry): Promise<Manifest | null> {
    const m = this.read(kind, namespace, name);
    if (!m) return null;
    const shown = this.withStatus(m, ctx);
    this.sql.exec("DELETE FROM resources WHERE kind = ? AND namespace = ? AND name = ?", kind, namespace, name);
    if (audit) this.audit.change(audited(audit, name, 200));
    this.nextVersion();
    await this.propagate(m, ctx);
    return shown;
  }

  /** Every broker object in use: the brokers (with their partition counts), and the channels of sources whose destinations need one. */
  dataPlane(ctx: ResolveContext): (SinkEntry & { partitions?: number })[] {
    const brokers = this.manifests("Broker").map((b) => ({
      namespace: b.metadata.namespace!,
      name: b.metadata.name,
      partitions: this.route(b.metadata.namespace!, b.metadata.name)?.partitions ?? 1,
    }));
    const channels = this.sources().flatMap((s) =>
      sourceChannels(s, ctx)
        .filter((c) => c.config !== null)
        .map((c) => c.entry),
    );
    const compositions = this.compositions().flatMap((m) => compositionChannels(m, ctx).map((c) => c.entry));
    return [...brokers, ...channels, ...compositions];
  }

  /**
   * The ingress's routing table (clients/routes.ts): every broker whose partitions are configured,
   * with their count (a broker enters it, and a grown count replaces the old one, only once every
   * partition has its configuration), and every webhook source with its spec and sink.
   */
  routes(): RoutingTable {
    const rows = this.sql.exec<{ broker: string; partitions: number }>("SELECT broker, partitions FROM routes").toArray();
    const ctx = this.lastContext();
    const webhooks: RoutingTable["webhooks"] = {};
    // Lowest precedence first, so the kind that wins a shared name is written last.
    for (const kind of [...WEBHOOK_KINDS_BY_PRECEDENCE].reverse()) {
      for (const m of ctx ? this.manifests(kind) : []) {
        webhooks[`${m.metadata.namespace}/${m.metadata.name}`] = { kind, spec: { ...m.spec }, sink: sinkEntry(m, ctx!) };
      }
    }
    const policies = this.manifests("EventPolicy");
    const applying = (m: ResourceRef) => {
      const rules = policies.filter((p) => appliesTo(p, m)).map(policyRule);
      return rules.length > 0 ? { policies: rules } : {};
    };
    const brokers = new Map(this.manifests("Broker").map((b) => [`${b.metadata.namespace}/${b.metadata.name}`, b]));
    const route = (key: string, partitions: number) => {
      const broker = brokers.get(key);
      return { partitions, ...(broker ? applying(broker) : {}) };
    };
    const jobSinks: RoutingTable["jobSinks"] = Object.fromEntries(
      this.jobSinkRuns().map(([m, run]) => [
        `${m.metadata.namespace}/${m.metadata.name}`,
        {
          run,
          ...(m.metadata.annotations?.[JOB_SINK_TOKEN_ANNOTATION] ? { tokenSecret: m.metadata.annotations[JOB_SINK_TOKEN_ANNOTATION] } : {}),
          ...applying(m),
        },
      ]),
    );
    const addresses = Object.fromEntries(
      this.compositions().map((m) => [`${m.metadata.namespace}/${addressChannel(m.kind as CompositionKind, m.metadata.name)}`, applying(m)]),
    );
    const requestReplies = Object.fromEntries(
      this.manifests("RequestReply").map((m) => [`${m.metadata.namespace}/${m.metadata.name}`, { ...requestReplyRoute(m), ...applying(m) }]),
    );
    return { brokers: Object.fromEntries(rows.map((r) => [r.broker, route(r.broker, r.partitions)])), addresses, webhooks, jobSinks, requestReplies };
  }

  /** Add what isolates counted of refused ingress requests: [namespace, broker, code, count] each. */
  countRefusals(batch: [string, string, number, number][]): void {
    this.sql.exec(
      "INSERT INTO ingress_refusals (namespace, broker, code, value) SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3 FROM json_each(?) WHERE true ON CONFLICT DO UPDATE SET value = value + excluded.value",
      JSON.stringify(batch),
    );
  }

  /** Add what isolates counted of Jobs their JobSinks created: [namespace, jobsink, count] each. */
  countJobs(batch: [string, string, number][]): void {
    this.sql.exec(
      "INSERT INTO jobsink_jobs (namespace, name, value) SELECT value ->> 0, value ->> 1, value ->> 2 FROM json_each(?) WHERE true ON CONFLICT DO UPDATE SET value = value + excluded.value",
      JSON.stringify(batch),
    );
  }

  /** Jobs created per JobSink that exists, for /metrics. */
  jobCounts(): JobCountRow[] {
    return this.sql
      .exec<JobCountRow>(
        "SELECT namespace, name AS jobsink, value FROM jobsink_jobs WHERE EXISTS (SELECT 1 FROM resources WHERE kind = 'JobSink' AND resources.namespace = jobsink_jobs.namespace AND resources.name = jobsink_jobs.name) ORDER BY namespace, name",
      )
      .toArray();
  }

  /** Refused ingress requests of the brokers that exist, for /metrics. */
  refusals(): RefusalRow[] {
    return this.sql
      .exec<RefusalRow>(
        "SELECT namespace, broker, code, value FROM ingress_refusals WHERE EXISTS (SELECT 1 FROM resources WHERE kind = 'Broker' AND resources.namespace = ingress_refusals.namespace AND resources.name = ingress_refusals.broker) ORDER BY namespace, broker, code",
      )
      .toArray();
  }

  /** The stored RBAC objects (the authorizer adds the built-in ones). */
  rbac(): RbacSnapshot {
    return {
      roles: this.manifests("Role") as unknown as RoleObject[],
      clusterRoles: this.manifests("ClusterRole") as unknown as RoleObject[],
      roleBindings: this.manifests("RoleBinding") as unknown as BindingObject[],
      clusterRoleBindings: this.manifests("ClusterRoleBinding") as unknown as BindingObject[],
    };
  }

  /** A change made outside apply and delete (a dead letter's redelivery). */
  recordChange(entry: AuditEntry): void {
    this.audit.change(entry);
  }

  /** Isolates' tallies of refused management requests (workers/audit.ts). */
  recordRefusals(batch: RefusalTally[]): void {
    this.audit.refusals(batch);
  }

  auditTrail(query: AuditQuery, limit: number, cursor?: AuditCursor): AuditRow[] {
    return this.audit.list(query, limit, cursor);
  }

  /** Push every broker's configuration again: the cron watchdog's repair for a lost push. */
  /**
   * Push every resource's objects again (KindEntry.objects): the cron watchdog's repair for a lost push.
   * A Replay is started once, when created: it is not started again. Answers how many pushes it made.
   */
  async reconcile(): Promise<number> {
    this.audit.prune();
    const last = this.lastContext();
    if (!last) return 0;
    const ctx = this.withTargets(last);
    let pushed = 0;
    for (const k of KINDS) {
      for (const m of this.manifests(k.kind)) {
        for (const p of k.objects(m).filter((p) => p.to !== "replay")) {
          await this.push(p, ctx);
          pushed++;
        }
      }
    }
    return pushed;
  }

  private refuse(info: KindInfo, name: string | undefined, causes: FieldError[]): ApplyResult {
    return { code: 422, status: invalid(info.kind, name, causes) };
  }

  private manifests<K extends KindName>(kind: K, namespace?: string): Manifest<KindSpecs[K]>[];
  private manifests(kind: string, namespace?: string): Manifest[];
  private manifests(kind: string, namespace?: string) {
    const rows =
      namespace === undefined
        ? this.sql.exec<Row>("SELECT manifest FROM resources WHERE kind = ? ORDER BY namespace, name", kind)
        : this.sql.exec<Row>("SELECT manifest FROM resources WHERE kind = ? AND namespace = ? ORDER BY name", kind, namespace);
    return rows.toArray().map((r) => JSON.parse(r.manifest));
  }

  private read<K extends KindName>(kind: K, namespace: string, name: string): Manifest<KindSpecs[K]> | null;
  private read(kind: string, namespace: string, name: string): Manifest | null;
  private read(kind: string, namespace: string, name: string) {
    const row = this.sql.exec<Row>("SELECT manifest FROM resources WHERE kind = ? AND namespace = ? AND name = ?", kind, namespace, name).toArray()[0];
    return row ? JSON.parse(row.manifest) : null;
  }

  /** The version of the latest change: pushes carry it so that a data-plane object ignores older ones. */
  private version(): number {
    return Number(this.settings.get("resourceVersion") ?? 0);
  }

  private nextVersion(): number {
    const next = this.version() + 1;
    this.settings.put("resourceVersion", String(next));
    return next;
  }

  /** The router's public URL as last seen, so the cron watchdog can resolve destinations too. */
  private remember(ctx: ResolveContext): void {
    this.settings.putJson("context", ctx);
  }

  private lastContext(): ResolveContext | null {
    return this.settings.getJson<ResolveContext>("context");
  }

  private sources(namespace?: string): Manifest<SourceSpec>[] {
    return KINDS.filter((k) => k.source).flatMap((k) => this.manifests(k.kind, namespace));
  }

  private compositions(namespace?: string): Manifest[] {
    return KINDS.filter((k) => k.addressable).flatMap((k) => this.manifests(k.kind, namespace));
  }

  /** The stored resources as a kind's behaviour reads them. */
  private stored(ctx: ResolveContext): StoredResources {
    return {
      ctx,
      read: (kind, namespace, name) => this.read(kind, namespace, name),
      list: (kind, namespace) => this.manifests(kind, namespace),
      sources: (namespace) => this.sources(namespace),
      compositions: (namespace) => this.compositions(namespace),
      partitions: (namespace, broker) => this.route(namespace, broker)?.partitions,
      exists: (kind, namespace, name) => this.read(kind, namespace, name) !== null,
      runnersNaming: (m) =>
        KINDS.filter((k) => k.references && k.runs).flatMap((k) =>
          this.manifests(k.kind, m.metadata.namespace).filter((r) => k.references!(r).some((ref) => ref.kind === m.kind && ref.name === m.metadata.name)),
        ),
      issuers: listedIssuers(this.env.OIDC_ISSUERS),
      env: this.env,
    };
  }

  /**
   * The context with every EventTransform's spec and every JobSink's Job and cluster, so that a destination
   * naming one resolves to what the delivering object runs (shared/resources/destination.ts).
   */
  private withTargets(ctx: ResolveContext): ResolveContext {
    const key = (m: Pick<Manifest, "metadata">) => `${m.metadata.namespace}/${m.metadata.name}`;
    const transforms = this.manifests("EventTransform");
    return {
      ...ctx,
      transforms: Object.fromEntries(transforms.map((t) => [key(t), transformSpecOf(t, ctx)])),
      jobSinks: Object.fromEntries(this.jobSinkRuns().map(([m, run]) => [key(m), run])),
    };
  }

  private jobSinkRuns() {
    return this.manifests("JobSink").map((m) => [m, jobSinkRun(m, this.read("KubernetesCluster", m.metadata.namespace!, jobSinkCluster(m)))] as const);
  }

  /** Reconcile the data plane after a change of `m` (stored, or deleted when it is no longer stored): what depends on it, then its own objects. */
  private async propagate(m: Manifest, unbound: ResolveContext): Promise<void> {
    const info = kindByName(m.kind)!;
    const ctx = this.withTargets(unbound);
    for (const p of [...(info.dependents?.(m, this.stored(ctx)) ?? []), ...info.objects(m)]) await this.push(p, ctx);
  }

  /** Configure one data-plane object from what is stored now. */
  private async push(p: Push, ctx: ResolveContext): Promise<void> {
    switch (p.to) {
      case "broker":
        return this.pushBroker(p.namespace, p.name, ctx);
      case "channels":
        return this.pushChannel(p.source, ctx);
      case "composition":
        return this.pushComposition(p.resource, ctx);
      case "runner":
        return this.pushRunner(p.resource, ctx);
      case "replay":
        return pushReplay(
          this.env,
          p.replay,
          this.read(p.replay.kind, p.replay.metadata.namespace!, p.replay.metadata.name) !== null,
          this.partitionsOf(p.replay),
        );
    }
  }

  /** The partitions of a Replay's broker. */
  private partitionsOf(replay: Manifest<ReplaySpec>): number {
    return this.route(replay.metadata.namespace!, replay.spec.broker)?.partitions ?? 1;
  }

  /**
   * Hand a runner kind's current manifest (or null once deleted) to the objects that run it: one, or one
   * per consumer of a KafkaSource; consumers beyond a lowered count are stopped.
   */
  private async pushRunner(m: ResourceRef, ctx: ResolveContext): Promise<void> {
    const ns = m.metadata.namespace!;
    const stored = this.read(m.kind, ns, m.metadata.name);
    const sink = stored && kindByName(m.kind)?.source ? sinkEntry(stored, ctx) : undefined;
    const key = `runners/${runnerKey(m.kind, ns, m.metadata.name)}`;
    // A resource that names one that is missing does not run (its status says which).
    const named = stored ? (kindByName(m.kind)?.references?.(stored) ?? []).map((r) => this.read(r.kind, ns, r.name)) : [];
    const runs = stored && !named.includes(null) ? stored : null;
    const cluster = named.find((r) => r?.kind === "KubernetesCluster");
    const count = runs ? runnerCount(runs) : 0;
    const was = Number(this.settings.get(key) ?? 1);
    await Promise.all(
      Array.from({ length: Math.max(count, was, 1) }, (_, i) =>
        runnerStub(this.env, m.kind, ns, m.metadata.name, i).configure(
          runs && i < count ? { manifest: runs, sink, ctx, ...(cluster ? { cluster: clusterOf(cluster) } : {}), ...(i > 0 ? { consumer: i } : {}) } : null,
        ),
      ),
    );
    if (runs) this.settings.put(key, String(count));
    else this.settings.delete(key);
  }

  /**
   * A composition's channels: configured while it exists, cleared otherwise. The names configured last are
   * kept, so that channels a shorter Sequence or a Parallel with fewer branches no longer needs are cleared.
   */
  private async pushComposition(m: ResourceRef, ctx: ResolveContext): Promise<void> {
    const ns = m.metadata.namespace!;
    const stored = this.read(m.kind, ns, m.metadata.name);
    const channels = stored ? compositionChannels(stored, ctx) : [];
    const key = `channels/${m.kind}/${ns}/${m.metadata.name}`;
    const names = new Set(channels.map((c) => c.entry.name));
    const stale = (this.settings.getJson<string[]>(key) ?? []).filter((n) => !names.has(n));
    const version = this.version();
    await Promise.all([
      ...channels.map((c) => partitionStub(this.env, ns, c.entry.name, 0).configure(c.config, version)),
      ...stale.map((n) => partitionStub(this.env, ns, n, 0).configure(null, version)),
    ]);
    if (stored) this.settings.putJson(key, [...names]);
    else this.settings.delete(key);
  }

  /** A source's channels: configured while the source exists and needs them, cleared otherwise. */
  private async pushChannel(source: Manifest<SourceSpec>, ctx: ResolveContext): Promise<void> {
    const stored: Manifest<SourceSpec> | null = this.read(source.kind, source.metadata.namespace!, source.metadata.name);
    const activator = this.gates(source.metadata.namespace!).get(`${source.kind}/${source.metadata.name}`);
    for (const { entry, config } of sourceChannels(stored ?? source, stored ? ctx : null, activator ? { scaledObject: activator } : undefined)) {
      await partitionStub(this.env, entry.namespace, entry.name, 0).configure(config, this.version());
    }
  }

  /**
   * Configure every partition of a broker, then publish its route. Growth is ordered so that at every
   * moment exactly one partition accepts a given event: the new partitions are configured first (nothing
   * routes to them yet), then the existing ones learn the new count (from then on they refuse the events
   * that moved, 421), and only then does the routing table send those events to their new owners. Jump
   * hashing moves events only to new partitions, so an existing partition never gains an event.
   */
  private async pushBroker(namespace: string, name: string, ctx: ResolveContext): Promise<void> {
    const key = `${namespace}/${name}`;
    const route = this.route(namespace, name);
    const config = this.brokerConfig(namespace, name, ctx);
    const version = this.version();
    const configure = (i: number, c: BrokerConfig | null) => partitionStub(this.env, namespace, name, i).configure(c, version);
    if (!config) {
      this.sql.exec("DELETE FROM routes WHERE broker = ?", key);
      this.sql.exec("DELETE FROM ingress_refusals WHERE namespace = ? AND broker = ?", namespace, name);
      await Promise.all(range(0, route?.partitions ?? 1).map((i) => configure(i, null)));
      return;
    }
    const was = route?.partitions ?? 0;
    const now = Date.now();
    const count = Math.max(partitionCount(this.read("Broker", namespace, name)!), was);
    const previous = (route?.previous ?? []).filter((p) => p.until > now);
    if (route && count > was) previous.push({ count: was, until: now + config.dedupWindowMs });
    // The backlog limit is the broker's: each partition holds its share.
    const of = (index: number): BrokerConfig => ({ ...config, backlogLimit: Math.ceil(config.backlogLimit / count), partition: { index, count, previous } });
    await Promise.all(range(was, count).map((i) => configure(i, of(i))));
    await Promise.all(range(0, Math.min(was, count)).map((i) => configure(i, of(i))));
    this.sql.exec("INSERT OR REPLACE INTO routes (broker, partitions, previous) VALUES (?, ?, ?)", key, count, JSON.stringify(previous));
  }

  private route(namespace: string, name: string): { partitions: number; previous: PartitionIdentity["previous"] } | null {
    const row = this.sql
      .exec<{ partitions: number; previous: string }>("SELECT partitions, previous FROM routes WHERE broker = ?", `${namespace}/${name}`)
      .toArray()[0];
    return row ? { partitions: row.partitions, previous: JSON.parse(row.previous) } : null;
  }

  private brokerConfig(namespace: string, name: string, ctx: ResolveContext): BrokerConfig | null {
    const broker = this.read("Broker", namespace, name);
    if (!broker) return null;
    const triggers = this.manifests("Trigger", namespace).filter((t) => t.spec.broker === name);
    const dls = broker.spec.delivery?.deadLetterSink;
    const gates = this.gates(namespace);
    const requestReplies = this.manifests("RequestReply", namespace)
      .filter((m) => m.spec.brokerRef.name === name)
      .map((m) => ({ name: m.metadata.name, ...requestReplyRoute(m) }));
    return {
      namespace,
      name,
      ...brokerSettings(broker),
      ...(requestReplies.length > 0 ? { requestReplies } : {}),
      delivery: broker.spec.delivery,
      deadLetter: dls ? resolveDestination(dls, namespace, ctx) : undefined,
      triggers: triggers.map((t) => {
        const tdls = t.spec.delivery?.deadLetterSink;
        const subscriber = resolveDestination(t.spec.subscriber, namespace, ctx, t.metadata.annotations);
        return {
          name: t.metadata.name,
          uid: t.metadata.uid!,
          filter: { filter: t.spec.filter, filters: t.spec.filters },
          subscriber,
          subscriberUri: targetUrl(subscriber, ctx.baseUrl),
          delivery: t.spec.delivery,
          deadLetter: tdls ? resolveDestination(tdls, namespace, ctx) : undefined,
          ...triggerSettings(t),
          ...(gates.has(`Trigger/${name}/${t.metadata.name}`) ? { activator: { scaledObject: gates.get(`Trigger/${name}/${t.metadata.name}`)! } } : {}),
        };
      }),
    };
  }

  /** What the namespace's ScaledObjects gate (shared/autoscaling/scaled-object.ts `gatedBy`). */
  private gates(namespace: string): Map<string, string> {
    return gatedBy(this.manifests("ScaledObject", namespace));
  }

  /** Knative-style status, computed from the current state of the resources it depends on (KindEntry.status). */
  private withStatus(m: Manifest, ctx: ResolveContext): Manifest {
    if (kindByName(m.kind)?.body) return m;
    return { ...m, status: { observedGeneration: m.metadata.generation, ...kindByName(m.kind)?.status?.(m, this.stored(ctx)) } };
  }
}

/** What a kind's manifest holds besides its envelope: `spec`, or the top-level fields of its `body`. */
function contentOf(info: KindInfo, m: Manifest): Record<string, unknown> {
  if (!info.body) return { spec: m.spec ?? {} };
  const fields = m as unknown as Record<string, unknown>;
  return Object.fromEntries(info.body.filter((f) => fields[f] !== undefined).map((f) => [f, fields[f]]));
}

/** The audit entry of a change, with the object's name (a POST names it in the body) and the answer's code. */
function audited(entry: AuditEntry, name: string, code: number): AuditEntry {
  return { ...entry, ...(entry.objectRef ? { objectRef: { ...entry.objectRef, name } } : {}), code };
}

function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(to - from, 0) }, (_, i) => from + i);
}
