/**
 * `describe KIND [NAME]`: a resource as a person reads it (metadata, spec, conditions), and for brokers
 * and triggers the delivery counters from the broker's metrics subresource.
 */
import { stringify as toYaml } from "yaml";
import { type Api, apiFor } from "./api.ts";
import { parse } from "./args.ts";
import { type Resource, table } from "./format.ts";
import type { Command } from "./io.ts";
import { collectionPath, objectPath, resolveKind } from "./kinds.ts";
import { brokerSubresource, type BrokerMetrics, type PartitionedMetrics } from "../../shared/resources/broker-api.ts";

export const describe: Command = {
  usage: "describe KIND [NAME] [-n NAMESPACE]",
  async run(args, cli) {
    const { values, positionals } = parse(args, {}, { min: 1, max: 2 });
    const kind = resolveKind(positionals[0]);
    const api = apiFor(values, cli);
    const items = positionals[1]
      ? [(await api.call<Resource>("GET", objectPath(kind, api.ctx.namespace, positionals[1]))).body]
      : (await api.call<{ items: Resource[] }>("GET", collectionPath(kind, api.ctx.namespace))).body.items;
    const texts = [];
    for (const r of items) texts.push(describeResource(r, await deliveryOf(api, r)));
    cli.io.out(texts.join("\n\n"));
    return 0;
  },
};

/** The broker's counters for a Broker or a Trigger; null for other kinds. */
async function deliveryOf(api: Api, r: Resource): Promise<{ metrics: BrokerMetrics; trigger?: string } | null> {
  const ns = r.metadata.namespace ?? api.ctx.namespace;
  if (r.kind === "Broker") return { metrics: (await api.call<BrokerMetrics>("GET", brokerSubresource(ns, r.metadata.name, "metrics"))).body };
  if (r.kind !== "Trigger" || typeof r.spec?.broker !== "string") return null;
  try {
    return { metrics: (await api.call<BrokerMetrics>("GET", brokerSubresource(ns, r.spec.broker, "metrics"))).body, trigger: r.metadata.name };
  } catch {
    return null; // the trigger's broker does not exist: its Ready condition already says so
  }
}

const indent = (text: string, by: string) =>
  text
    .trimEnd()
    .split("\n")
    .map((l) => `${by}${l}`)
    .join("\n");
const pairs = (map: Record<string, string> | undefined) =>
  map && Object.keys(map).length > 0
    ? Object.entries(map)
        .map(([k, v]) => `${k}=${v}`)
        .join("\n              ")
    : "<none>";

export function describeResource(r: Resource, delivery: { metrics: BrokerMetrics; trigger?: string } | null): string {
  const { conditions, ...restStatus } = r.status ?? {};
  const lines = [
    `Name:         ${r.metadata.name}`,
    `Namespace:    ${r.metadata.namespace ?? ""}`,
    `API Version:  ${r.apiVersion ?? ""}`,
    `Kind:         ${r.kind ?? ""}`,
    `Labels:       ${pairs(r.metadata.labels)}`,
    `Annotations:  ${pairs(r.metadata.annotations)}`,
    `Created:      ${r.metadata.creationTimestamp ?? "<unknown>"}`,
    "Spec:",
    r.spec && Object.keys(r.spec).length > 0 ? indent(toYaml(r.spec, { lineWidth: 0 }), "  ") : "  <none>",
    "Status:",
  ];
  lines.splice(lines.indexOf("Status:"), 0, ...flowLines(r), ...policyLines(r));
  const extra = Object.fromEntries(Object.entries(restStatus).filter(([, v]) => v !== undefined));
  if (Object.keys(extra).length > 0) lines.push(indent(toYaml(extra, { lineWidth: 0 }), "  "));
  lines.push("  Conditions:");
  lines.push(
    conditions?.length
      ? indent(
          table(
            ["TYPE", "STATUS", "REASON", "MESSAGE"],
            conditions.map((c) => [c.type, c.status, c.reason ?? "", c.message ?? ""]),
          ),
          "    ",
        )
      : "    <none>",
  );
  if (delivery) lines.push(...deliveryLines(delivery.metrics, delivery.trigger));
  return `${lines.join("\n")}\n`;
}

type Dest = { uri?: string; ref?: { kind?: string; name?: string } };
const dest = (d: Dest | undefined) => (d?.ref ? `${String(d.ref.kind).toLowerCase()}/${d.ref.name}${d.uri ? ` ${d.uri}` : ""}` : (d?.uri ?? "<none>"));

/** A Sequence's steps and a Parallel's branches as one line each, the way events take them. */
function flowLines(r: Resource): string[] {
  const spec = (r.spec ?? {}) as { steps?: Dest[]; branches?: { filter?: Dest; subscriber?: Dest; reply?: Dest }[]; reply?: Dest };
  const reply = `  Reply:    ${dest(spec.reply)}`;
  if (r.kind === "Sequence") return ["Flow:", ...(spec.steps ?? []).map((s, i) => `  Step ${i}:   ${dest(s)}`), reply];
  if (r.kind !== "Parallel") return [];
  const branch = (b: { filter?: Dest; subscriber?: Dest; reply?: Dest }, i: number) =>
    `  Branch ${i}: ${b.filter ? `filter ${dest(b.filter)} -> ` : ""}${dest(b.subscriber)}${b.reply ? ` -> reply ${dest(b.reply)}` : ""}`;
  return ["Flow:", ...(spec.branches ?? []).map(branch), reply];
}

/** A Broker's applying EventPolicies (status.policies): with any, its ingress takes only the senders they allow. */
function policyLines(r: Resource): string[] {
  if (r.kind !== "Broker") return [];
  const applied = ((r.status as { policies?: { name: string }[] } | undefined)?.policies ?? []).map((p) => p.name);
  const audience = (r.status?.address as { audience?: string } | undefined)?.audience;
  return [`Policies:     ${applied.length > 0 ? `${applied.join(", ")} (senders need an OIDC token for audience ${audience})` : "<none>"}`];
}

function deliveryLines(m: BrokerMetrics, trigger: string | undefined): string[] {
  const count = (t: string, name: string) => m.counters.find((c) => c.trigger === t && c.name === name)?.value ?? 0;
  if (trigger === undefined) {
    const parts = (m as PartitionedMetrics).byPartition;
    const partitions = parts
      ? [`  Partitions:         ${parts.length}`, ...parts.map((p) => `    ${String(p.partition).padEnd(18)}backlog ${p.backlog}, dead letters ${p.dead}`)]
      : [];
    return [
      "Delivery:",
      `  Accepted:           ${count("", "accepted")}`,
      `  Backlog:            ${m.backlog}`,
      `  Dead letters kept:  ${m.dead}`,
      ...partitions,
    ];
  }
  return [
    "Delivery:",
    ...(["matched", "delivered", "retried", "deadlettered", "failed", "dropped"] as const).map(
      (n) => `  ${`${n[0].toUpperCase()}${n.slice(1)}:`.padEnd(20)}${count(trigger, n)}`,
    ),
    `  ${"In flight:".padEnd(20)}${m.inflight[trigger] ?? 0}`,
  ];
}
