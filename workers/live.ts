/**
 * Broker subresources for operators (docs/OPERATIONS.md), Kubernetes-style under the Broker resource:
 *   GET  .../namespaces/{ns}/brokers/{name}/live                     WebSocket: the broker's live feed
 *   GET  .../namespaces/{ns}/brokers/{name}/metrics                  counters, backlog, in-flight (JSON)
 *   GET  .../namespaces/{ns}/brokers/{name}/deadletters?limit=N      events kept after failing for good
 *   POST .../namespaces/{ns}/brokers/{name}/deadletters/{id}/redeliver
 * Browsers cannot set Authorization on a WebSocket, so the live feed also takes the token as a
 * `Sec-WebSocket-Protocol` entry (Kubernetes' `base64url.bearer.authorization.k8s.io.<token>`), never
 * in the query string, where proxies and logs would keep it.
 */
import { Hono, type MiddlewareHandler } from "hono";
import { bearerFromProtocols } from "../shared/resources/broker-api.ts";
import { isValidName, isValidNamespace } from "../shared/resources/manifest.ts";
import { failure } from "../shared/resources/status.ts";
import { sameSecret } from "../shared/crypto.ts";
import { requireAdmin } from "./auth.ts";
import { broker, control, resolveContext } from "./context.ts";

export const live = new Hono<{ Bindings: Env }>();
const BROKER = "/apis/eventing.knative.dev/v1/namespaces/:namespace/brokers/:name";
/** Most dead letters one list returns (the broker keeps up to DEAD_KEEP). */
export const MAX_DEAD_LETTERS = 500;
const DEFAULT_DEAD_LETTERS = 100;

/** The admin token from Authorization, or for a WebSocket upgrade from its subprotocol. */
const requireAdminLive: MiddlewareHandler<{ Bindings: Env }> = async (c, next) => {
  const offered = c.req.header("upgrade")?.toLowerCase() === "websocket" && !c.req.header("authorization") ? bearerFromProtocols(c.req.header("sec-websocket-protocol") ?? null) : null;
  if (!offered) return requireAdmin(c, next);
  const expected = c.env.ADMIN_TOKEN;
  if (!expected || !(await sameSecret(offered.token, expected))) return c.json(failure(401, "Unauthorized", "a valid bearer token is required"), 401);
  await next();
};

/** 404 unless the broker exists, so a typo is not a silent, empty feed. */
const requireBroker: MiddlewareHandler<{ Bindings: Env }> = async (c, next) => {
  const { namespace, name } = c.req.param() as { namespace: string; name: string };
  const found = isValidNamespace(namespace) && isValidName(name) && (await control(c.env).get("Broker", namespace, name, resolveContext(c.env, c.req.url)));
  if (!found) return c.json(failure(404, "NotFound", `brokers "${name}" not found`, { name, kind: "brokers" }), 404);
  await next();
};

live.get(`${BROKER}/live`, requireAdminLive, requireBroker, async (c) => {
  if (c.req.header("upgrade")?.toLowerCase() !== "websocket") return c.json(failure(400, "BadRequest", "the live feed is a WebSocket: send Upgrade: websocket"), 400);
  const res = await broker(c.env, c.req.param("namespace"), c.req.param("name")).fetch(c.req.raw);
  const protocol = bearerFromProtocols(c.req.header("sec-websocket-protocol") ?? null)?.protocol;
  if (!res.webSocket || !protocol) return res;
  // A browser drops a connection whose reply names none of the protocols it offered.
  return new Response(null, { status: 101, webSocket: res.webSocket, headers: { "sec-websocket-protocol": protocol } });
});

live.get(`${BROKER}/metrics`, requireAdmin, requireBroker, async (c) => {
  const m = await broker(c.env, c.req.param("namespace"), c.req.param("name")).metrics();
  return c.json({ apiVersion: "edge-eventing.dev/v1alpha1", kind: "BrokerMetrics", ...m });
});

live.get(`${BROKER}/deadletters`, requireAdmin, requireBroker, async (c) => {
  const raw = c.req.query("limit");
  const limit = raw === undefined ? DEFAULT_DEAD_LETTERS : Number(raw);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_DEAD_LETTERS) {
    return c.json(failure(400, "BadRequest", `limit must be an integer from 1 to ${MAX_DEAD_LETTERS}`, { causes: [{ field: "limit", message: `must be 1..${MAX_DEAD_LETTERS}` }] }), 400);
  }
  const items = await broker(c.env, c.req.param("namespace"), c.req.param("name")).deadLetters(limit);
  return c.json({ apiVersion: "edge-eventing.dev/v1alpha1", kind: "DeadLetterList", items });
});

live.post(`${BROKER}/deadletters/:id/redeliver`, requireAdmin, requireBroker, async (c) => {
  const id = Number(c.req.param("id"));
  const { namespace, name } = c.req.param();
  const done = Number.isSafeInteger(id) && id > 0 && (await broker(c.env, namespace, name).redeliver(id));
  if (!done) return c.json(failure(404, "NotFound", `dead letter ${c.req.param("id")} of broker ${namespace}/${name} not found (or its trigger is gone)`), 404);
  return c.json({ apiVersion: "v1", kind: "Status", status: "Success", code: 200, message: `dead letter ${id} queued for redelivery`, details: { name: String(id), kind: "deadletters" } });
});
