/**
 * The benchmark's subscriber: a Node HTTP server on loopback that counts deliveries per path and keeps
 * the receipt time of each CloudEvent id (for send-to-receipt latency). `/slow/...` paths answer after
 * SLOW_MS, the slow-subscriber scenario. `/reply/...` paths are a RequestReply responder: after
 * RESPONDER_MS they answer with a reply event whose `replyid` is the request's `correlationid`. It keeps
 * no bodies, so a long run stays small.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

export const SLOW_MS = 200;
/** The responder's own time per request (its "work"). */
export const RESPONDER_MS = 20;

export interface Sink {
  url: string;
  /** Deliveries received on `path` so far. */
  count(path: string): number;
  /** Receipt time (performance.now()) of the event with this ce-id, the first time it arrived. */
  receivedAt(id: string): number | undefined;
  /** Keep the receipt time of every delivery on `path` from now on (a rate limit's windows are checked on them). */
  record(path: string): void;
  /** Receipt times of the deliveries on a recorded path, in arrival order. */
  times(path: string): number[];
  close(): Promise<void>;
}

function replyHeaders(request: Record<string, string | string[] | undefined>): Record<string, string> {
  return {
    "ce-specversion": "1.0",
    "ce-id": `reply-${String(request["ce-id"])}`,
    "ce-source": "/bench/responder",
    "ce-type": "dev.edge-eventing.bench.reply",
    "ce-replyid": String(request["ce-correlationid"] ?? ""),
    "content-type": "application/json",
  };
}

export async function startSink(): Promise<Sink> {
  const counts = new Map<string, number>();
  const arrivals = new Map<string, number>();
  const recorded = new Map<string, number[]>();
  const server = createServer((req, res) => {
    const at = performance.now();
    const id = req.headers["ce-id"];
    if (typeof id === "string" && !arrivals.has(id)) arrivals.set(id, at);
    const path = (req.url ?? "/").split("?")[0];
    counts.set(path, (counts.get(path) ?? 0) + 1);
    recorded.get(path)?.push(at);
    req.resume();
    req.on("end", () => {
      if (path.startsWith("/slow/")) setTimeout(() => res.writeHead(200).end(), SLOW_MS);
      else if (path.startsWith("/reply/")) setTimeout(() => res.writeHead(200, replyHeaders(req.headers)).end('{"ok":true}'), RESPONDER_MS);
      else res.writeHead(200).end();
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    count: (path) => counts.get(path) ?? 0,
    receivedAt: (id) => arrivals.get(id),
    record: (path) => void recorded.set(path, recorded.get(path) ?? []),
    times: (path) => recorded.get(path) ?? [],
    close: () =>
      new Promise((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}
