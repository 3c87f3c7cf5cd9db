/** The ControlPlane object's calls (durable-objects/control-plane.ts): one for the whole router, named "control". */
import type { JobCountRow, RefusalRow } from "../metrics/prometheus.ts";
import type { ResolveContext } from "../resources/destination.ts";
import type { Manifest } from "../resources/manifest.ts";
import type { SinkEntry } from "../resources/sources.ts";
import type { KubeStatus } from "../resources/status.ts";
import type { RoutingTable } from "./routing.ts";
import type { AuditCursor, AuditEntry, AuditQuery, AuditRow, RefusalTally } from "../audit/trail.ts";
import type { RbacSnapshot } from "../rbac/authorizer.ts";

export type ApplyResult = { code: 200 | 201; object: Manifest } | { code: number; status: KubeStatus };

/** How a write is made, as Kubernetes' write options say it. */
export interface WriteOptions {
  /** `?fieldManager=`: who owns the fields this write changes. */
  manager: string;
  /** Server-side apply: the caller computed `metadata.managedFields` (shared/kube-api/field-managers.ts). */
  applied?: boolean;
  /** `?dryRun=All`: validate and answer, store and push nothing. */
  dryRun?: boolean;
  /** Refuse with 409 unless the stored object has this resourceVersion (a PATCH computed from it). */
  expect?: string;
  /** Who asks: a change is recorded in the audit trail with the change (its code and name filled in there). */
  audit?: AuditEntry;
}

export interface ControlPlaneRpc {
  /** Create (`post`) or create-or-replace (`put`) a resource; nothing is stored when it is invalid. */
  apply(
    kind: string,
    namespace: string,
    body: unknown,
    mode: "put" | "post",
    ctx: ResolveContext,
    pathName: string | undefined,
    options: WriteOptions,
  ): Promise<ApplyResult>;
  get(kind: string, namespace: string, name: string, ctx: ResolveContext): Promise<Manifest | null>;
  /** Resources of a kind in one namespace, or in all namespaces when `namespace` is undefined. */
  list(kind: string, namespace: string | undefined, ctx: ResolveContext): Promise<Manifest[]>;
  /** Delete a resource; `audit` records who did, with the deletion. */
  delete(kind: string, namespace: string, name: string, ctx: ResolveContext, audit?: AuditEntry): Promise<Manifest | null>;
  /** Every broker object in use: brokers with their partition counts, and the router's channels. */
  dataPlane(ctx: ResolveContext): (SinkEntry & { partitions?: number })[];
  /** The ingress's routing table. */
  routes(): RoutingTable;
  /** Add what isolates counted of refused ingress requests: [namespace, broker, code, count] each. */
  countRefusals(batch: [string, string, number, number][]): void;
  /** Refused ingress requests of the brokers that exist, for /metrics. */
  refusals(): RefusalRow[];
  /** Add what isolates counted of Jobs their JobSinks created: [namespace, jobsink, count] each. */
  countJobs(batch: [string, string, number][]): void;
  /** Jobs created per JobSink that exists, for /metrics. */
  jobCounts(): JobCountRow[];
  /** Push every configuration again (the cron watchdog), and prune the audit trail; how many resources were pushed. */
  reconcile(): Promise<number>;
  /** The stored RBAC objects (the authorizer adds the built-in ones). */
  rbac(): RbacSnapshot;
  /** A change made outside apply and delete (a dead letter's redelivery), for the audit trail. */
  recordChange(entry: AuditEntry): void;
  /** Isolates' tallies of refused management requests. */
  recordRefusals(batch: RefusalTally[]): void;
  /** A page of the audit trail, newest first. */
  auditTrail(query: AuditQuery, limit: number, cursor?: AuditCursor): AuditRow[];
}
