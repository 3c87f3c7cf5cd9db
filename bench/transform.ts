/**
 * An EventTransform in the delivery path: the same load through a plain trigger to the sink and through a
 * trigger whose subscriber is an EventTransform (Knative's field-extraction example) with the sink as its
 * `spec.sink`. What the transform adds per event: runtime CPU (compiled once, evaluated per event) and
 * SQLite rows written (none: it runs inside the delivery).
 */
import { closedLoop, waitFor } from "./load.ts";
import { cpuSeconds } from "./proc.ts";
import type { Bench, Row } from "./scenarios.ts";
import { binaryEvent, brokerWithTriggers, put, storageRows } from "./setup.ts";

const EVENTS = 1_000;
const DRAIN_MS = 120_000;

const EXPRESSION = `{ "specversion": "1.0", "id": id, "type": "order.extracted", "source": "transform.bench", "time": time,
  "data": { "order": data.order, "total": data.amount & " " & data.currency } }`;

export async function transform(b: Bench): Promise<Row[]> {
  const measured: { cpuMs: number; rows: number; note?: string }[] = [];
  for (const through of ["trigger", "transform"] as const) {
    const path = `/transform-${through}`;
    const broker = `via-${through}`;
    const url = await brokerWithTriggers(b.rt.router, { broker, triggers: through === "trigger" ? 1 : 0, subscriber: b.sink.url, path });
    if (through === "transform") {
      await put(b.rt.router, "eventtransforms", "extract", {
        apiVersion: "eventing.knative.dev/v1alpha1",
        kind: "EventTransform",
        metadata: { name: "extract" },
        spec: { jsonata: { expression: EXPRESSION }, sink: { uri: `${b.sink.url}${path}/0` } },
      });
      const ref = { apiVersion: "eventing.knative.dev/v1alpha1", kind: "EventTransform", name: "extract" };
      await put(b.rt.router, "triggers", `${broker}-0`, {
        apiVersion: "eventing.knative.dev/v1",
        kind: "Trigger",
        metadata: { name: `${broker}-0` },
        spec: { broker, subscriber: { ref } },
      });
    }
    const rows0 = (await storageRows(b.rt.router, broker)).written;
    const cpu0 = cpuSeconds(b.rt.pid);
    const sent = await closedLoop({
      concurrency: 16,
      durationMs: 60_000,
      maxRequests: EVENTS,
      request: (i) => ({ url, init: binaryEvent(`${b.run}-${through}-${i}`) }),
    });
    await waitFor(() => b.sink.count(`${path}/0`) >= sent.ok, DRAIN_MS);
    const got = b.sink.count(`${path}/0`);
    const cpu = cpuSeconds(b.rt.pid) - cpu0;
    const rows = (await storageRows(b.rt.router, broker)).written - (Number.isNaN(rows0) ? 0 : rows0);
    const failures = Object.keys(sent.failures).length ? `non-202 answers: ${JSON.stringify(sent.failures)}` : undefined;
    measured.push({ cpuMs: (cpu * 1000) / got, rows: rows / got, note: failures ?? (got < sent.ok ? `only ${got} of ${sent.ok} delivered` : undefined) });
  }
  const [plain, transformed] = measured;
  const note = [plain.note, transformed.note].filter(Boolean).join("; ") || undefined;
  return [
    {
      scenario: "CPU per event, EventTransform in the path",
      unit: "ms/event",
      router: transformed.cpuMs,
      baselineName: "plain trigger",
      baseline: plain.cpuMs,
      ratio: transformed.cpuMs / plain.cpuMs,
      note,
    },
    {
      scenario: "rows written per event, EventTransform in the path",
      unit: "rows/event",
      router: transformed.rows,
      baselineName: "plain trigger",
      baseline: plain.rows,
      ratio: transformed.rows / plain.rows,
      goal: { text: "<= 1.05x plain trigger", met: transformed.rows / plain.rows <= 1.05 },
      note,
    },
  ];
}
