/**
 * Kubernetes' self reviews, as kubectl asks them (API.md §11), answered by the same authorizer as every
 * request (workers/auth.ts); nothing is stored:
 *   POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews   `kubectl auth can-i VERB RESOURCE`
 *   POST /apis/authorization.k8s.io/v1/selfsubjectrulesreviews    `kubectl auth can-i --list`
 *   POST /apis/authentication.k8s.io/v1/selfsubjectreviews        `kubectl auth whoami`
 */
import { Hono } from "hono";
import { rulesFor } from "../shared/rbac/authorizer.ts";
import type { Attributes } from "../shared/rbac/rules.ts";
import { invalid } from "../shared/resources/status.ts";
import { allowed, rbacSnapshot, userOf } from "./auth.ts";
import { readManifest } from "./body.ts";

export const accessReviews = new Hono<{ Bindings: Env }>();

type Review = { apiVersion?: string; kind?: string; metadata?: Record<string, unknown>; spec?: Record<string, unknown> };

async function readReview(req: Request, kind: string): Promise<Review | ReturnType<typeof invalid>> {
  const parsed = await readManifest(req);
  if ("code" in parsed) return parsed as ReturnType<typeof invalid>;
  const review = parsed.value as Review;
  if (typeof review !== "object" || review === null || review.kind !== kind) return invalid(kind, undefined, [{ field: "kind", message: `must be ${kind}` }]);
  return review;
}

const str = (v: unknown) => (typeof v === "string" ? v : "");

accessReviews.post("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", async (c) => {
  const review = await readReview(c.req.raw, "SelfSubjectAccessReview");
  if ("code" in review) return c.json(review, review.code as 400);
  const spec = (review.spec ?? {}) as { resourceAttributes?: Record<string, unknown>; nonResourceAttributes?: Record<string, unknown> };
  const r = spec.resourceAttributes;
  const n = spec.nonResourceAttributes;
  if ((r === undefined) === (n === undefined)) {
    return c.json(
      invalid("SelfSubjectAccessReview", undefined, [
        { field: "spec.resourceAttributes", message: "exactly one of nonResourceAttributes or resourceAttributes must be specified" },
      ]),
      422,
    );
  }
  const a: Attributes = r
    ? {
        verb: str(r.verb),
        apiGroup: str(r.group),
        resource: str(r.resource),
        ...(str(r.subresource) ? { subresource: str(r.subresource) } : {}),
        ...(str(r.namespace) ? { namespace: str(r.namespace) } : {}),
        ...(str(r.name) ? { name: str(r.name) } : {}),
      }
    : { verb: str(n!.verb), path: str(n!.path) };
  const yes = await allowed(c.env, userOf(c.req.raw), a);
  return c.json(
    { ...review, metadata: { ...(review.metadata ?? {}), creationTimestamp: null }, status: { allowed: yes, ...(yes ? { reason: "RBAC: allowed" } : {}) } },
    201,
  );
});

accessReviews.post("/apis/authorization.k8s.io/v1/selfsubjectrulesreviews", async (c) => {
  const review = await readReview(c.req.raw, "SelfSubjectRulesReview");
  if ("code" in review) return c.json(review, review.code as 400);
  const namespace = str(review.spec?.namespace);
  const rules = rulesFor(await rbacSnapshot(c.env), userOf(c.req.raw), namespace);
  const resourceRules = rules
    .filter((x) => (x.nonResourceURLs ?? []).length === 0)
    .map((x) => ({
      verbs: x.verbs,
      apiGroups: x.apiGroups ?? [],
      resources: x.resources ?? [],
      ...(x.resourceNames ? { resourceNames: x.resourceNames } : {}),
    }));
  const nonResourceRules = rules.filter((x) => (x.nonResourceURLs ?? []).length > 0).map((x) => ({ verbs: x.verbs, nonResourceURLs: x.nonResourceURLs }));
  return c.json(
    { ...review, metadata: { ...(review.metadata ?? {}), creationTimestamp: null }, status: { resourceRules, nonResourceRules, incomplete: false } },
    201,
  );
});

accessReviews.post("/apis/authentication.k8s.io/v1/selfsubjectreviews", async (c) => {
  const review = await readReview(c.req.raw, "SelfSubjectReview");
  if ("code" in review) return c.json(review, review.code as 400);
  const user = userOf(c.req.raw);
  return c.json(
    {
      apiVersion: "authentication.k8s.io/v1",
      kind: "SelfSubjectReview",
      metadata: { creationTimestamp: new Date().toISOString() },
      status: { userInfo: { username: user.name, groups: user.groups } },
    },
    201,
  );
});
