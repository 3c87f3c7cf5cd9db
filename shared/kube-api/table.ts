/**
 * Kubernetes' Table rendering (`Accept: application/json;as=Table;v=v1;g=meta.k8s.io`), which `kubectl get`
 * asks for, with the printer columns of Knative's and KEDA's CRDs: a user sees the columns they see
 * against a cluster. Kinds without their own columns get Knative's READY, REASON and AGE.
 */
import type { KindName } from "../resources/kinds.ts";
import type { Condition, Manifest } from "../resources/manifest.ts";

interface Column {
  name: string;
  type: "string" | "integer" | "date";
  description: string;
  cell: (m: Manifest, nowMs: number) => unknown;
  /** kubectl shows priority 0 always and higher ones with `-o wide`. */
  priority?: number;
}

const status = (m: Manifest) => (m.status ?? {}) as Record<string, unknown>;
/** A ScaledObject's `status.activation` (shared/autoscaling/activator.ts). */
const activation = (m: Manifest) => (status(m).activation ?? {}) as { state?: string; held?: number; inFlight?: number };
const ready = (m: Manifest) => ((status(m).conditions as Condition[] | undefined) ?? []).find((c) => c.type === "Ready");
const condition = (m: Manifest, type: string) => ((status(m).conditions as Condition[] | undefined) ?? []).find((c) => c.type === type)?.status ?? "";
const spec = (m: Manifest) => m.spec as Record<string, unknown>;

const READY: Column = { name: "Ready", type: "string", description: "the Ready condition", cell: (m) => ready(m)?.status ?? "Unknown" };
const REASON: Column = {
  name: "Reason",
  type: "string",
  description: "why it is not Ready",
  cell: (m) => (ready(m)?.status === "True" ? "" : (ready(m)?.reason ?? "")),
};
const AGE: Column = {
  name: "Age",
  type: "date",
  description: "time since creation",
  cell: (m, now) => (m.metadata.creationTimestamp ? humanDuration(now - Date.parse(m.metadata.creationTimestamp)) : "<unknown>"),
};
const SINK: Column = { name: "Sink", type: "string", description: "where the source sends its events", cell: (m) => status(m).sinkUri ?? "" };

const ADDRESS: Column = {
  name: "URL",
  type: "string",
  description: "the address that takes events",
  cell: (m) => (status(m).address as { url?: string } | undefined)?.url ?? "",
};

const ROLE_REF: Column = {
  name: "Role",
  type: "string",
  description: "the role it binds",
  cell: (m) => {
    const r = (m as unknown as { roleRef?: { kind: string; name: string } }).roleRef;
    return r ? `${r.kind}/${r.name}` : "";
  },
};
const CREATED_AT: Column = { name: "Created At", type: "date", description: "when it was created", cell: (m) => m.metadata.creationTimestamp ?? "" };
/** An audit event's field (shared/audit/trail.ts auditItem). */
const audit = (m: Manifest) =>
  m as unknown as {
    verb: string;
    user: { username: string };
    objectRef?: { resource: string; subresource?: string; name?: string };
    requestURI: string;
    responseStatus: { code: number };
    count?: number;
  };

