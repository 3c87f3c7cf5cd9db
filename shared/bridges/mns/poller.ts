/**
 * MNSSource over Alibaba Cloud Message Service (Simple Message Queue) queues: BatchReceiveMessage
 * long-poll (`waitseconds`), BatchDeleteMessage by receipt handle after hand-off. A message not
 * deleted becomes visible again after the queue's VisibilityTimeout, so nothing is lost.
 */
import { decodeBase64 } from "../../base64.ts";
import { createAliyunReceiver, type AliyunReceiveConfig } from "../alibaba/receiver.ts";
import { MNS_SIGNING } from "../alibaba/signature.ts";
import { xmlText } from "../alibaba/xml.ts";
import { messageEvent, sourceUri } from "../common/message-event.ts";
import type { FetchLike, PolledMessage, SourcePoller } from "../types.ts";

export const MNS_EVENT_TYPE = "dev.edge-eventing.mns.message";
export const MNS_XMLNS = "http://mns.aliyuncs.com/doc/v1/";

/**
 * `raw`: the body is the message text (MNS's Node and Go SDKs). `base64`: the producer
 * base64-encoded it (the Java SDK's default); a body that does not decode is poison.
 */
export type MnsBodyEncoding = "raw" | "base64";

export interface MnsPollerConfig extends AliyunReceiveConfig {
  /** `http(s)://{accountId}.mns.{region}.aliyuncs.com` */
  endpoint: string;
  queue: string;
  bodyEncoding?: MnsBodyEncoding;
}

export function createMnsPoller(config: MnsPollerConfig, fetch: FetchLike): SourcePoller {
  const encoding = config.bodyEncoding ?? "raw";
  const path = `/queues/${encodeURIComponent(config.queue)}/messages`;
  const source = sourceUri({ namespace: config.namespace, plural: "mnssources", name: config.name }, config.queue);
  return createAliyunReceiver(config, fetch, {
    scheme: MNS_SIGNING,
    // A GET carries no body, so like the SDKs it sends neither Content-Type nor Content-MD5.
    receiveResource: (numOfMessages, waitSeconds) => `${path}?numOfMessages=${numOfMessages}&waitseconds=${waitSeconds}`,
    deleteResource: path,
    xmlns: MNS_XMLNS,
    what: { receive: "MNS receive", delete: "MNS delete" },
    toMessage: (id, xml) => toPolledMessage(id, xml, source, encoding),
  });
}

function toPolledMessage(id: string, xml: string, source: string, encoding: MnsBodyEncoding): PolledMessage {
  const text = xmlText(xml, "MessageBody") ?? "";
  let body: Uint8Array;
  if (encoding === "base64") {
    const decoded = decodeBase64(text.trim(), true);
    if (decoded === null) return { key: id, poison: "MessageBody is not valid base64 (bodyEncoding: base64)" };
    body = decoded;
  } else {
    body = new TextEncoder().encode(text);
  }
  return messageEvent(body, { id, source, type: MNS_EVENT_TYPE, timeMs: Number(xmlText(xml, "EnqueueTime")), extensions: {} });
}
