/**
 * RocketMQSource over Alibaba Cloud's RocketMQ HTTP API (4.x instances): long-poll consume,
 * acknowledge by receipt handle after hand-off. Unacknowledged messages come back at their
 * NextConsumeTime (every 5 minutes, up to 288 times), so a failed hand-off loses nothing.
 */
import type { FetchLike, PolledMessage, SourcePoller } from "../types.ts";
import {
  aliyunRequest, apiError, deleteReceiptHandles, ReceiptHandleBook, RECEIVE_SLACK_MS, XML_CONTENT_TYPE,
  type AliyunApi, type AliyunCredentials,
} from "./aliyun-http.ts";
import { extensionName, messageEvent } from "./message-event.ts";
import { ROCKETMQ_SIGNING } from "./signature.ts";
import { xmlElements, xmlText } from "./xml.ts";

export const ROCKETMQ_EVENT_TYPE = "dev.edge-eventing.rocketmq.message";
export const ROCKETMQ_XMLNS = "http://mq.aliyuncs.com/doc/v1/";
/** The API's limits: 1-16 messages per consume, 0-30 s long-poll. */
export const ROCKETMQ_MAX_MESSAGES = 16;
export const ROCKETMQ_MAX_WAIT_SECONDS = 30;
export const ROCKETMQ_DEFAULT_WAIT_SECONDS = 10;

export interface RocketMQPollerConfig {
  /** `http(s)://{uid}.mqrest.{region}.aliyuncs.com` */
  endpoint: string;
  /** `MQ_INST_...`; required by namespaced (current) instances. */
  instanceId?: string;
  topic: string;
  /** Consumer group, `GID_...`. */
  groupId: string;
  /** Tag filter such as `TagA||TagB`. */
  tag?: string;
  numOfMessages?: number;
  waitSeconds?: number;
  credentials: AliyunCredentials;
  /** The RocketMQSource resource, for the events' `source`. */
  namespace: string;
  name: string;
  now?: () => number;
}

/** Reserved properties that become dedicated extensions or are RocketMQ's own bookkeeping. */
const KEYS_PROPERTY = "KEYS";
const SHARDING_KEY_PROPERTY = "__SHARDINGKEY";

export function createRocketMQPoller(config: RocketMQPollerConfig, fetch: FetchLike): SourcePoller {
  const api: AliyunApi = { scheme: ROCKETMQ_SIGNING, endpoint: config.endpoint, credentials: config.credentials, fetch, now: config.now ?? Date.now };
  const numOfMessages = config.numOfMessages ?? ROCKETMQ_MAX_MESSAGES;
  const waitSeconds = config.waitSeconds ?? ROCKETMQ_DEFAULT_WAIT_SECONDS;
  if (!Number.isInteger(numOfMessages) || numOfMessages < 1 || numOfMessages > ROCKETMQ_MAX_MESSAGES) throw new RangeError(`numOfMessages must be 1-${ROCKETMQ_MAX_MESSAGES}`);
  if (!Number.isInteger(waitSeconds) || waitSeconds < 0 || waitSeconds > ROCKETMQ_MAX_WAIT_SECONDS) throw new RangeError(`waitSeconds must be 0-${ROCKETMQ_MAX_WAIT_SECONDS}`);

  const path = `/topics/${encodeURIComponent(config.topic)}/messages`;
  const group = `consumer=${encodeURIComponent(config.groupId)}${config.instanceId ? `&ns=${encodeURIComponent(config.instanceId)}` : ""}`;
  const consumeResource = `${path}?${group}${config.tag ? `&tag=${encodeURIComponent(config.tag)}` : ""}&numOfMessages=${numOfMessages}&waitseconds=${waitSeconds}`;
  const source = `/apis/v1/namespaces/${config.namespace}/rocketmqsources/${config.name}#${config.topic}`;
  const handles = new ReceiptHandleBook();

  return {
    async poll(signal) {
      const res = await aliyunRequest(api, {
        method: "GET", resource: consumeResource, contentType: XML_CONTENT_TYPE, timeoutMs: waitSeconds * 1000 + RECEIVE_SLACK_MS, signal,
      });
      if (res.status === 404 && xmlText(res.text, "Code") === "MessageNotExist") return { messages: [] };
      if (res.status !== 200) throw apiError("RocketMQ consume", res.status, res.text);
      const messages: PolledMessage[] = xmlElements(res.text, "Message").map((xml) => {
        const id = xmlText(xml, "MessageId");
        const handle = xmlText(xml, "ReceiptHandle");
        if (!id || !handle) throw apiError("RocketMQ consume", res.status, "a message lacks MessageId or ReceiptHandle");
        handles.remember(id, handle);
        return toPolledMessage(id, xml, source);
      });
      return { messages };
    },
    async commit(messages) {
      const toDelete = handles.take(messages.map((m) => m.key));
      if (toDelete.length > 0) await deleteReceiptHandles(api, `${path}?${group}`, ROCKETMQ_XMLNS, toDelete, "RocketMQ ack");
    },
    async close() {
      handles.clear();
    },
  };
}

function toPolledMessage(id: string, xml: string, source: string): PolledMessage {
  const body = xmlText(xml, "MessageBody") ?? "";
  const extensions: Record<string, string> = {};
  const tag = xmlText(xml, "MessageTag");
  if (tag) extensions.rocketmqtag = tag;
  for (const [name, value] of parseProperties(xmlText(xml, "Properties") ?? "")) {
    if (name === KEYS_PROPERTY) extensions.rocketmqkeys = value;
    else if (name === SHARDING_KEY_PROPERTY) extensions.partitionkey = value;
    else if (!name.startsWith("__")) extensions[extensionName("rocketmqprop", name)] ??= value;
  }
  const result = messageEvent(body === "" ? undefined : new TextEncoder().encode(body), {
    id, source, type: ROCKETMQ_EVENT_TYPE, timeMs: Number(xmlText(xml, "PublishTime")), extensions,
  });
  return { key: id, ...result };
}

/** `KEYS:k|__SHARDINGKEY:s|user:v` as the SDKs write it (values cannot contain `|` or `:`). */
function parseProperties(text: string): [string, string][] {
  return text.split("|").flatMap((pair) => {
    const at = pair.indexOf(":");
    return at > 0 ? [[pair.slice(0, at), pair.slice(at + 1)] as [string, string]] : [];
  });
}
