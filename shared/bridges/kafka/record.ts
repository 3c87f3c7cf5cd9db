/**
 * Kafka record -> CloudEvent, as Knative's KafkaSource does it (eventing-kafka-broker's
 * CloudEventDeserializer + InvalidCloudEventInterceptor): a record that already is a CloudEvent
 * (Kafka protocol binding, structured or binary mode) passes through unchanged; any other record,
 * including one whose CloudEvent does not validate, is wrapped as `dev.knative.kafka.event`.
 */
import type { AttributeValue, CloudEvent } from "../../cloudevents/event.ts";
import { encodeBase64 } from "../../base64.ts";
import { bodyData } from "../../cloudevents/binary.ts";
import { decodeStructured, validateEvent } from "../../cloudevents/index.ts";
import { mediaTypeEssence } from "../../cloudevents/media-type.ts";
import { decodeUtf8 } from "../../cloudevents/utf8.ts";
import { extensionName, sourceUri } from "../common/message-event.ts";
import type { PolledMessage } from "../types.ts";

/** Label `kafkasources.sources.knative.dev/key-type`. */
export type KeyType = "string" | "int" | "float" | "byte-array";
export const KEY_TYPES: readonly KeyType[] = ["string", "int", "float", "byte-array"];

export interface KafkaHeader {
  key: string;
  value: Uint8Array | null;
}

/** A record as every bridge client normalises it (bytes decoded from base64 or UTF-8). */
export interface KafkaRecord {
  topic: string;
  partition: number;
  offset: number;
  key: Uint8Array | null;
  value: Uint8Array | null;
  /** Milliseconds since the epoch; absent where the bridge does not return it (Confluent v2, Redpanda). */
  timestamp?: number;
  /** Absent where the bridge does not return headers (Confluent v2, Redpanda): binary-mode events are invisible there. */
  headers?: KafkaHeader[];
}

export interface SourceRef {
  namespace: string;
  name: string;
}

const utf8 = new TextDecoder();

/** Stable id of a record, also the dedup key of the hand-off: `topic/partition/offset`. */
export function recordKey(record: Pick<KafkaRecord, "topic" | "partition" | "offset">): string {
  return `${record.topic}/${record.partition}/${record.offset}`;
}

export function recordToMessage(record: KafkaRecord, source: SourceRef, keyType: KeyType): PolledMessage {
  const key = recordKey(record);
  const event = asCloudEvent(record) ?? wrapRecord(record, source, keyType);
  const invalid = validateEvent(event);
  if (invalid) return { key, poison: `record ${key} cannot become a CloudEvent: ${invalid.error}${invalid.field ? ` (field ${invalid.field})` : ""}` };
  return { key, event };
}

/** The record's own CloudEvent when it follows the Kafka protocol binding and validates, else undefined. */
function asCloudEvent(record: KafkaRecord): CloudEvent | undefined {
  let candidate: CloudEvent | undefined;
  if (record.headers) {
    const contentType = headerText(record.headers, "content-type");
    if (contentType !== undefined && mediaTypeEssence(contentType) === "application/cloudevents+json") {
      candidate = structured(record.value);
    } else if (record.headers.some((h) => h.key === "ce_specversion")) {
      candidate = binaryMode(record);
    }
  } else {
    // No headers through this bridge: only a structured-mode value is visible as a CloudEvent.
    candidate = structured(record.value);
  }
  return candidate && validateEvent(candidate) === null ? candidate : undefined;
}

function structured(value: Uint8Array | null): CloudEvent | undefined {
  if (value === null) return undefined;
  const text = decodeUtf8(value);
  if (text === null) return undefined;
  const decoded = decodeStructured(text);
  return "attributes" in decoded ? decoded : undefined;
}

