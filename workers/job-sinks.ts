/**
 * JobSink addresses (API.md §10): `POST /jobsinks/{namespace}/{name}` makes a Job of one CloudEvent and
 * answers 202 with a Location, `GET /jobsinks/namespaces/{ns}/name/{name}/sources/{source}/ids/{id}` (that
 * Location) tells how the Job stands, as Knative's job-sink receiver answers both: 202 running (with the
 * Location again), 200 `Reason: Complete`, 400 `Reason: Failed`. EventPolicies that apply to the JobSink
 * guard both (audience `sinks.knative.dev/jobsink/{ns}/{name}`), as Knative's receiver verifies both;
 * without any, the ingress-token annotation does, when given.
 */
import { type Context, Hono } from "hono";
import { sameSecret } from "../shared/crypto.ts";
import { decodeHttp } from "../shared/cloudevents/index.ts";
import { jobLocation, jobName, jobSinkJobState, JOB_SINKS_PATH } from "../shared/kubernetes/job-sink.ts";
import { JOB_SINK_TOKEN_ANNOTATION } from "../shared/resources/job-sink.ts";
import { isValidName, isValidNamespace } from "../shared/resources/manifest.ts";
import { secretReader } from "../shared/secrets.ts";
import type { CloudEvent } from "../shared/cloudevents/event.ts";
import type { JobSinkRoute } from "../shared/contracts/routing.ts";
import { countRefusal } from "../clients/ingress-refusals.ts";
import { lookupJobSink } from "../clients/routes.ts";
import { readLimited } from "./body.ts";
import { bearerAdmission } from "./event-policy.ts";
import { refusalResponse } from "./ingest-response.ts";
import { MAX_INGRESS_BYTES } from "./ingress.ts";
import { runJobSink } from "../clients/job-sink-runs.ts";

export const jobSinks = new Hono<{ Bindings: Env }>();

type Ctx = Context<{ Bindings: Env }>;

/** Knative's `Reason` header carries the failure; a header value must be printable ASCII. */
const reasonHeader = (text: string) => ({ reason: text.replace(/[^\x20-\x7e]/g, "?").slice(0, 1024) });

/** The JobSink's route, or the 404. */
async function findJobSink(c: Ctx, namespace: string, name: string): Promise<JobSinkRoute | Response> {
  const route = isValidNamespace(namespace) && isValidName(name) ? await lookupJobSink(c.env, namespace, name) : null;
  return route ?? c.json({ error: `JobSink ${namespace}/${name} not found` }, 404);
}

/**
 * Why the caller may not use the JobSink, or null. The EventPolicies that apply to it decide when any do
 * (`events`: what a POST carries; a Location's GET carries none, so its sender need only be one they
 * allow); otherwise the token annotation does, when the JobSink has it.
 */
async function refusal(c: Ctx, at: { namespace: string; name: string }, route: JobSinkRoute, events: CloudEvent[]): Promise<Response | null> {
  const bearer = /^Bearer (.+)$/i.exec(c.req.header("authorization") ?? "")?.[1];
  if (route.policies) {
    const target = { kind: "JobSink" as const, ...at };
    const refused = await bearerAdmission(c.env, bearer).decide(target, route.policies, events);
    return refused ? refusalResponse(countRefusal(target, refused)) : null;
  }
  if (!route.tokenSecret) return null;
  let expected: string;
  try {
    expected = secretReader(c.env)(route.tokenSecret, `metadata.annotations.${JOB_SINK_TOKEN_ANNOTATION}`);
  } catch (e) {
    return c.json({ error: `the JobSink's token cannot be read: ${(e as Error).message}` }, 500);
  }
  if (!bearer) return c.json({ error: "this JobSink requires Authorization: Bearer <token>" }, 401, { "www-authenticate": 'Bearer realm="edge-eventing"' });
  return (await sameSecret(bearer, expected)) ? null : c.json({ error: "the token is not valid for this JobSink" }, 403);
}

jobSinks.post(`/${JOB_SINKS_PATH}/:namespace/:name`, async (c) => {
  const { namespace, name } = c.req.param();
  const route = await findJobSink(c, namespace, name);
  if (route instanceof Response) return route;
  const body = await readLimited(c.req.raw, MAX_INGRESS_BYTES);
  if (body === null) return c.json({ error: `request body is larger than ${MAX_INGRESS_BYTES} bytes` }, 413);
  const decoded = decodeHttp(c.req.raw.headers, body, { maxBatchEvents: 1 });
  if ("error" in decoded) return c.json(decoded.field ? { error: decoded.error, field: decoded.field } : { error: decoded.error }, decoded.status);
  if (decoded.mode === "batch") return c.json({ error: "a JobSink takes one event per request (binary or structured mode)" }, 400);
  const refused = await refusal(c, { namespace, name }, route, decoded.events);
  if (refused) return refused;
  const answer = await runJobSink(c.env, { namespace, name, run: route.run }, decoded.events[0]);
  if (!answer.ok) return c.json({ error: answer.error }, answer.status, reasonHeader(answer.error));
  return c.json({ job: answer.name }, 202, { location: answer.location });
});

jobSinks.get(`/${JOB_SINKS_PATH}/namespaces/:namespace/name/:name/sources/:source/ids/:id`, async (c) => {
  const { namespace, name, source, id } = c.req.param();
  const route = await findJobSink(c, namespace, name);
  if (route instanceof Response) return route;
  const refused = await refusal(c, { namespace, name }, route, []);
  if (refused) return refused;
  const job = jobName(name, source, id);
  let state: Awaited<ReturnType<typeof jobSinkJobState>>;
  try {
    state = await jobSinkJobState(c.env as unknown as Record<string, unknown>, fetch, { namespace, name, run: route.run }, source, id);
  } catch (e) {
    const error = `JobSink ${namespace}/${name}: the cluster did not tell the Job's state: ${(e as Error).message}`;
    return c.json({ error }, 500, reasonHeader(error));
  }
  if (state === null) return c.json({ error: `JobSink ${namespace}/${name} has no Job ${job} for that event` }, 404);
  if (state === "Complete") return c.json({ job, reason: state }, 200, { reason: state });
  if (state === "Failed") return c.json({ job, reason: state }, 400, { reason: state });
  return c.json({ job, reason: "Running" }, 202, { location: jobLocation(namespace, name, source, id) });
});
