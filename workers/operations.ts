/** Operations (API.md §4): liveness, Prometheus metrics, and the built-in event display. */
import { Hono } from "hono";
import { renderMetrics } from "../shared/metrics/prometheus.ts";
import { isValidName, isValidNamespace } from "../shared/resources/manifest.ts";
import { LATENCY_BUCKETS_MS } from "../durable-objects/broker.ts";
import { requireAdmin } from "./auth.ts";
import { broker, control, resolveContext } from "./context.ts";

export const operations = new Hono<{ Bindings: Env }>();

operations.get("/healthz", (c) => c.json({ status: "ok" }));

/** Brokers, and sources' delivery channels (labelled broker="source:<kind>:<name>[:dead-letter]"). */
operations.get("/metrics", requireAdmin, async (c) => {
  const objects = await control(c.env).dataPlane(resolveContext(c.env, c.req.url));
  const samples = await Promise.all(objects.map(async ({ namespace, name }) => ({ namespace, broker: name, ...(await broker(c.env, namespace, name).metrics()) })));
  return c.text(renderMetrics(samples, LATENCY_BUCKETS_MS), 200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" });
});

/** What `kubectl logs event-display` shows in Knative: the events a display received, newest first. */
operations.get("/display/:namespace/:name", requireAdmin, async (c) => {
  const { namespace, name } = c.req.param();
  if (!isValidNamespace(namespace) || !isValidName(name)) return c.json({ error: "event display not found" }, 404);
  const events = await c.env.DISPLAY.getByName(`${namespace}/${name}`).list();
  return c.json({ namespace, name, events });
});
