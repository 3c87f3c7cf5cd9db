/**
 * The CloudEvent a poison message (one that cannot become a CloudEvent) is sent to the source's
 * dead-letter sink as. The original bytes are not carried (a bridge client keeps only the reason):
 * the key names the message in its system, the reason says what was wrong with it.
 */
import { encodeBase64 } from "../base64.ts";
import type { CloudEvent } from "../cloudevents/event.ts";
import { ERROR_DATA_MAX_BYTES } from "../delivery/policy.ts";
import { sourceUri, type SourceId } from "./common/message-event.ts";
import type { PolledMessage } from "./types.ts";

export const POISON_EVENT_TYPE = "dev.edge-eventing.source.poison";

export function poisonEvent(source: SourceId, message: PolledMessage, nowMs: number): CloudEvent {
  const reason = message.poison ?? "unknown reason";
  const bytes = new TextEncoder().encode(reason).subarray(0, ERROR_DATA_MAX_BYTES);
  return {
    attributes: {
      specversion: "1.0",
      // Stable per message: a re-sent poison record is deduplicated like any other event.
      id: `poison:${message.key}`,
      source: sourceUri(source),
      type: POISON_EVENT_TYPE,
      subject: message.key,
      time: new Date(nowMs).toISOString(),
      datacontenttype: "application/json",
      // Knative's dead-letter extension for "why": base64 of the reason, at most 768 bytes.
      knativeerrordata: encodeBase64(bytes),
    },
    data: { kind: "json", json: JSON.stringify({ key: message.key, reason }) },
  };
}
