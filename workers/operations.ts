/** Operations (API.md §4): liveness, Prometheus metrics, and the built-in event display. */
import { Hono } from "hono";
import { renderAutoscalerMetrics, renderJobSinkMetrics, renderMetrics, renderRefusalMetrics, type AutoscalerSample } from "../shared/metrics/prometheus.ts";
import { isValidName, isValidNamespace, type Manifest } from "../shared/resources/manifest.ts";
import { LATENCY_BUCKETS_MS } from "../durable-objects/broker/counters.ts";
import { partitionStubs } from "../clients/partitions.ts";
import { control, stub } from "../clients/stubs.ts";
import { resolveContext } from "./context.ts";

export const operations = new Hono<{ Bindings: Env }>();

operations.get("/healthz", (c) => c.json({ status: "ok" }));

/**
 * Brokers, and sources' delivery channels (labelled broker="source:<kind>:<name>[:dead-letter]"),
 * then ScaledObjects from the status their Autoscaler objects report, then Jobs created per JobSink.
 */
operations.get("/metrics", async (c) => {
  const ctx = resolveContext(c.env, c.req.url);
  const objects = await control(c.env).dataPlane(ctx);
  const perBroker = await Promise.all(
    objects.map(({ namespace, name, partitions = 1 }) =>
      Promise.all(
        partitionStubs(c.env, namespace, name, partitions).map(async (stub, p) => ({
          namespace,
          broker: name,
          ...(partitions > 1 ? { partition: String(p) } : {}),
          ...(await stub.metrics()),
        })),
      ),
    ),
  );
  const samples = perBroker.flat();
  const scaled = (await control(c.env).list("ScaledObject", undefined, ctx)).map(autoscalerSample);
  const text =
    renderMetrics(samples, LATENCY_BUCKETS_MS) +
    renderRefusalMetrics(await control(c.env).refusals()) +
    renderAutoscalerMetrics(scaled) +
    renderJobSinkMetrics(await control(c.env).jobCounts());
  return c.text(text, 200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" });
});

/** The gauges' values from a ScaledObject's status (docs/AUTOSCALING.md lists its fields). */
function autoscalerSample(m: Manifest): AutoscalerSample {
  const s = (m.status ?? {}) as {
    desiredReplicas?: number | null;
    currentReplicas?: number | null;
    readyReplicas?: number | null;
    mode?: string;
    lastDecision?: { time: string } | null;
    activation?: { held: number; inFlight: number };
  };
  const decided = s.lastDecision ? Date.parse(s.lastDecision.time) / 1000 : NaN;
  return {
    namespace: m.metadata.namespace ?? "default",
    scaledObject: m.metadata.name,
    desiredReplicas: s.desiredReplicas ?? null,
    currentReplicas: s.currentReplicas ?? null,
    panic: s.mode === undefined ? null : s.mode === "panic",
    lastDecisionTime: Number.isFinite(decided) ? decided : null,
    readyReplicas: s.readyReplicas ?? null,
    held: s.activation?.held ?? null,
    inFlight: s.activation?.inFlight ?? null,
  };
}

/** What `kubectl logs event-display` shows in Knative: the events a display received, newest first. */
operations.get("/display/:namespace/:name", async (c) => {
  const { namespace, name } = c.req.param();
  if (!isValidNamespace(namespace) || !isValidName(name)) return c.json({ error: "event display not found" }, 404);
  const events = await stub(c.env, "DISPLAY", `${namespace}/${name}`).list();
  return c.json({ namespace, name, events });
});
