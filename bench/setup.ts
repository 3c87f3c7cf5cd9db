/** Brokers and triggers for a scenario, applied through the management API like any user would. */
import { ADMIN_TOKEN } from "./runtime.ts";

export const NAMESPACE = "bench";
const headers = { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" };

export async function put(router: string, plural: string, name: string, manifest: { apiVersion: string; [field: string]: unknown }): Promise<void> {
  const res = await fetch(`${router}/apis/${manifest.apiVersion}/namespaces/${NAMESPACE}/${plural}/${name}`, {
    method: "PUT",
    headers,
    body: JSON.stringify(manifest),
  });
  if (res.status !== 200 && res.status !== 201) throw new Error(`PUT ${plural}/${name}: ${res.status} ${await res.text()}`);
}

/**
 * A broker with `triggers` triggers that all match every event, trigger i delivering to `${subscriber}${path}/${i}`.
 * Returns the broker's ingress URL.
 */
export async function brokerWithTriggers(
  router: string,
  o: { broker: string; triggers: number; subscriber: string; path: string; parallelism?: number; partitions?: number; annotations?: Record<string, string> },
): Promise<string> {
  const partitions = { ...(o.partitions ? { "edge-eventing.dev/partitions": String(o.partitions) } : {}), ...o.annotations };
  await put(router, "brokers", o.broker, {
    apiVersion: "eventing.knative.dev/v1",
    kind: "Broker",
    metadata: { name: o.broker, annotations: { "edge-eventing.dev/backlog-limit": "1000000", ...partitions } },
    spec: {},
  });
  for (let i = 0; i < o.triggers; i++) {
    const annotations = o.parallelism ? { "edge-eventing.dev/parallelism": String(o.parallelism) } : {};
    await put(router, "triggers", `${o.broker}-${i}`, {
      apiVersion: "eventing.knative.dev/v1",
      kind: "Trigger",
      metadata: { name: `${o.broker}-${i}`, annotations },
      spec: { broker: o.broker, subscriber: { uri: `${o.subscriber}${o.path}/${i}` } },
    });
  }
  return `${router}/${NAMESPACE}/${o.broker}`;
}

/** A binary-mode event; ids are unique per run so the dedup window never folds two apart. */
export function binaryEvent(id: string): RequestInit {
  return {
    method: "POST",
    headers: { "ce-specversion": "1.0", "ce-id": id, "ce-source": "/bench", "ce-type": "dev.edge-eventing.bench", "content-type": "application/json" },
    body: '{"order":1234,"amount":42.5,"currency":"EUR"}',
  };
}

/** A batch of `n` structured events. */
export function batchEvents(prefix: string, n: number): RequestInit {
  const events = Array.from({ length: n }, (_, i) => ({
    specversion: "1.0",
    id: `${prefix}-${i}`,
    source: "/bench",
    type: "dev.edge-eventing.bench",
    datacontenttype: "application/json",
    data: { order: 1234, amount: 42.5, currency: "EUR" },
  }));
  return { method: "POST", headers: { "content-type": "application/cloudevents-batch+json" }, body: JSON.stringify(events) };
}

/** A broker's `edge_eventing_storage_rows_written_total` and `_read_total`, summed over its partitions (NaN when not reported). */
export async function storageRows(router: string, broker: string): Promise<{ written: number; read: number }> {
  const text = await (await fetch(`${router}/metrics`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).text();
  const total = (metric: string) => {
    const series = text.split("\n").filter((l) => l.startsWith(`${metric}{`) && l.includes(`namespace="${NAMESPACE}"`) && l.includes(`broker="${broker}"`));
    return series.length === 0 ? NaN : series.reduce((n, l) => n + Number(l.slice(l.lastIndexOf(" ") + 1)), 0);
  };
  return { written: total("edge_eventing_storage_rows_written_total"), read: total("edge_eventing_storage_rows_read_total") };
}
