/**
 * Event ingress: `POST /{namespace}/{broker}` (API.md §1), and the addresses of EventTransforms, Sequences
 * and Parallels, `POST /{plural}/{namespace}/{name}`, with the same rules. Decoding here; storing in the
 * broker object (a composition's address is its channel).
 */
import { type Context, Hono } from "hono";
import { decodeHttp, type InputError } from "../shared/cloudevents/index.ts";
import { passThroughHeaders } from "../shared/delivery/headers.ts";
import { isValidName, isValidNamespace } from "../shared/resources/manifest.ts";
import { readLimited } from "./body.ts";
import { refusalResponse } from "./ingest-response.ts";
import { ingestInto } from "../clients/ingest.ts";
import { lookupAddress, lookupRoute } from "../clients/routes.ts";
import type { IngestTarget } from "../shared/contracts/ingest.ts";
import { bearerAdmission } from "./event-policy.ts";
import { addressChannel, compositionOfPath } from "../shared/resources/composition-address.ts";

/** Largest ingress request body (any mode). Each stored event stays well under SQLite's 2 MB row limit. */
export const MAX_INGRESS_BYTES = 1024 * 1024;
/** Most events in one batch request. */
export const MAX_BATCH_EVENTS = 1000;

export const ingress = new Hono<{ Bindings: Env }>();

const ALLOW = "POST, OPTIONS";

ingress.post("/:namespace/:broker", async (c) => {
  const { namespace, broker: name } = c.req.param();
  const notFound = () => c.json({ error: `broker ${namespace}/${name} not found` }, 404);
  if (!isValidNamespace(namespace) || !isValidName(name)) return notFound();
  // Decided before the body is read or any broker object is touched (API.md §1 404).
  if (!(await lookupRoute(c.env, namespace, name))) return notFound();
  return accept(c, { namespace, name }, notFound);
});

/** A composition's address: decided from the routing table, as a broker's, before any object is touched. */
ingress.post("/:plural/:namespace/:name", async (c, next) => {
  const { plural, namespace, name } = c.req.param();
  const kind = compositionOfPath(plural);
  if (!kind) return next();
  const notFound = () => c.json({ error: `${kind} ${namespace}/${name} not found` }, 404);
  if (!isValidNamespace(namespace) || !isValidName(name)) return notFound();
  const channel = addressChannel(kind, name);
  if (!(await lookupAddress(c.env, namespace, channel))) return notFound();
  return accept(c, { namespace, name: channel }, notFound);
});

async function accept(c: Context<{ Bindings: Env }>, target: IngestTarget, notFound: () => Response): Promise<Response> {
  const body = await readLimited(c.req.raw, MAX_INGRESS_BYTES);
  if (body === null) return c.json({ error: `request body is larger than ${MAX_INGRESS_BYTES} bytes` }, 413);
  const decoded = decodeHttp(c.req.raw.headers, body, { maxBatchEvents: MAX_BATCH_EVENTS });
  if ("error" in decoded) return inputError(c, decoded);
  const passed = passThroughHeaders(c.req.raw.headers);
  if ("refused" in passed) return inputError(c, passed.refused);
  const bearer = /^Bearer (.+)$/i.exec(c.req.header("authorization") ?? "")?.[1];
  const r = await ingestInto(c.env, target, decoded.events, passed.headers, bearerAdmission(c.env, bearer));
  if (r.status === 202) return c.body(null, 202);
  return r.status === 404 ? notFound() : refusalResponse(r);
}

function inputError(c: Context<{ Bindings: Env }>, e: InputError): Response {
  return c.json(e.field ? { error: e.error, field: e.field } : { error: e.error }, e.status);
}

/** CloudEvents webhook abuse protection (http-webhook §4): grant the asking origin. */
export function handshake(c: Context): Response {
  const origin = c.req.header("webhook-request-origin");
  const headers: Record<string, string> = { allow: ALLOW };
  if (origin) headers["webhook-allowed-origin"] = origin;
  const rate = c.req.header("webhook-request-rate");
  if (rate) headers["webhook-allowed-rate"] = "*";
  return c.body(null, 200, headers);
}

export const methodNotAllowed = (c: Context): Response => c.json({ error: `method ${c.req.method} not allowed; use POST` }, 405, { allow: ALLOW });

ingress.options("/:namespace/:broker", handshake);
ingress.all("/:namespace/:broker", methodNotAllowed);