/** Columns by kind; the audit trail's AuditEvent is served like a kind (workers/audit.ts). */
const COLUMNS: Partial<Record<KindName | "AuditEvent", Column[]>> = {
  Role: [CREATED_AT],
  ClusterRole: [CREATED_AT],
  RoleBinding: [ROLE_REF, AGE],
  ClusterRoleBinding: [ROLE_REF, AGE],
  AuditEvent: [
    AGE,
    { name: "User", type: "string", description: "who asked", cell: (m) => audit(m).user.username },
    { name: "Verb", type: "string", description: "what they asked", cell: (m) => audit(m).verb },
    {
      name: "Resource",
      type: "string",
      description: "the resource, or the path",
      cell: (m) => {
        const o = audit(m).objectRef;
        return o ? o.resource + (o.subresource ? `/${o.subresource}` : "") : audit(m).requestURI;
      },
    },
    { name: "Object", type: "string", description: "the object's name", cell: (m) => audit(m).objectRef?.name ?? "" },
    { name: "Code", type: "integer", description: "the answer's status code", cell: (m) => audit(m).responseStatus.code },
    { name: "Count", type: "integer", description: "refusals aggregated in this row", cell: (m) => audit(m).count ?? 1 },
  ],
  Broker: [ADDRESS, AGE, READY, REASON],
  EventTransform: [ADDRESS, AGE, READY, REASON],
  Sequence: [ADDRESS, AGE, READY, REASON],
  Parallel: [ADDRESS, AGE, READY, REASON],
  JobSink: [ADDRESS, AGE, READY, REASON],
  KubernetesCluster: [{ name: "URL", type: "string", description: "the Kubernetes API server", cell: (m) => spec(m).url ?? "" }, AGE],
  RequestReply: [ADDRESS, AGE, READY, REASON],
  Trigger: [
    { name: "Broker", type: "string", description: "the broker it subscribes to", cell: (m) => spec(m).broker ?? "" },
    { name: "Subscriber_URI", type: "string", description: "where matching events go", cell: (m) => status(m).subscriberUri ?? "" },
    AGE,
    READY,
    REASON,
  ],
  PingSource: [SINK, { name: "Schedule", type: "string", description: "cron schedule", cell: (m) => spec(m).schedule ?? "" }, AGE, READY, REASON],
  KafkaSource: [
    { name: "Topics", type: "string", description: "topics read", cell: (m) => [spec(m).topics ?? []].flat().join(",") },
    {
      name: "BootstrapServers",
      type: "string",
      description: "as the manifest gives them (the router reads through spec.bridge)",
      cell: (m) => [spec(m).bootstrapServers ?? []].flat().join(","),
      priority: 1,
    },
    SINK,
    AGE,
    READY,
    REASON,
  ],
  GitHubSource: [SINK, AGE, READY, REASON],
  WebhookSource: [SINK, AGE, READY, REASON],
  RocketMQSource: [SINK, AGE, READY, REASON],
  MNSSource: [SINK, AGE, READY, REASON],
  RedisStreamSource: [SINK, AGE, READY, REASON],
  ScaledObject: [
    { name: "ScaleTargetKind", type: "string", description: "the workload's kind", cell: (m) => status(m).scaleTargetKind ?? "" },
    {
      name: "ScaleTargetName",
      type: "string",
      description: "the workload",
      cell: (m) => (spec(m).scaleTargetRef as { name?: string } | undefined)?.name ?? "",
    },
    { name: "Min", type: "integer", description: "minReplicaCount", cell: (m) => spec(m).minReplicaCount ?? "" },
    { name: "Max", type: "integer", description: "maxReplicaCount", cell: (m) => spec(m).maxReplicaCount ?? "" },
    { name: "Ready", type: "string", description: "the Ready condition", cell: (m) => condition(m, "Ready") },
    { name: "Active", type: "string", description: "the Active condition", cell: (m) => condition(m, "Active") },
    { name: "ReadyReplicas", type: "integer", description: "pods of the target ready to serve", cell: (m) => status(m).readyReplicas ?? "" },
    {
      name: "Activation",
      type: "string",
      description: "the activator: Activating, Active, Idle or TimedOut",
      cell: (m) => activation(m).state ?? "",
      priority: 1,
    },
    {
      name: "Held",
      type: "integer",
      description: "deliveries waiting for a ready replica or for capacity",
      cell: (m) => activation(m).held ?? "",
      priority: 1,
    },
    { name: "InFlight", type: "integer", description: "deliveries in flight to the target", cell: (m) => activation(m).inFlight ?? "", priority: 1 },
    AGE,
  ],
};

export type IncludeObject = "None" | "Metadata" | "Object";

/** What `includeObject` asks for (kubectl sends Metadata). */
export function includeObjectOf(param: string | undefined): IncludeObject {
  return param === "None" || param === "Object" ? param : "Metadata";
}

/** The table of `items` of one kind, in Kubernetes' meta.k8s.io/v1 Table form. */
export function toTable(kind: string, items: Manifest[], include: IncludeObject, resourceVersion: string, nowMs = Date.now()) {
  const columns = COLUMNS[kind as KindName | "AuditEvent"] ?? [AGE, READY, REASON];
  return {
    kind: "Table",
    apiVersion: "meta.k8s.io/v1",
    metadata: { resourceVersion },
    columnDefinitions: [
      { name: "Name", type: "string", format: "name", description: "the object's name", priority: 0 },
      ...columns.map((c) => ({ name: c.name, type: c.type, format: "", description: c.description, priority: c.priority ?? 0 })),
    ],
    rows: items.map((m) => ({
      cells: [m.metadata.name, ...columns.map((c) => c.cell(m, nowMs))],
      ...(include === "None"
        ? {}
        : { object: include === "Object" ? m : { kind: "PartialObjectMetadata", apiVersion: "meta.k8s.io/v1", metadata: m.metadata } }),
    })),
  };
}

/** Whether an Accept header asks for a Table (kubectl lists the Table first, then plain JSON). */
export function wantsTable(accept: string | undefined): boolean {
  return (accept ?? "").split(",").some((part) => {
    const params = part.split(";").map((p) => p.trim());
    return params.includes("as=Table") && params.includes("g=meta.k8s.io");
  });
}

/** An age as Kubernetes prints it (apimachinery's HumanDuration): `45s`, `5m10s`, `3h`, `2d4h`, `1y30d`. */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < -1) return "<invalid>";
  if (seconds < 0) return "0s";
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  const both = (a: number, ua: string, b: number, ub: string) => (b === 0 ? `${a}${ua}` : `${a}${ua}${b}${ub}`);
  if (minutes < 10) return both(minutes, "m", seconds % 60, "s");
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 8) return both(hours, "h", minutes % 60, "m");
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8) return both(Math.floor(hours / 24), "d", hours % 24, "h");
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24)}d`;
  if (hours < 24 * 365 * 8) return both(Math.floor(hours / 24 / 365), "y", Math.floor(hours / 24) % 365, "d");
  return `${Math.floor(hours / 24 / 365)}y`;
}
