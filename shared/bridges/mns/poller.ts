/**
 * MNSSource over Alibaba Cloud Message Service (Simple Message Queue) queues: BatchReceiveMessage
 * long-poll (`waitseconds`), BatchDeleteMessage by receipt handle after hand-off. A message not
 * deleted becomes visible again after the queue's VisibilityTimeout, so nothing is lost.
 */
import {
  aliyunRequest, apiError, deleteReceiptHandles, ReceiptHandleBook, RECEIVE_SLACK_MS,
  type AliyunApi, type AliyunCredentials,
} from "../rocketmq/aliyun-http.ts";
import { messageEvent } from "../rocketmq/message-event.ts";
import { MNS_SIGNING } from "../rocketmq/signature.ts";
import { xmlElements, xmlText } from "../rocketmq/xml.ts";
import type { FetchLike, PolledMessage, SourcePoller } from "../types.ts";

export const MNS_EVENT_TYPE = "dev.edge-eventing.mns.message";
export const MNS_XMLNS = "http://mns.aliyuncs.com/doc/v1/";
export const MNS_MAX_MESSAGES = 16;
export const MNS_MAX_WAIT_SECONDS = 30;
export const MNS_DEFAULT_WAIT_SECONDS = 10;

/**
 * `raw`: the body is the message text (MNS's Node and Go SDKs). `base64`: the producer
 * base64-encoded it (the Java SDK's default); a body that does not decode is poison.
 */
export type MnsBodyEncoding = "raw" | "base64";

export interface MnsPollerConfig {
  /** `http(s)://{accountId}.mns.{region}.aliyuncs.com` */
  endpoint: string;
  queue: string;
  bodyEncoding?: MnsBodyEncoding;
  numOfMessages?: number;
  waitSeconds?: number;
  credentials: AliyunCredentials;
  /** The MNSSource resource, for the events' `source`. */
  namespace: string;
  name: string;
  now?: () => number;
}

export function createMnsPoller(config: MnsPollerConfig, fetch: FetchLike): SourcePoller {
  const api: AliyunApi = { scheme: MNS_SIGNING, endpoint: config.endpoint, credentials: config.credentials, fetch, now: config.now ?? Date.now };
  const numOfMessages = config.numOfMessages ?? MNS_MAX_MESSAGES;
  const waitSeconds = config.waitSeconds ?? MNS_DEFAULT_WAIT_SECONDS;
  if (!Number.isInteger(numOfMessages) || numOfMessages < 1 || numOfMessages > MNS_MAX_MESSAGES) throw new RangeError(`numOfMessages must be 1-${MNS_MAX_MESSAGES}`);
  if (!Number.isInteger(waitSeconds) || waitSeconds < 0 || waitSeconds > MNS_MAX_WAIT_SECONDS) throw new RangeError(`waitSeconds must be 0-${MNS_MAX_WAIT_SECONDS}`);
  const encoding = config.bodyEncoding ?? "raw";
  const path = `/queues/${encodeURIComponent(config.queue)}/messages`;
  const source = `/apis/v1/namespaces/${config.namespace}/mnssources/${config.name}#${config.queue}`;
  const handles = new ReceiptHandleBook();

  return {
    async poll(signal) {
      // A GET carries no body, so like the SDKs it sends neither Content-Type nor Content-MD5.
      const res = await aliyunRequest(api, {
        method: "GET", resource: `${path}?numOfMessages=${numOfMessages}&waitseconds=${waitSeconds}`, timeoutMs: waitSeconds * 1000 + RECEIVE_SLACK_MS, signal,
      });
      if (res.status === 404 && xmlText(res.text, "Code") === "MessageNotExist") return { messages: [] };
      if (res.status !== 200) throw apiError("MNS receive", res.status, res.text);
      const messages = xmlElements(res.text, "Message").map((xml) => {
        const id = xmlText(xml, "MessageId");
        const handle = xmlText(xml, "ReceiptHandle");
        if (!id || !handle) throw apiError("MNS receive", res.status, "a message lacks MessageId or ReceiptHandle");
        handles.remember(id, handle);
        return toPolledMessage(id, xml, source, encoding);
      });
      return { messages };
    },
    async commit(messages) {
      const toDelete = handles.take(messages.map((m) => m.key));
      if (toDelete.length > 0) await deleteReceiptHandles(api, path, MNS_XMLNS, toDelete, "MNS delete");
    },
    async close() {
      handles.clear();
    },
  };
}

function toPolledMessage(id: string, xml: string, source: string, encoding: MnsBodyEncoding): PolledMessage {
  const text = xmlText(xml, "MessageBody") ?? "";
  let body: Uint8Array | undefined;
  if (encoding === "base64") {
    try {
      body = Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
    } catch {
      return { key: id, poison: "MessageBody is not valid base64 (bodyEncoding: base64)" };
    }
  } else {
    body = new TextEncoder().encode(text);
  }
  const result = messageEvent(body.length === 0 ? undefined : body, {
    id, source, type: MNS_EVENT_TYPE, timeMs: Number(xmlText(xml, "EnqueueTime")), extensions: {},
  });
  return { key: id, ...result };
}
