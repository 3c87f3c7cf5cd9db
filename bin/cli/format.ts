/** kubectl-style output: aligned tables, ages, Ready columns, and `-o yaml|json`. */
import { stringify as toYaml } from "yaml";

export interface Resource {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace?: string; creationTimestamp?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: Record<string, unknown>;
  status?: { conditions?: Condition[]; address?: { url?: string }; subscriberUri?: string; sinkUri?: string; [k: string]: unknown };
}

export interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
}

/** Columns padded to the widest cell, three spaces apart, as kubectl prints them. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i])))
      .join("   ")
      .trimEnd();
  return [line(header), ...rows.map(line)].map((l) => `${l}\n`).join("");
}

/** kubectl's short age: 45s, 12m, 3h, 5d. */
export function age(timestamp: string | undefined, now: number): string {
  const t = timestamp ? Date.parse(timestamp) : NaN;
  if (Number.isNaN(t)) return "<unknown>";
  const s = Math.max(0, Math.floor((now - t) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  if (s < 172800) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

export function readyOf(r: Resource): Condition | undefined {
  return r.status?.conditions?.find((c) => c.type === "Ready");
}

/** The kind-specific columns Knative's printer columns show (URL, BROKER, SUBSCRIBER_URI, SINK). */
function kindColumns(r: Resource): [string, string][] {
  // Every addressable kind (Broker, EventTransform, Sequence, Parallel, RequestReply...) shows its URL.
  if (r.status?.address !== undefined) return [["URL", r.status.address.url ?? ""]];
  switch (r.kind) {
    case "KubernetesCluster":
      return [["URL", String(r.spec?.url ?? "")]];
    case "Trigger":
      return [
        ["BROKER", String(r.spec?.broker ?? "")],
        ["SUBSCRIBER_URI", r.status?.subscriberUri ?? ""],
      ];
    case "Replay":
      return [
        ["BROKER", String(r.spec?.broker ?? "")],
        ["MATCHED", String(r.status?.matched ?? "")],
        ["DELIVERED", String(r.status?.delivered ?? "")],
        ["FAILED", String(r.status?.failed ?? "")],
      ];
    case "ScaledObject": {
      const target = r.spec?.scaleTargetRef as { name?: string } | undefined;
      return [
        ["SCALETARGETNAME", target?.name ?? ""],
        ["MIN", String(r.spec?.minReplicaCount ?? "")],
        ["MAX", String(r.spec?.maxReplicaCount ?? "")],
      ];
    }
    default:
      return r.spec && "sink" in r.spec ? [["SINK", r.status?.sinkUri ?? sinkText(r.spec.sink)]] : [];
  }
}

function sinkText(sink: unknown): string {
  const s = sink as { uri?: string; ref?: { kind?: string; name?: string } } | undefined;
  if (s?.uri) return s.uri;
  return s?.ref ? `${s.ref.kind ?? ""}/${s.ref.name ?? ""}` : "";
}

/** What `-o wide` adds: the Ready message and, for triggers, their filter in one line. */
function wideColumns(r: Resource): [string, string][] {
  const cols: [string, string][] = [];
  if (r.kind === "Trigger") cols.push(["FILTER", filterSummary(r.spec)]);
  cols.push(["MESSAGE", readyOf(r)?.message ?? ""]);
  return cols;
}

function filterSummary(spec: Record<string, unknown> | undefined): string {
  const filters = spec?.filters;
  if (Array.isArray(filters) && filters.length > 0) return JSON.stringify(filters);
  const attrs = (spec?.filter as { attributes?: Record<string, string> } | undefined)?.attributes;
  return attrs && Object.keys(attrs).length > 0
    ? Object.entries(attrs)
        .map(([k, v]) => `${k}=${v}`)
        .join(",")
    : "<all>";
}

/** The `get` table; `allNamespaces` adds NAMESPACE first, `wide` adds FILTER/MESSAGE last. */
export function resourceTable(items: Resource[], opts: { wide: boolean; allNamespaces: boolean; now: number }): string {
  if (items.length === 0) return "";
  const rowOf = (r: Resource): [string, string][] => {
    const ready = readyOf(r);
    return [
      ...(opts.allNamespaces ? ([["NAMESPACE", r.metadata.namespace ?? ""]] as [string, string][]) : []),
      ["NAME", r.metadata.name],
      ...kindColumns(r),
      ["AGE", age(r.metadata.creationTimestamp, opts.now)],
      ["READY", ready?.status ?? "Unknown"],
      ["REASON", ready?.status === "True" ? "" : (ready?.reason ?? "")],
      ...(opts.wide ? wideColumns(r) : []),
    ];
  };
  const rows = items.map(rowOf);
  return table(
    rows[0].map(([h]) => h),
    rows.map((r) => r.map(([, v]) => v)),
  );
}

export function render(value: unknown, format: "yaml" | "json"): string {
  return format === "json" ? `${JSON.stringify(value, null, 2)}\n` : toYaml(value, { lineWidth: 0 });
}
