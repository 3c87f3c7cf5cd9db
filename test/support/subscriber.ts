/**
 * A real HTTP subscriber for tests: records every request it receives and answers with a script that a
 * test sets per path (status, headers, body, delay), so it can fail on demand.
 *   POST /_script?path=/p  body: [{status, headers?, body?, delayMs?, repeat?}]  (last entry repeats;
 *                          `{n}` in a header value becomes the request's number on that path, from 1,
 *                          `{h:name}` the request's header `name`: a responder copying an attribute)
 *   GET  /_received?path=/p  -> the recorded requests, oldest first
 *   POST /_hold?path=/p&ms=N  requests on the path that come in the next N ms are taken (recorded and
 *                          answered) only when they end: a subscriber that stops taking requests for a
 *                          while (a pause of its process, a proxy's queue in front of it)
 * Anything else is a delivery: recorded, then answered by the script for its path (default 200, no body).
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface Step {
  status: number;
  headers?: Record<string, string>;
  body?: string;
  delayMs?: number;
  /** How many requests this step answers (default 1); the last step answers all the rest. */
  repeat?: number;
}

export interface Received {
  path: string;
  at: number;
  headers: Record<string, string>;
  body: string;
}

export interface Subscriber {
  url: string;
  server: Server;
  close(): Promise<void>;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

export async function startSubscriber(): Promise<Subscriber> {
  const scripts = new Map<string, Step[]>();
  const received = new Map<string, Received[]>();
  const holds = new Map<string, number>();
  let inflight = 0;
  let peak = 0;
  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    const body = await readBody(req);
    // A base URL with a path prefix (`${url}/run-a`) gives a test its own paths: `${url}/run-a/_script?path=/p` scripts `/run-a/p`.
    const control = /^(.*)\/(_script|_received|_hold)$/.exec(url.pathname);
    const target = control ? control[1] + (url.searchParams.get("path") ?? "/") : "";
    if (control?.[2] === "_script") {
      scripts.set(target, JSON.parse(body));
      received.set(target, []);
      res.writeHead(204).end();
      return;
    }
    if (control?.[2] === "_hold") {
      holds.set(target, Date.now() + Number(url.searchParams.get("ms")));
      res.writeHead(204).end();
      return;
    }
    if (control?.[2] === "_received") {
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(received.get(target) ?? []));
      return;
    }
    if (url.pathname === "/_peak") {
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ peak, inflight }));
      return;
    }
    const heldFor = (holds.get(url.pathname) ?? 0) - Date.now();
    if (heldFor > 0) await new Promise((r) => setTimeout(r, heldFor));
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === "string") headers[k] = v;
    const list = received.get(url.pathname) ?? [];
    list.push({ path: url.pathname, at: Date.now(), headers, body });
    received.set(url.pathname, list);
    const script = scripts.get(url.pathname) ?? [{ status: 200 }];
    const step = script[0];
    if (script.length > 1) {
      step.repeat = (step.repeat ?? 1) - 1;
      if (step.repeat <= 0) script.shift();
    }
    inflight++;
    peak = Math.max(peak, inflight);
    if (step.delayMs) await new Promise((r) => setTimeout(r, step.delayMs));
    inflight--;
    const answer = Object.fromEntries(
      Object.entries(step.headers ?? {}).map(([k, v]) => [
        k,
        v.replaceAll("{n}", String(list.length)).replace(/\{h:([a-z0-9-]+)\}/g, (_, h: string) => headers[h] ?? ""),
      ]),
    );
    res.writeHead(step.status, answer).end(step.body ?? "");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
