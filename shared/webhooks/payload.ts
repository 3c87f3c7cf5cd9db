/** A verified webhook body, read the way providers send it: JSON, or form-encoded (optionally with a JSON `payload=` field). */
import type { EventData } from "../cloudevents/event.ts";

export interface Payload {
  /** Lower-cased media type without parameters; "" when the request had no Content-Type. */
  mediaType: string;
  /** The JSON body, or the JSON in a form's `payload` field (Slack interactivity, GitHub form deliveries). */
  json?: unknown;
  form?: URLSearchParams;
}

const FORM = "application/x-www-form-urlencoded";

export function mediaTypeOf(headers: Headers): string {
  return (headers.get("content-type") ?? "").split(";")[0].trim().toLowerCase();
}

export function isJsonMediaType(mediaType: string): boolean {
  return mediaType === "application/json" || mediaType.endsWith("+json");
}

export function isFormMediaType(mediaType: string): boolean {
  return mediaType === FORM;
}

export function decodeUtf8(body: Uint8Array): string | null {
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(body);
  } catch {
    return null;
  }
}

export function parsePayload(headers: Headers, body: Uint8Array): Payload | { error: string } {
  const mediaType = mediaTypeOf(headers);
  if (!isJsonMediaType(mediaType) && !isFormMediaType(mediaType)) return { mediaType };
  const text = decodeUtf8(body);
  if (text === null) return { error: "body is not valid UTF-8" };
  if (isJsonMediaType(mediaType)) {
    try {
      return { mediaType, json: JSON.parse(text) };
    } catch (e) {
      return { error: `body is not valid JSON: ${(e as Error).message}` };
    }
  }
  const form = new URLSearchParams(text);
  const embedded = form.get("payload");
  if (embedded === null) return { mediaType, form };
  try {
    return { mediaType, form, json: JSON.parse(embedded) };
  } catch (e) {
    return { error: `form field payload is not valid JSON: ${(e as Error).message}` };
  }
}

/** The body exactly as received: JSON text for a JSON media type, otherwise its bytes. */
export function eventData(mediaType: string, body: Uint8Array): EventData {
  const text = isJsonMediaType(mediaType) ? decodeUtf8(body) : null;
  return text === null ? { kind: "binary", bytes: body } : { kind: "json", json: text };
}

/** The value at a dotted path of a JSON value, or undefined. */
export function at(value: unknown, path: string): unknown {
  let current = value;
  for (const key of path.split(".")) {
    if (typeof current !== "object" || current === null || Array.isArray(current)) return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

/** A string, or a number as its decimal text (ids arrive as either); undefined for anything else or "". */
export function textAt(value: unknown, path: string): string | undefined {
  const v = at(value, path);
  if (typeof v === "string") return v === "" ? undefined : v;
  if (typeof v === "number" && Number.isFinite(v)) return String(v);
  return undefined;
}
