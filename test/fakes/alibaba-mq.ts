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
import { aliyunStringToSign, ROCKETMQ_SIGNING, type AliyunSigningScheme } from "../../shared/bridges/alibaba/signature.ts";
import { xmlElements, xmlEscape, decodeXmlText } from "../../shared/bridges/alibaba/xml.ts";

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

function errorXml(xmlns: string, code: string, message: string, host: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Error xmlns="${xmlns}"><Code>${code}</Code><Message>${xmlEscape(message)}</Message><RequestId>${randomUUID().replaceAll("-", "").toUpperCase().slice(0, 24)}</RequestId><HostId>${host}</HostId></Error>`;
}

/** Verify a request as the service does; throws the ServiceError the service would answer. */
function verifySignature(scheme: AliyunSigningScheme, creds: FakeCredentials, req: IncomingMessage, body: string, nowMs: number): void {
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
  const expected = createHmac("sha1", creds.accessKeySecret)
    .update(aliyunStringToSign(scheme, req.method ?? "", req.url ?? "", headers))
    .digest("base64");
  if (m[2] !== expected) throw new ServiceError(403, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided.");
}

/** One entry of a partial-failure `<Errors>` document. */
export function ackError(code: string, message: string, handle: string): string {
  return `<Error><ErrorCode>${code}</ErrorCode><ErrorMessage>${message}</ErrorMessage><ReceiptHandle>${xmlEscape(handle)}</ReceiptHandle></Error>`;
}

/** The `<ReceiptHandle>`s of an ack/delete body; MissingReceiptHandle when there are none. */
export function receiptHandlesOf(body: string): string[] {
  const handles = xmlElements(body, "ReceiptHandle")
    .map(decodeXmlText)
    .filter((h) => h !== "");
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

/** The `<Errors>` answer to a batch delete/ack, or 204 when every handle was accepted. */
export function batchResult(xmlns: string, errors: string[]): { status: number; body?: string } {
  if (errors.length === 0) return { status: 204 };
  return { status: 404, body: `<?xml version="1.0" encoding="UTF-8"?>\n<Errors xmlns="${xmlns}">${errors.join("")}</Errors>` };
}

/** What a test holds of either fake, besides its own way of adding and inspecting messages. */
export interface FakeAliyunService {
  url: string;
  requests: RecordedRequest[];
  /** Move the fake's clock forward (handles expire, messages become visible again). */
  advance(ms: number): void;
  /** Answer the next `count` requests with `method` (any when absent) with `status` InternalError, after the signature check. */
  failNext(count: number, status: number, method?: string): void;
  close(): Promise<void>;
}

/**
 * What both fakes are built on: a node:http server on 127.0.0.1 that checks the signature, records
 * requests and turns ServiceErrors into `<Error>` XML; a clock tests move forward; long-poll waits.
 */
export class AliyunFake {
  readonly requests: RecordedRequest[] = [];
  url = "";
  #offset = 0;
  #waiting = new Set<() => void>();
  #server?: Server;
  #faults: Array<{ left: number; status: number; method?: string }> = [];

  now(): number {
    return Date.now() + this.#offset;
  }

  /** Move the clock forward (handles expire, messages become visible again). */
  advance(ms: number): void {
    this.#offset += ms;
  }

  /** Wake the receives waiting in `longPoll` (a message arrived). */
  wake(): void {
    for (const w of [...this.#waiting]) w();
  }

  /** `pick()` until it finds messages or `waitSeconds` pass; then 404 MessageNotExist, as the services answer. */
  async longPoll<T>(waitSeconds: number, pick: () => T[]): Promise<T[]> {
    const deadline = Date.now() + waitSeconds * 1000;
    for (;;) {
      const picked = pick();
      if (picked.length > 0) return picked;
      const left = deadline - Date.now();
      if (left <= 0) throw new ServiceError(404, "MessageNotExist", "Message not exist.");
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.#waiting.delete(done);
          resolve();
        };
        const timer = setTimeout(done, left);
        this.#waiting.add(done);
      });
    }
  }

  async listen(
    scheme: AliyunSigningScheme,
    xmlns: string,
    creds: FakeCredentials,
    handle: (req: IncomingMessage, url: URL, body: string) => Promise<{ status: number; body?: string }>,
  ): Promise<void> {
    const server = createServer((req, res: ServerResponse) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", async () => {
        const body = Buffer.concat(chunks).toString("utf8");
        let status: number;
        let text: string | undefined;
        try {
          verifySignature(scheme, creds, req, body, this.now());
          const fault = this.#faults.find((f) => f.left > 0 && (!f.method || f.method === req.method));
          if (fault) {
            fault.left--;
            throw new ServiceError(fault.status, "InternalError", `injected fault: HTTP ${fault.status}`);
          }
          ({ status, body: text } = await handle(req, new URL(req.url ?? "/", this.url), body));
        } catch (e) {
          const err = e instanceof ServiceError ? e : new ServiceError(500, "InternalError", String(e));
          status = err.status;
          text = errorXml(xmlns, err.code, err.message, this.url);
        }
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(req.headers)) if (typeof v === "string") headers[k] = v;
        this.requests.push({ method: req.method ?? "", url: req.url ?? "", status, headers });
        res.writeHead(status, text === undefined ? {} : { "content-type": "text/xml;charset=utf-8" });
        res.end(text);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    this.#server = server;
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  /** The test's handle, once listening. */
  service(): FakeAliyunService {
    return {
      url: this.url,
      requests: this.requests,
      advance: (ms) => this.advance(ms),
      failNext: (count, status, method) => void this.#faults.push({ left: count, status, method }),
      close: () => this.close(),
    };
  }

  close(): Promise<void> {
    const server = this.#server;
    if (!server) return Promise.resolve();
    server.closeAllConnections();
    return new Promise((resolve) => server.close(() => resolve()));
  }
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

export interface FakeRocketMQ extends FakeAliyunService {
  createTopic(topic: string): void;
  /** Publish to a topic (created on first use); returns the MessageId. */
  publish(topic: string, message: PublishInput): string;
  /** Message ids a group has acknowledged. */
  acked(topic: string, group: string): string[];
}

export interface FakeRocketMQOptions extends FakeCredentials {
  /** When set, `ns` must name this instance. */
  instanceId?: string;
  /** Invisibility after a consume: unordered messages are retried every 5 minutes. */
  retryIntervalMs?: number;
}

export async function startFakeRocketMQ(options: FakeRocketMQOptions): Promise<FakeRocketMQ> {
  const topics = new Map<string, StoredMessage[]>();
  const fake = new AliyunFake();
  const now = () => fake.now();
  const retryMs = options.retryIntervalMs ?? 5 * 60 * 1000;
  let seq = 0;

  await fake.listen(ROCKETMQ_SIGNING, MQ_XMLNS, options, async (req, u, body) => {
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
      return batchResult(MQ_XMLNS, errors);
    }
    if (req.method !== "GET") throw new ServiceError(400, "InvalidRequestURL", `Method ${req.method} is not allowed.`);

    const count = intParam(u, "numOfMessages", 1, 16, 1);
    const waitSeconds = intParam(u, "waitseconds", 0, 30, 0);
    const tags = u.searchParams.get("tag")?.split("||");
    const picked = await fake.longPoll(waitSeconds, () =>
      messages
        .filter((msg) => {
          const state = msg.groups.get(group);
          return (!tags || (msg.tag !== undefined && tags.includes(msg.tag))) && !state?.acked && (state?.nextConsumeTime ?? 0) <= now();
        })
        .slice(0, count),
    );
    return { status: 200, body: consumeXml(picked, group) };
  });

  function consumeXml(picked: StoredMessage[], group: string): string {
    const t = now();
    const items = picked.map((msg) => {
      const state = msg.groups.get(group) ?? { nextConsumeTime: 0, consumedTimes: 0, acked: false };
      msg.groups.set(group, state);
      msg.firstConsumeTime ??= t;
      state.consumedTimes++;
      state.nextConsumeTime = t + retryMs;
      state.handle = `${msg.id}-${Buffer.from(`${t} ${retryMs} ${state.consumedTimes} ${randomUUID()}`).toString("base64")}`;
      return (
        `<Message><MessageId>${msg.id}</MessageId><ReceiptHandle>${state.handle}</ReceiptHandle>` +
        `<MessageBodyMD5>${createHash("md5").update(msg.body).digest("hex").toUpperCase()}</MessageBodyMD5>` +
        `<MessageBody>${xmlEscape(msg.body)}</MessageBody><PublishTime>${msg.publishTime}</PublishTime>` +
        `<FirstConsumeTime>${msg.firstConsumeTime}</FirstConsumeTime><NextConsumeTime>${state.nextConsumeTime}</NextConsumeTime>` +
        `<ConsumedTimes>${state.consumedTimes}</ConsumedTimes>${msg.tag === undefined ? "" : `<MessageTag>${xmlEscape(msg.tag)}</MessageTag>`}` +
        `<Properties>${xmlEscape(msg.properties)}</Properties></Message>`
      );
    });
    return `<?xml version="1.0" encoding="UTF-8"?>\n<Messages xmlns="${MQ_XMLNS}">${items.join("")}</Messages>`;
  }

  return {
    ...fake.service(),
    createTopic(topic) {
      if (!topics.has(topic)) topics.set(topic, []);
    },
    publish(topic, message) {
      const id = `1E05791C1178${String(++seq).padStart(8, "0")}AAC23B1B`;
      const properties = Object.entries(message.properties ?? {})
        .map(([k, v]) => `${k}:${v}`)
        .join("|");
      const list = topics.get(topic) ?? [];
      topics.set(topic, list);
      list.push({ id, body: message.body, tag: message.tag, properties, publishTime: now(), groups: new Map() });
      fake.wake();
      return id;
    },
    acked(topic, group) {
      return (topics.get(topic) ?? []).filter((msg) => msg.groups.get(group)?.acked).map((msg) => msg.id);
    },
  };
}
