/**
 * A minimal RESP2 client over node:net for bin/upstash-redis.mjs: one connection per use, commands
 * written as arrays of bulk strings, replies parsed incrementally. Replies come back as
 * `Buffer` (bulk), `{ simple }` (status), `{ error }`, numbers, arrays or null.
 */
import { connect } from "node:net";

/** Largest reply accepted from Redis; beyond it the connection is dropped (bounded memory). */
export const MAX_REPLY_BYTES = 64 * 1024 * 1024;

export function encodeCommand(args) {
  const parts = [Buffer.from(`*${args.length}\r\n`)];
  for (const arg of args) {
    const bytes = Buffer.isBuffer(arg) ? arg : Buffer.from(String(arg));
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from("\r\n"));
  }
  return Buffer.concat(parts);
}

/** Parse one reply at `pos`; returns `{ value, end }`, or null when more bytes are needed. */
export function parseReply(buf, pos = 0) {
  const lineEnd = buf.indexOf("\r\n", pos);
  if (lineEnd < 0) return null;
  const type = String.fromCharCode(buf[pos]);
  const line = buf.toString("utf8", pos + 1, lineEnd);
  const next = lineEnd + 2;
  switch (type) {
    case "+":
      return { value: { simple: line }, end: next };
    case "-":
      return { value: { error: line }, end: next };
    case ":":
      return { value: Number(line), end: next };
    case "$": {
      const len = Number(line);
      if (len < 0) return { value: null, end: next };
      if (buf.length < next + len + 2) return null;
      return { value: buf.subarray(next, next + len), end: next + len + 2 };
    }
    case "*": {
      const count = Number(line);
      if (count < 0) return { value: null, end: next };
      const items = [];
      let at = next;
      for (let i = 0; i < count; i++) {
        const item = parseReply(buf, at);
        if (!item) return null;
        items.push(item.value);
        at = item.end;
      }
      return { value: items, end: at };
    }
    default:
      throw new Error(`unexpected RESP type byte ${JSON.stringify(type)}`);
  }
}

/**
 * Send `commands` on a fresh connection and resolve with their replies in order. The connection
 * is closed afterwards, so a MULTI/EXEC group or a blocking read never shares it.
 */
export function runCommands({ host, port, password }, commands, timeoutMs = 60_000) {
  return new Promise((resolve, reject) => {
    const all = password ? [["AUTH", password], ...commands] : commands;
    const socket = connect({ host, port });
    const replies = [];
    let buf = Buffer.alloc(0);
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`redis did not answer within ${timeoutMs} ms`)));
    socket.on("error", reject);
    socket.on("connect", () => socket.write(Buffer.concat(all.map(encodeCommand))));
    socket.on("data", (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      if (buf.length > MAX_REPLY_BYTES) return socket.destroy(new Error(`reply exceeds ${MAX_REPLY_BYTES} bytes`));
      while (replies.length < all.length) {
        const parsed = parseReply(buf);
        if (!parsed) break;
        replies.push(parsed.value);
        buf = buf.subarray(parsed.end);
      }
      if (replies.length === all.length) {
        socket.end();
        resolve(password ? replies.slice(1) : replies);
      }
    });
    socket.on("close", () => reject(new Error("redis closed the connection before answering")));
  });
}