/** Binary content mode: `ce_<attr>` headers, `content-type` <-> datacontenttype, value = data. */
function binaryMode(record: KafkaRecord): CloudEvent {
  const attributes: Record<string, AttributeValue> = {};
  for (const h of record.headers ?? []) {
    if (h.key.startsWith("ce_")) attributes[h.key.slice(3)] = h.value === null ? "" : utf8.decode(h.value);
    else if (h.key === "content-type" && h.value !== null) attributes.datacontenttype = utf8.decode(h.value);
  }
  const data = record.value && bodyData((attributes.datacontenttype as string | undefined) ?? null, record.value);
  return data ? { attributes, data } : { attributes };
}

function wrapRecord(record: KafkaRecord, source: SourceRef, keyType: KeyType): CloudEvent {
  const attributes: Record<string, AttributeValue> = {
    specversion: "1.0",
    id: `partition:${record.partition}/offset:${record.offset}`,
    source: sourceUri({ ...source, plural: "kafkasources" }, record.topic),
    type: "dev.knative.kafka.event",
    subject: `partition:${record.partition}#${record.offset}`,
  };
  if (record.timestamp !== undefined) attributes.time = javaInstant(record.timestamp);
  let contentType: string | undefined;
  for (const h of record.headers ?? []) {
    const value = h.value === null ? "" : utf8.decode(h.value);
    if (h.key === "content-type") contentType = value.toLowerCase();
    else attributes[extensionName("kafkaheader", h.key)] = value;
  }
  if (contentType !== undefined) attributes.datacontenttype = contentType;
  if (record.key !== null && record.key.length > 0) {
    const key = typedKey(record.key, keyType);
    attributes.key = key;
    attributes.partitionkey = key;
  }
  const data = record.value && bodyData(contentType ?? null, record.value);
  return data ? { attributes, data } : { attributes };
}

/** Knative's KeyDeserializer: int needs exactly 4 bytes, float 4 or 8; otherwise the key is a string. */
function typedKey(bytes: Uint8Array, keyType: KeyType): AttributeValue {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (keyType === "int" && bytes.length === 4) return view.getInt32(0);
  // CloudEvents has no float type: the value travels as Java's Float/Double.toString text.
  if (keyType === "float" && bytes.length === 4) return javaFloat(view.getFloat32(0), 9, (x) => Math.fround(x));
  if (keyType === "float" && bytes.length === 8) return javaFloat(view.getFloat64(0), 17, (x) => x);
  if (keyType === "byte-array") return encodeBase64(bytes); // the CloudEvents Binary type's string form
  return utf8.decode(bytes);
}

/** Shortest decimal that round-trips at the given precision, in Java's toString layout (1.0, 1.0E7, 1.0E-4). */
function javaFloat(value: number, maxDigits: number, round: (x: number) => number): string {
  if (Number.isNaN(value)) return "NaN";
  if (!Number.isFinite(value)) return value > 0 ? "Infinity" : "-Infinity";
  if (value === 0) return Object.is(value, -0) ? "-0.0" : "0.0";
  let digits = 1;
  while (digits < maxDigits && round(Number(value.toPrecision(digits))) !== value) digits++;
  const [mantissa, exp] = value.toExponential(digits - 1).split("e");
  const exponent = Number(exp);
  const abs = Math.abs(value);
  if (abs >= 1e-3 && abs < 1e7) {
    const plain = Number(value.toPrecision(digits)).toString();
    return plain.includes(".") ? plain : `${plain}.0`;
  }
  return `${mantissa.includes(".") ? mantissa : `${mantissa}.0`}E${exponent}`;
}

/** Java's OffsetDateTime.toString for a UTC instant: fraction only as long as needed. */
function javaInstant(ms: number): string {
  const iso = new Date(ms).toISOString(); // 2020-06-11T17:49:50.120Z
  const fraction = iso.slice(20, 23).replace(/0+$/, "");
  return `${iso.slice(0, 19)}${fraction ? `.${fraction}` : ""}Z`;
}

function headerText(headers: KafkaHeader[], name: string): string | undefined {
  const h = headers.find((x) => x.key === name);
  return h && h.value !== null ? utf8.decode(h.value) : undefined;
}
