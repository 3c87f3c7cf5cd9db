/**
 * RocketMQSource over Alibaba Cloud's RocketMQ HTTP API (4.x instances): long-poll consume,
 * acknowledge by receipt handle after hand-off. Unacknowledged messages come back at their
 * NextConsumeTime (every 5 minutes, up to 288 times), so a failed hand-off loses nothing.
 */
import { XML_CONTENT_TYPE } from "../alibaba/http.ts";
import { createAliyunReceiver, type AliyunReceiveConfig } from "../alibaba/receiver.ts";
import { ROCKETMQ_SIGNING } from "../alibaba/signature.ts";
import { xmlText } from "../alibaba/xml.ts";
import { extensionName, messageEvent, sourceUri } from "../common/message-event.ts";
import type { FetchLike, PolledMessage, SourcePoller } from "../types.ts";

export const ROCKETMQ_EVENT_TYPE = "dev.edge-eventing.rocketmq.message";
export const ROCKETMQ_XMLNS = "http://mq.aliyuncs.com/doc/v1/";

export interface RocketMQPollerConfig extends AliyunReceiveConfig {
  /** `http(s)://{uid}.mqrest.{region}.aliyuncs.com` */
  endpoint: string;
  /** `MQ_INST_...`; required by namespaced (current) instances. */
  instanceId?: string;
  topic: string;
  /** Consumer group, `GID_...`. */
  groupId: string;
  /** Tag filter such as `TagA||TagB`. */
  tag?: string;
}

/** Reserved properties that become dedicated extensions or are RocketMQ's own bookkeeping. */
const KEYS_PROPERTY = "KEYS";
const SHARDING_KEY_PROPERTY = "__SHARDINGKEY";

export function createRocketMQPoller(config: RocketMQPollerConfig, fetch: FetchLike): SourcePoller {
  const path = `/topics/${encodeURIComponent(config.topic)}/messages`;
  const group = `consumer=${encodeURIComponent(config.groupId)}${config.instanceId ? `&ns=${encodeURIComponent(config.instanceId)}` : ""}`;
  const tag = config.tag ? `&tag=${encodeURIComponent(config.tag)}` : "";
  const source = sourceUri({ namespace: config.namespace, plural: "rocketmqsources", name: config.name }, config.topic);
  return createAliyunReceiver(config, fetch, {
    scheme: ROCKETMQ_SIGNING,
    receiveResource: (numOfMessages, waitSeconds) => `${path}?${group}${tag}&numOfMessages=${numOfMessages}&waitseconds=${waitSeconds}`,
    // RocketMQ's SDKs send Content-Type on every request, so the consume GET signs it too.
    receiveContentType: XML_CONTENT_TYPE,
    deleteResource: `${path}?${group}`,
    xmlns: ROCKETMQ_XMLNS,
    what: { receive: "RocketMQ consume", delete: "RocketMQ ack" },
    toMessage: (id, xml) => toPolledMessage(id, xml, source),
  });
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
  return messageEvent(new TextEncoder().encode(body), {
    id,
    source,
    type: ROCKETMQ_EVENT_TYPE,
    timeMs: Number(xmlText(xml, "PublishTime")),
    extensions,
  });
}

/** `KEYS:k|__SHARDINGKEY:s|user:v` as the SDKs write it (values cannot contain `|` or `:`). */
function parseProperties(text: string): [string, string][] {
  return text.split("|").flatMap((pair) => {
    const at = pair.indexOf(":");
    return at > 0 ? [[pair.slice(0, at), pair.slice(at + 1)] as [string, string]] : [];
  });
}
