/**
 * The event history of a broker (API.md §6): its retained events with their deliveries and attempts,
 * newest first, merged over the broker's partitions and paged with `continue`.
 *   GET /apis/edge-eventing.dev/v1alpha1/namespaces/{ns}/brokers/{name}/events?id=&source=&type=&subject=
 *       &since=&until=&trigger=&state=&limit=&continue=
 */
import { Hono } from "hono";
import { decodeContinue, encodeContinue, mergePages, parseHistoryQuery } from "../shared/history/query.ts";
import type { TriggerSpec } from "../shared/resources/eventing.ts";
import type { Manifest } from "../shared/resources/manifest.ts";
import { failure, invalid } from "../shared/resources/status.ts";
import { control } from "../clients/stubs.ts";
import { resolveContext } from "./context.ts";
import { type LiveEnv, requireBroker } from "./live.ts";

export const history = new Hono<LiveEnv>();

history.get("/apis/edge-eventing.dev/v1alpha1/namespaces/:namespace/brokers/:name/events", requireBroker, async (c) => {
  const { namespace, name } = c.req.param();
  const parsed = parseHistoryQuery(new URL(c.req.url).searchParams);
  if ("causes" in parsed) return c.json(invalid("EventRecordList", name, parsed.causes), 422);
  const { query, limit } = parsed;
  if (query.trigger !== undefined) {
    const triggers = (await control(c.env).list("Trigger", namespace, resolveContext(c.env, c.req.url))) as unknown as Manifest<TriggerSpec>[];
    if (!triggers.some((t) => t.spec.broker === name && t.metadata.name === query.trigger)) {
      return c.json(invalid("EventRecordList", name, [{ field: "trigger", message: `broker ${namespace}/${name} has no trigger "${query.trigger}"` }]), 422);
    }
  }
  const partitions = c.get("partitions");
  let cursors = partitions.map(() => null as number | null);
  if (parsed.continueToken !== undefined) {
    const decoded = decodeContinue(parsed.continueToken, query);
    if ("error" in decoded) return c.json(failure(400, "BadRequest", decoded.error, { causes: [{ field: "continue", message: decoded.error }] }), 400);
    cursors = partitions.map((_, p) => decoded.cursors[p] ?? null);
  }
  const pages = await Promise.all(partitions.map((stub, p) => (cursors[p] === 0 ? { rows: [] } : stub.searchHistory(query, cursors[p], limit))));
  const merged = mergePages(pages, cursors, limit);
  const more = merged.cursors.some((cursor) => cursor !== 0);
  return c.json({
    apiVersion: "edge-eventing.dev/v1alpha1",
    kind: "EventRecordList",
    metadata: more ? { continue: encodeContinue(query, merged.cursors) } : {},
    items: merged.items,
  });
});
