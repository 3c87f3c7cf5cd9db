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
import { partitionStubs } from "../clients/partitions.ts";
import type { BrokerRpc } from "../shared/contracts/broker.ts";
import { bearerFromProtocols, deadLetterId, deadLetterRow, sumMetrics } from "../shared/resources/broker-api.ts";
import { type BrokerSpec, partitionCount } from "../shared/resources/eventing.ts";
import { isValidName, isValidNamespace, type Manifest } from "../shared/resources/manifest.ts";
import { failure } from "../shared/resources/status.ts";
import { changeEntry } from "./auth.ts";
import { control, type Stub } from "../clients/stubs.ts";
import { resolveContext } from "./context.ts";

export type LiveEnv = { Bindings: Env; Variables: { partitions: Stub<BrokerRpc>[] } };
export const live = new Hono<LiveEnv>();
const BROKER = "/apis/eventing.knative.dev/v1/namespaces/:namespace/brokers/:name";
/** Most dead letters one list returns (the broker keeps up to DEAD_KEEP). */
export const MAX_DEAD_LETTERS = 500;
const DEFAULT_DEAD_LETTERS = 100;

/** 404 unless the broker exists, so a typo is not a silent, empty feed; then its partitions' objects. */
export const requireBroker: MiddlewareHandler<LiveEnv> = async (c, next) => {
  const { namespace, name } = c.req.param() as { namespace: string; name: string };
  const found = isValidNamespace(namespace) && isValidName(name) && (await control(c.env).get("Broker", namespace, name, resolveContext(c.env, c.req.url)));
  if (!found) return c.json(failure(404, "NotFound", `brokers "${name}" not found`, { name, kind: "brokers" }), 404);
  c.set("partitions", partitionStubs(c.env, namespace, name, partitionCount(found as Manifest<BrokerSpec>)));
  await next();
};

live.get(`${BROKER}/live`, requireBroker, async (c) => {
  if (c.req.header("upgrade")?.toLowerCase() !== "websocket")
    return c.json(failure(400, "BadRequest", "the live feed is a WebSocket: send Upgrade: websocket"), 400);
  const partitions = c.get("partitions");
  const protocol = bearerFromProtocols(c.req.header("sec-websocket-protocol") ?? null)?.protocol;
  // A browser drops a connection whose reply names none of the protocols it offered.
  const headers = protocol ? { "sec-websocket-protocol": protocol } : undefined;
  if (partitions.length === 1) {
    const res = await partitions[0].fetch(c.req.raw);
    return res.webSocket ? new Response(null, { status: 101, webSocket: res.webSocket, headers }) : res;
  }
  return new Response(null, { status: 101, webSocket: await fanIn(c.req.raw, partitions), headers });
});

/** One feed from every partition's: each message gains its partition; closing either side closes all. */
async function fanIn(request: Request, partitions: Stub<BrokerRpc>[]): Promise<WebSocket> {
  const [client, server] = Object.values(new WebSocketPair());
  server.accept();
  const upstream = await Promise.all(partitions.map((p) => p.fetch(new Request(request.url, { headers: { upgrade: "websocket" } }))));
  const sockets = upstream.map((r) => r.webSocket).filter((ws) => ws !== null);
  const closeAll = () => {
    for (const ws of [server, ...sockets]) {
      try {
        ws.close(1000, "closing");
      } catch {
        // already closed
      }
    }
  };
  sockets.forEach((ws, partition) => {
    ws.accept();
    ws.addEventListener("message", (e) => server.send(JSON.stringify({ ...JSON.parse(String(e.data)), partition })));
    ws.addEventListener("close", closeAll);
  });
  server.addEventListener("close", closeAll);
  return client;
}

live.get(`${BROKER}/metrics`, requireBroker, async (c) => {
  const m = sumMetrics(await Promise.all(c.get("partitions").map((p) => p.metrics())));
  return c.json({ apiVersion: "edge-eventing.dev/v1alpha1", kind: "BrokerMetrics", ...m });
});

live.get(`${BROKER}/deadletters`, requireBroker, async (c) => {
  const raw = c.req.query("limit");
  const limit = raw === undefined ? DEFAULT_DEAD_LETTERS : Number(raw);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_DEAD_LETTERS) {
    return c.json(
      failure(400, "BadRequest", `limit must be an integer from 1 to ${MAX_DEAD_LETTERS}`, {
        causes: [{ field: "limit", message: `must be 1..${MAX_DEAD_LETTERS}` }],
      }),
      400,
    );
  }
  const partitions = c.get("partitions");
  // Each partition's newest, merged newest first.
  const lists = await Promise.all(
    partitions.map(async (p, partition) =>
      (await p.deadLetters(limit)).map((d) => ({ ...d, id: deadLetterId(d.id, partition), ...(partitions.length > 1 ? { partition } : {}) })),
    ),
  );
  const items = lists
    .flat()
    .sort((a, b) => b.at - a.at || b.id - a.id)
    .slice(0, limit);
  return c.json({ apiVersion: "edge-eventing.dev/v1alpha1", kind: "DeadLetterList", items });
});

live.post(`${BROKER}/deadletters/:id/redeliver`, requireBroker, async (c) => {
  const id = Number(c.req.param("id"));
  const { namespace, name } = c.req.param();
  const { row, partition } = deadLetterRow(id);
  const owner = c.get("partitions")[partition];
  const done = Number.isSafeInteger(id) && row > 0 && owner !== undefined && (await owner.redeliver(row));
  if (!done) return c.json(failure(404, "NotFound", `dead letter ${c.req.param("id")} of broker ${namespace}/${name} not found (or its trigger is gone)`), 404);
  await control(c.env).recordChange({ ...changeEntry(c.req.raw), code: 200 });
  return c.json({
    apiVersion: "v1",
    kind: "Status",
    status: "Success",
    code: 200,
    message: `dead letter ${id} queued for redelivery`,
    details: { name: String(id), kind: "deadletters" },
  });
});
