/**
 * A RequestReply's address, `POST /requestreplies/{namespace}/{name}` (docs/API.md, RequestReply): the
 * EventPolicies that name the RequestReply decide first; the request event gets a signed correlation value
 * (shared/requestreply/correlation.ts), goes into the broker through the one ingest path (the broker's
 * EventPolicies, and its ingress token unless the RequestReply's policies replace it, apply), and the HTTP
 * request waits on a waiter object (durable-objects/reply-waiter.ts) until a reply carrying the value comes
 * to the broker, the timeout, or the caller going away. The reply is answered in the request's content mode.
 */
import { Hono } from "hono";
import { decodeHttp, decodeStructured, encodeBinary } from "../shared/cloudevents/index.ts";
import type { CloudEvent } from "../shared/cloudevents/event.ts";
import { passThroughHeaders } from "../shared/delivery/headers.ts";
import { isValidName, isValidNamespace } from "../shared/resources/manifest.ts";
import { signCorrelation, WAITER_REPLICAS } from "../shared/requestreply/correlation.ts";
import { signingKeys } from "../shared/requestreply/spec.ts";
import { ingestInto } from "../clients/ingest.ts";
import { lookupRequestReply } from "../clients/routes.ts";
import { replyWaiter } from "../clients/stubs.ts";
import { audienceOf } from "../shared/policy/spec.ts";
import { countRefusal } from "../clients/ingress-refusals.ts";
import { bearerAdmission } from "./event-policy.ts";
import { readLimited } from "./body.ts";
import { refusalResponse } from "./ingest-response.ts";
import { handshake, MAX_INGRESS_BYTES, methodNotAllowed } from "./ingress.ts";

export const requestReply = new Hono<{ Bindings: Env }>();

requestReply.post("/requestreplies/:namespace/:name", async (c) => {
  const { namespace, name } = c.req.param();
  const notFound = () => c.json({ error: `RequestReply ${namespace}/${name} not found` }, 404);
  if (!isValidNamespace(namespace) || !isValidName(name)) return notFound();
  const route = await lookupRequestReply(c.env, namespace, name);
  if (!route) return notFound();
  let keys: string[];
  try {
    keys = signingKeys(c.env, route);
  } catch (e) {
    return c.json({ error: `RequestReply ${namespace}/${name} cannot sign requests: ${(e as Error).message}` }, 503);
  }

  const body = await readLimited(c.req.raw, MAX_INGRESS_BYTES);
  if (body === null) return c.json({ error: `request body is larger than ${MAX_INGRESS_BYTES} bytes` }, 413);
  const decoded = decodeHttp(c.req.raw.headers, body, { maxBatchEvents: 1 });
  if ("error" in decoded) return c.json(decoded.field ? { error: decoded.error, field: decoded.field } : { error: decoded.error }, decoded.status);
  if (decoded.mode === "batch")
    return c.json({ error: "a RequestReply takes one event per request, in binary or structured mode (a batch has no single reply)" }, 415);
  const [event] = decoded.events;
  const passed = passThroughHeaders(c.req.raw.headers);
  if ("refused" in passed) return c.json({ error: passed.refused.error, field: passed.refused.field }, 400);

  // The RequestReply's own EventPolicies decide at its address, before anything is sent or awaited. The token
  // then carries its audience, and its broker's policies see the same sender (its ingress token, which
  // policies replace, is not asked for).
  const bearer = /^Bearer (.+)$/i.exec(c.req.header("authorization") ?? "")?.[1];
  const admission = bearerAdmission(c.env, bearer, route.policies ? audienceOf("RequestReply", namespace, name) : undefined);
  if (route.policies) {
    const at = { kind: "RequestReply" as const, namespace, name };
    const refused = await admission.decide(at, route.policies, [event]);
    if (refused) return refusalResponse(countRefusal(at, refused));
  }

  const now = Date.now();
  const correlation = { id: crypto.randomUUID(), replica: Math.floor(Math.random() * WAITER_REPLICAS), expiresAt: now + route.timeoutMs };
  const request: CloudEvent = {
    attributes: { ...event.attributes, [route.correlationAttribute]: await signCorrelation(keys, { namespace, name }, correlation) },
    data: event.data,
  };
  const waiter = replyWaiter(c.env, namespace, name, correlation.replica);
  // Waiting starts before the event is sent: a reply that comes first is held for it (shared/requestreply/rendezvous.ts).
  const waiting = waiter.wait(correlation.id, correlation.expiresAt);
  waiting.catch(() => {}); // a refused request answers without it
  const stored = await ingestInto(
    c.env,
    { namespace, name: route.broker },
    [request],
    passed.headers,
    route.policies ? { decide: admission.decide } : admission,
  );
  const cancel = () => c.executionCtx.waitUntil(waiter.cancel(correlation.id));
  if (stored.status !== 202 || stored.accepted === 0) {
    cancel();
    if (stored.status === 202)
      return c.json(
        {
          error:
            "the broker already has an event with this source and id (within its dedup window): it was not sent again, so no reply will come; use a new id",
        },
        409,
      );
    return refusalResponse(stored);
  }

  // A caller that goes away ends its wait: a reply that comes later is late, and its place in the waiter is free.
  const signal = c.req.raw.signal;
  if (signal.aborted) cancel();
  else signal.addEventListener("abort", cancel, { once: true });
  let reply: string | null | "full";
  try {
    reply = await waiting;
  } catch (e) {
    return c.json({ error: `the request's waiter was restarted before a reply came (${(e as Error).message}); the event was sent` }, 503);
  } finally {
    signal.removeEventListener("abort", cancel);
  }
  // Known only once the event is sent: a second call before the ingest would cost every request an object request.
  if (reply === "full")
    return c.json(
      {
        error: `RequestReply ${namespace}/${name} has too many requests waiting: the event was sent to the broker, but its reply cannot be awaited; retry later`,
      },
      503,
      { "retry-after": "1" },
    );
  if (reply === null) return c.json({ error: `no reply within ${route.timeoutMs / 1000} s (spec.timeout)` }, 504);
  return answer(reply, decoded.mode);
});

/** The reply (structured JSON, as the waiter holds it) as a 200 in the request's mode. */
function answer(structured: string, mode: "binary" | "structured"): Response {
  if (mode === "structured") return new Response(structured, { status: 200, headers: { "content-type": "application/cloudevents+json; charset=utf-8" } });
  const { headers, body } = encodeBinary(decodeStructured(structured) as CloudEvent);
  return new Response(body, { status: 200, headers });
}

requestReply.options("/requestreplies/:namespace/:name", handshake);
requestReply.all("/requestreplies/:namespace/:name", methodNotAllowed);
