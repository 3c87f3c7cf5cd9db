#!/usr/bin/env node
/**
 * A local server that speaks Upstash's Redis REST protocol in front of a real redis-server, so
 * `@upstash/redis` (and the RedisStreamSource) run locally and in tests:
 *
 *   node bin/upstash-redis.mjs --redis 127.0.0.1:6379 --port 8079 --token T [--redis-password P]
 *
 * POST /            body ["XADD","s","*","f","v"]       -> {"result": ...} | 400 {"error": "..."}
 * POST /pipeline    body [["SET","a","1"],["GET","a"]]  -> [{"result": ...}, {"error": ...}]
 * POST /multi-exec  same body, run inside MULTI/EXEC    -> [{"result": ...}, ...]
 * GET|POST /set/a/1 command in the path (Upstash's URL form)
 * Auth: `Authorization: Bearer <token>` or `?_token=<token>`, else 401.
 * `Upstash-Encoding: base64`: every string in a result is base64 except the status "OK", which is
 * how @upstash/redis decodes it (and binary-safe). Listens on 127.0.0.1 only.
 */
import { createServer } from "node:http";
import { pathToFileURL } from "node:url";
import { runCommands } from "./resp.mjs";

/** Largest request body accepted (Upstash's own limit is 1 MB per request on the free tier). */
export const MAX_BODY_BYTES = 10 * 1024 * 1024;

function toJson(value, base64) {
  if (value === null || typeof value === "number") return value;
  if (Array.isArray(value)) return value.map((v) => toJson(v, base64));
  if (Buffer.isBuffer(value)) return base64 ? value.toString("base64") : value.toString("utf8");
  if ("simple" in value) return base64 && value.simple !== "OK" ? Buffer.from(value.simple).toString("base64") : value.simple;
  return value.error; // an error nested in an EXEC reply
}

function entry(reply, base64) {
  return reply !== null && typeof reply === "object" && "error" in reply ? { error: reply.error } : { result: toJson(reply, base64) };
}

function isCommand(value) {
  return Array.isArray(value) && value.length > 0 && value.every((a) => typeof a === "string" || typeof a === "number" || typeof a === "boolean");
}

export async function handle(redis, token, method, rawUrl, headers, body) {
  const url = new URL(rawUrl, "http://localhost");
  const given = headers.authorization?.replace(/^Bearer /, "") ?? url.searchParams.get("_token");
  if (given !== token) return [401, { error: "Unauthorized" }];
  const base64 = headers["upstash-encoding"] === "base64";
  const path = url.pathname.split("/").filter(Boolean).map(decodeURIComponent);
  let parsed;
  if (body.length > 0) {
    try {
      parsed = JSON.parse(body);
    } catch {
      return [400, { error: "ERR failed to parse command: body is not JSON" }];
    }
  }
  if (path[0] === "pipeline" || path[0] === "multi-exec") {
    if (method !== "POST" || !Array.isArray(parsed) || parsed.length === 0 || !parsed.every(isCommand)) {
      return [400, { error: "ERR the body must be a non-empty JSON array of commands" }];
    }
    if (path[0] === "pipeline") return [200, (await runCommands(redis, parsed)).map((r) => entry(r, base64))];
    const replies = await runCommands(redis, [["MULTI"], ...parsed, ["EXEC"]]);
    const exec = replies.at(-1);
    if (exec === null || (typeof exec === "object" && "error" in exec)) {
      const cause = replies.slice(1, -1).find((r) => r && typeof r === "object" && "error" in r);
      return [400, { error: cause?.error ?? exec?.error ?? "EXECABORT Transaction discarded" }];
    }
    return [200, exec.map((r) => entry(r, base64))];
  }
  const command = path.length > 0 ? [...path, ...(parsed === undefined ? [] : [typeof parsed === "string" ? parsed : JSON.stringify(parsed)])] : parsed;
  if (!isCommand(command)) return [400, { error: 'ERR the body must be a JSON array: ["COMMAND", "arg", ...]' }];
  const [reply] = await runCommands(redis, [command]);
  const out = entry(reply, base64);
  return ["error" in out ? 400 : 200, out];
}

export function startServer({ redis, port, token }) {
  const server = createServer((req, res) => {
    const chunks = [];
    let size = 0;
    req.on("data", (c) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        res.writeHead(413, { "content-type": "application/json" }).end(JSON.stringify({ error: `ERR body exceeds ${MAX_BODY_BYTES} bytes` }));
        req.destroy();
      } else chunks.push(c);
    });
    req.on("end", async () => {
      let status, payload;
      try {
        [status, payload] = await handle(redis, token, req.method, req.url, req.headers, Buffer.concat(chunks).toString("utf8"));
      } catch (e) {
        [status, payload] = [502, { error: `ERR redis unavailable: ${e.message}` }];
      }
      res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(payload));
    });
  });
  return new Promise((resolve) => server.listen(port, "127.0.0.1", () => resolve(server)));
}

function parseArgs(argv) {
  const opts = { redis: "127.0.0.1:6379", port: "8079", token: process.env.SECRET_UPSTASH_REDIS_REST_TOKEN, "redis-password": undefined };
  for (let i = 0; i < argv.length; i += 2) {
    const name = argv[i].replace(/^--/, "");
    if (!(name in opts) || argv[i + 1] === undefined) throw new Error(`unknown or incomplete option ${argv[i]}`);
    opts[name] = argv[i + 1];
  }
  const [host, port] = opts.redis.split(":");
  if (!host || !/^\d+$/.test(port ?? "")) throw new Error("--redis must be host:port");
  if (!/^\d+$/.test(opts.port)) throw new Error("--port must be a number (0 picks a free port)");
  if (!opts.token) throw new Error("--token (or SECRET_UPSTASH_REDIS_REST_TOKEN) is required");
  return { redis: { host, port: Number(port), password: opts["redis-password"] }, port: Number(opts.port), token: opts.token };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  let config;
  try {
    config = parseArgs(process.argv.slice(2));
  } catch (e) {
    console.error(`upstash-redis: ${e.message}`);
    process.exit(2);
  }
  const server = await startServer(config);
  console.log(`upstash-redis listening on http://127.0.0.1:${server.address().port} -> redis ${config.redis.host}:${config.redis.port}`);
}
