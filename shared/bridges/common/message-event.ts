/**
 * How a polled message becomes a CloudEvent, for the RocketMQ, MNS and Redis Streams bridges
 * (the `source` URI and extension naming also serve the Kafka bridge and poison events).
 * As Knative's KafkaSource does for records (and the Kafka bridge here): a body that is a valid
 * structured-mode CloudEvent passes through unchanged; any other body, including a broken
 * CloudEvent, is wrapped in an event whose attributes the bridge supplies and whose data is the
 * body's exact bytes. A wrapped event that still breaks a CloudEvents rule is poison.
 */
import type { AttributeValue, CloudEvent } from "../../cloudevents/event.ts";
import { decodeStructured, validateEvent } from "../../cloudevents/index.ts";
import { decodeUtf8 } from "../../cloudevents/utf8.ts";
import type { PolledMessage } from "../types.ts";

/** The source resource a bridge polls for. */
export interface SourceId {
  namespace: string;
  /** Lower-case plural of the kind, e.g. `kafkasources`. */
  plural: string;
  name: string;
}

/** The events' `source`: the resource's API path, then `#` and the topic, queue or stream when given. */
export function sourceUri(id: SourceId, within?: string): string {
  const path = `/apis/v1/namespaces/${id.namespace}/${id.plural}/${id.name}`;
  return within === undefined ? path : `${path}#${within}`;
}

export interface WrapAttributes {
  id: string;
  source: string;
  type: string;
  /** Epoch ms of the message, when the system records one. */
  timeMs?: number;
  /** Already-named extensions (see `extensionName`). */
  extensions: Record<string, string>;
}

/** The message keyed `wrap.id` for a `body` (undefined or empty when the message has none). */
export function messageEvent(raw: Uint8Array | undefined, wrap: WrapAttributes): PolledMessage {
  const key = wrap.id;
  const body = raw && raw.length > 0 ? raw : undefined;
  const structured = body && asStructured(body);
  if (structured) return { key, event: structured };
  const attributes: Record<string, AttributeValue> = { specversion: "1.0", id: wrap.id, source: wrap.source, type: wrap.type };
  if (wrap.timeMs !== undefined && Number.isFinite(wrap.timeMs)) attributes.time = new Date(wrap.timeMs).toISOString();
  for (const [name, value] of Object.entries(wrap.extensions)) if (!(name in attributes)) attributes[name] = value;
  const event: CloudEvent = body ? { attributes, data: { kind: "binary", bytes: body } } : { attributes };
  const invalid = validateEvent(event);
  return invalid ? { key, poison: `message ${wrap.id} cannot become a CloudEvent: ${invalid.error}` } : { key, event };
}

/**
 * `prefix` + the name lower-cased with everything outside [a-z0-9] removed, the rule Knative
 * applies to Kafka headers (`X-Trace_Id` -> `kafkaheaderxtraceid`).
 */
export function extensionName(prefix: string, raw: string): string {
  return prefix + raw.toLowerCase().replace(/[^a-z0-9]/g, "");
}

function asStructured(body: Uint8Array): CloudEvent | undefined {
  // Cheap test first: most bodies are not JSON objects.
  let i = 0;
  while (i < body.length && (body[i] === 0x20 || body[i] === 0x09 || body[i] === 0x0a || body[i] === 0x0d)) i++;
  if (body[i] !== 0x7b) return undefined;
  const text = decodeUtf8(body);
  if (text === null) return undefined;
  const decoded = decodeStructured(text);
  return "attributes" in decoded ? decoded : undefined;
}
