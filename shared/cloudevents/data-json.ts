/** An event's data as a JSON value, for expression filters (CEL's `event.data`). */
import type { CloudEvent } from "./event.ts";
import { isJsonMediaType } from "./media-type.ts";
import { decodeUtf8 } from "./utf8.ts";

/**
 * Parsed data when it is JSON: JSON text, or bytes (`data_base64`) under a JSON datacontenttype
 * that parse. Otherwise (text, other bytes, no data) undefined.
 */
export function dataAsJson(event: CloudEvent): unknown | undefined {
  const data = event.data;
  if (data?.kind === "json") return JSON.parse(data.json);
  const contentType = event.attributes.datacontenttype;
  if (data?.kind !== "binary" || typeof contentType !== "string" || !isJsonMediaType(contentType)) return undefined;
  const text = decodeUtf8(data.bytes);
  if (text === null) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
