/**
 * FilterReview and ExpressionReview: what a trigger would decide, or what an EventTransform would make of
 * an event, with nothing stored (API.md §3, §7).
 */
import { Hono } from "hono";
import { decodeStructured } from "../shared/cloudevents/index.ts";
import type { CloudEvent } from "../shared/cloudevents/event.ts";
import { compileTriggerFilter } from "../shared/filters/knative.ts";
import { reviewExpression } from "../shared/filters/review.ts";
import { invalid, type KubeStatus } from "../shared/resources/status.ts";
import { reviewJsonata } from "../shared/transforms/jsonata.ts";
import { readManifest } from "./body.ts";

export const reviews = new Hono<{ Bindings: Env }>();
const BASE = "/apis/edge-eventing.dev/v1alpha1";

type Review = { apiVersion?: string; kind?: string; spec?: Record<string, unknown> };

/** The review body and its event, or the Status to answer. */
async function readReview(req: Request, kind: string): Promise<{ review: Review; event: CloudEvent } | KubeStatus> {
  const parsed = await readManifest(req);
  if ("code" in parsed) return parsed;
  const review = parsed.value as Review;
  if (typeof review !== "object" || review === null || review.kind !== kind || typeof review.spec !== "object" || review.spec === null) {
    return invalid(kind, undefined, [{ field: "kind", message: `must be ${kind} with a spec` }]);
  }
  const event = decodeStructured(JSON.stringify(review.spec.event ?? null));
  if ("error" in event) return invalid(kind, undefined, [{ field: `spec.event${event.field ? `.${event.field}` : ""}`, message: event.error }]);
  return { review, event };
}

const RESULT = { pass: "Pass", fail: "Fail", nofilter: "NoFilter" } as const;

reviews.post(`${BASE}/filterreviews`, async (c) => {
  const r = await readReview(c.req.raw, "FilterReview");
  if ("code" in r) return c.json(r, r.code as 400);
  const spec = r.review.spec!;
  const compiled = compileTriggerFilter({ filter: spec.filter as never, filters: spec.filters as never });
  if ("causes" in compiled) return c.json(invalid("FilterReview", undefined, compiled.causes), 422);
  const result = compiled.filter(r.event);
  return c.json({ ...r.review, status: { result: RESULT[result], delivered: result !== "fail" } }, 201);
});

reviews.post(`${BASE}/expressionreviews`, async (c) => {
  const r = await readReview(c.req.raw, "ExpressionReview");
  if ("code" in r) return c.json(r, r.code as 400);
  const { language, expression } = r.review.spec as { language?: unknown; expression?: unknown };
  const causes = [];
  if (language !== "cesql" && language !== "cel" && language !== "jsonata")
    causes.push({ field: "spec.language", message: 'must be "cesql", "cel" or "jsonata"' });
  if (typeof expression !== "string") causes.push({ field: "spec.expression", message: "must be a string" });
  if (causes.length > 0) return c.json(invalid("ExpressionReview", undefined, causes), 422);
  // JSONata is an EventTransform's expression: its value is the transformed event.
  const status =
    language === "jsonata" ? await reviewJsonata(expression as string, r.event) : reviewExpression(language as "cesql" | "cel", expression as string, r.event);
  return c.json({ ...r.review, status }, 201);
});
