/** The router's ingress codec: an HTTP request (or a subscriber's reply) -> CloudEvents. */
import { decodeBinary } from "./binary.ts";
import type { CloudEvent, InputError } from "./event.ts";
import { mediaTypeEssence } from "./media-type.ts";
import { decodeBatch, decodeStructured } from "./structured.ts";
import { decodeUtf8 } from "./utf8.ts";
import { badRequest } from "./validate.ts";

export type DecodeMode = "binary" | "structured" | "batch";

const STRUCTURED_JSON = "application/cloudevents+json";
const BATCH_JSON = "application/cloudevents-batch+json";

/**
 * The mode comes from Content-Type alone (HTTP binding §3). Event formats other than JSON are
 * refused with 415 rather than forwarded as opaque binary data.
 */
function modeOf(contentType: string | null): DecodeMode | InputError {
  if (contentType === null) return "binary";
  const essence = mediaTypeEssence(contentType);
  if (essence === BATCH_JSON) return "batch";
  if (essence === STRUCTURED_JSON) return "structured";
  if (essence.startsWith("application/cloudevents+") || essence.startsWith("application/cloudevents-batch+")) {
    return { status: 415, error: `unsupported event format ${essence}: only JSON (${STRUCTURED_JSON}, ${BATCH_JSON})` };
  }
  return "binary";
}

/** Decode an HTTP request (or a subscriber's reply) into events. headers: lower-case names. */
export function decodeHttp(headers: Headers, body: Uint8Array, limits: { maxBatchEvents: number }): { mode: DecodeMode; events: CloudEvent[] } | InputError {
  const mode = modeOf(headers.get("content-type"));
  if (typeof mode !== "string") return mode;
  if (mode === "binary") {
    const event = decodeBinary(headers, body);
    return "status" in event ? event : { mode, events: [event] };
  }
  const text = decodeUtf8(body);
  if (text === null) return badRequest(`a ${mode}-mode body must be UTF-8 JSON`);
  if (mode === "batch") {
    const events = decodeBatch(text, limits.maxBatchEvents);
    return "status" in events ? events : { mode, events };
  }
  const event = decodeStructured(text);
  return "status" in event ? event : { mode, events: [event] };
}
