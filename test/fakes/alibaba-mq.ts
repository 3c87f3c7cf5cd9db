/**
 * A local stand-in for Alibaba Cloud's RocketMQ HTTP API (4.x instances), faithful where the
 * poller depends on it: the `MQ` HMAC-SHA1 signature verified over the request line as received,
 * the 15-minute Date window, Content-MD5 (base64 of the hex digest), long-poll consume that
 * answers 404 MessageNotExist when nothing arrives, receipt handles that die at NextConsumeTime,
 * and partial ack failures as `<Errors>`. Also exports the pieces the MNS fake shares.
 */
import { createHash, createHmac, randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { aliyunStringToSign, ROCKETMQ_SIGNING, type AliyunSigningScheme } from "../../shared/bridges/rocketmq/signature.ts";
import { xmlElements, xmlEscape, decodeXmlText } from "../../shared/bridges/rocketmq/xml.ts";

export const MAX_DATE_SKEW_MS = 15 * 60 * 1000;

export interface FakeCredentials {
  accessKeyId: string;
  accessKeySecret: string;
}

export interface RecordedRequest {
  method: string;
  url: string;
  status: number;
  headers: Record<string, string>;
}

/** An error the fake answers with, in the service's `<Error>` document. */
export class ServiceError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export function errorXml(xmlns: string, code: string, message: string, host: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Error xmlns="${xmlns}"><Code>${code}</Code><Message>${xmlEscape(message)}</Message><RequestId>${randomUUID().replaceAll("-", "").toUpperCase().slice(0, 24)}</RequestId><HostId>${host}</HostId></Error>`;
}

/** Verify a request as the service does; throws the ServiceError the service would answer. */
export function verifySignature(scheme: AliyunSigningScheme, creds: FakeCredentials, req: IncomingMessage, body: string, nowMs: number): void {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) if (typeof v === "string") headers[k] = v;
  const auth = headers.authorization;
  if (!auth) throw new ServiceError(400, "MissingAuthorizationHeader", "Authorization header is required.");
  if (!headers.date) throw new ServiceError(400, "MissingDateHeader", "Date header is required.");
  const date = Date.parse(headers.date);
  if (Number.isNaN(date)) throw new ServiceError(400, "InvalidDateHeader", `Date header is invalid: ${headers.date}`);
  if (Math.abs(nowMs - date) > MAX_DATE_SKEW_MS) throw new ServiceError(400, "TimeExpired", "The http request you sent is expired.");
  const m = new RegExp(`^${scheme.name} ([^:]+):(.+)$`).exec(auth);
  if (!m) throw new ServiceError(400, "InvalidAuthorizationHeader", `Authorization header is invalid: ${auth}`);
  if (m[1] !== creds.accessKeyId) throw new ServiceError(403, "InvalidAccessKeyId", `The access Id you provided is not exist: ${m[1]}`);
  const md5 = headers["content-md5"];
  if (md5 !== undefined && md5 !== Buffer.from(createHash("md5").update(body).digest("hex")).toString("base64")) {
    throw new ServiceError(400, "InvalidDigest", "The Content-MD5 you specified is not valid.");
  }
  const expected = createHmac("sha1", creds.accessKeySecret).update(aliyunStringToSign(scheme, req.method ?? "", req.url ?? "", headers)).digest("base64");
  if (m[2] !== expected) throw new ServiceError(403, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided.");
}

/** One entry of a partial-failure `<Errors>` document. */
export function ackError(code: string, message: string, handle: string): string {
  return `<Error><ErrorCode>${code}</ErrorCode><ErrorMessage>${message}</ErrorMessage><ReceiptHandle>${xmlEscape(handle)}</ReceiptHandle></Error>`;
}

/** The `<ReceiptHandle>`s of an ack/delete body; MissingReceiptHandle when there are none. */
export function receiptHandlesOf(body: string): string[] {
  const handles = xmlElements(body, "ReceiptHandle").map(decodeXmlText).filter((h) => h !== "");
  if (handles.length === 0) throw new ServiceError(400, "MissingReceiptHandle", "ReceiptHandle is required.");
  return handles;
}

export function intParam(url: URL, name: string, min: number, max: number, fallback: number): number {
  const raw = url.searchParams.get(name);
  if (raw === null) return fallback;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < min || n > max) throw new ServiceError(400, "InvalidArgument", `The value of ${name} should between ${min} and ${max}.`);
  return n;
}

/** Long-poll support: wake waiting receives when a message is published. Bounded by `ms`. */
export class Waiters {
  #waiting = new Set<() => void>();
  wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#waiting.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#waiting.add(done);
    });
  }
  wake(): void {
    for (const w of [...this.#waiting]) w();
  }
}

/** A node:http server on 127.0.0.1 that records requests and turns ServiceErrors into XML. */
export async function serveXml(
  xmlns: string,
  handle: (req: IncomingMessage, url: URL, body: string) => Promise<{ status: number; body?: string }>,
  log: RecordedRequest[],
): Promise<{ server: Server; url: string }> {
  let host = "";
  const server = createServer((req, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", async () => {
      const body = Buffer.concat(chunks).toString("utf8");
      let status: number;
      let text: string | undefined;
      try {
        ({ status, body: text } = await handle(req, new URL(req.url ?? "/", host), body));
      } catch (e) {
        const err = e instanceof ServiceError ? e : new ServiceError(500, "InternalError", String(e));
        status = err.status;
        text = errorXml(xmlns, err.code, err.message, host);
      }
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === "string") headers[k] = v;
      log.push({ method: req.method ?? "", url: req.url ?? "", status, headers });
      res.writeHead(status, text === undefined ? {} : { "content-type": "text/xml;charset=utf-8" });
      res.end(text);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  host = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { server, url: host };
}

export function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

// ---------------------------------------------------------------------------------------------
// RocketMQ

export const MQ_XMLNS = "http://mq.aliyuncs.com/doc/v1/";

export interface PublishInput {
  body: string;
  tag?: string;
  /** Written as `KEYS:k|name:value`. */
  properties?: Record<string, string>;
}

interface StoredMessage {
  id: string;
  body: string;
  tag?: string;
  properties: string;
  publishTime: number;
  firstConsumeTime?: number;
  /** Per consumer group delivery state. */
  groups: Map<string, { handle?: string; nextConsumeTime: number; consumedTimes: number; acked: boolean }>;
}

export interface FakeRocketMQ {
  url: string;
  requests: RecordedRequest[];
  createTopic(topic: string): void;
  /** Publish to a topic (created on first use); returns the MessageId. */
  publish(topic: string, message: PublishInput): string;
  /** Message ids a group has acknowledged. */
  acked(topic: string, group: string): string[];
  /** Move the fake's clock forward (handles expire, messages become visible again). */
  advance(ms: number): void;
  close(): Promise<void>;
}

export interface FakeRocketMQOptions extends FakeCredentials {
  /** When set, `ns` must name this instance. */
  instanceId?: string;
  /** Invisibility after a consume: unordered messages are retried every 5 minutes. */
  retryIntervalMs?: number;
}

export async function startFakeRocketMQ(options: FakeRocketMQOptions): Promise<FakeRocketMQ> {
  const topics = new Map<string, StoredMessage[]>();
  const requests: RecordedRequest[] = [];
  const waiters = new Waiters();
  const retryMs = options.retryIntervalMs ?? 5 * 60 * 1000;
  let offset = 0;
  const now = () => Date.now() + offset;
  let seq = 0;

  const { server, url } = await serveXml(MQ_XMLNS, async (req, u, body) => {
    verifySignature(ROCKETMQ_SIGNING, options, req, body, now());
    const m = /^\/topics\/([^/]+)\/messages$/.exec(u.pathname);
    if (!m) throw new ServiceError(400, "InvalidRequestURL", `The request url is invalid: ${u.pathname}`);
    const topic = decodeURIComponent(m[1]);
    const group = u.searchParams.get("consumer");
    if (!group) throw new ServiceError(400, "InvalidArgument", "consumer is required.");
    if (options.instanceId !== undefined && u.searchParams.get("ns") !== options.instanceId) {
      throw new ServiceError(404, "TopicNotExist", `The topic you provided is not exist: ${topic}`);
    }
    const messages = topics.get(topic);
    if (!messages) throw new ServiceError(404, "TopicNotExist", `The topic you provided is not exist: ${topic}`);

    if (req.method === "DELETE") {
      const errors: string[] = [];
      for (const handle of receiptHandlesOf(body)) {
        const hit = messages.map((msg) => ({ msg, state: msg.groups.get(group) })).find((x) => x.state?.handle === handle);
        if (!hit) {
          errors.push(ackError("ReceiptHandleError", "The receipt handle you provided is not valid.", handle));
        } else if (hit.state!.nextConsumeTime <= now()) {
          errors.push(ackError("MessageNotExist", "The receipt handle you provided is expired.", handle));
        } else {
          hit.state!.acked = true;
          hit.state!.handle = undefined;
        }
      }
      if (errors.length === 0) return { status: 204 };
      return { status: 404, body: `<?xml version="1.0" encoding="UTF-8"?>\n<Errors xmlns="${MQ_XMLNS}">${errors.join("")}</Errors>` };
    }
    if (req.method !== "GET") throw new ServiceError(400, "InvalidRequestURL", `Method ${req.method} is not allowed.`);

    const count = intParam(u, "numOfMessages", 1, 16, 1);
    const waitSeconds = intParam(u, "waitseconds", 0, 30, 0);
    const tags = u.searchParams.get("tag")?.split("||");
    const deadline = Date.now() + waitSeconds * 1000;
    for (;;) {
      const picked = messages.filter((msg) => {
        const state = msg.groups.get(group);
        return (!tags || (msg.tag !== undefined && tags.includes(msg.tag))) && !state?.acked && (state?.nextConsumeTime ?? 0) <= now();
      }).slice(0, count);
      if (picked.length > 0) return { status: 200, body: consumeXml(picked, group) };
      const left = deadline - Date.now();
      if (left <= 0) throw new ServiceError(404, "MessageNotExist", "Message not exist.");
      await waiters.wait(left);
    }
  }, requests);

  function consumeXml(picked: StoredMessage[], group: string): string {
    const t = now();
    const items = picked.map((msg) => {
      const state = msg.groups.get(group) ?? { nextConsumeTime: 0, consumedTimes: 0, acked: false };
      msg.groups.set(group, state);
      msg.firstConsumeTime ??= t;
      state.consumedTimes++;
      state.nextConsumeTime = t + retryMs;
      state.handle = `${msg.id}-${Buffer.from(`${t} ${retryMs} ${state.consumedTimes} ${randomUUID()}`).toString("base64")}`;
      return `<Message><MessageId>${msg.id}</MessageId><ReceiptHandle>${state.handle}</ReceiptHandle>` +
        `<MessageBodyMD5>${createHash("md5").update(msg.body).digest("hex").toUpperCase()}</MessageBodyMD5>` +
        `<MessageBody>${xmlEscape(msg.body)}</MessageBody><PublishTime>${msg.publishTime}</PublishTime>` +
        `<FirstConsumeTime>${msg.firstConsumeTime}</FirstConsumeTime><NextConsumeTime>${state.nextConsumeTime}</NextConsumeTime>` +
        `<ConsumedTimes>${state.consumedTimes}</ConsumedTimes>${msg.tag === undefined ? "" : `<MessageTag>${xmlEscape(msg.tag)}</MessageTag>`}` +
        `<Properties>${xmlEscape(msg.properties)}</Properties></Message>`;
    });
    return `<?xml version="1.0" encoding="UTF-8"?>\n<Messages xmlns="${MQ_XMLNS}">${items.join("")}</Messages>`;
  }

  return {
    url,
    requests,
    createTopic(topic) {
      if (!topics.has(topic)) topics.set(topic, []);
    },
    publish(topic, message) {
      const id = `1E05791C1178${String(++seq).padStart(8, "0")}AAC23B1B`;
      const properties = Object.entries(message.properties ?? {}).map(([k, v]) => `${k}:${v}`).join("|");
      const list = topics.get(topic) ?? [];
      topics.set(topic, list);
      list.push({ id, body: message.body, tag: message.tag, properties, publishTime: now(), groups: new Map() });
      waiters.wake();
      return id;
    },
    acked(topic, group) {
      return (topics.get(topic) ?? []).filter((msg) => msg.groups.get(group)?.acked).map((msg) => msg.id);
    },
    advance(ms) {
      offset += ms;
    },
    close: () => closeServer(server),
  };
}
