/** Binary content mode (HTTP binding §3.1): attributes in `ce-*` headers, data as the body. */
import type { CloudEvent, EventData, InputError } from "./event.ts";
import { decodeHeaderValue, encodeHeaderValue } from "./header-value.ts";
import { isJsonText } from "./json-scan.ts";
import { isJsonMediaType } from "./media-type.ts";
import { decodeUtf8 } from "./utf8.ts";
import { badAttributeName, badRequest, isAttributeName, validateEvent } from "./validate.ts";

const utf8Encoder = new TextEncoder();

/** A JSON media type and a body that parses: JSON text; anything else: the bytes as they are. */
export function bodyData(contentType: string | null, body: Uint8Array): EventData | undefined {
  if (body.length === 0) return undefined;
  if (contentType !== null && isJsonMediaType(contentType)) {
    const json = decodeUtf8(body);
    if (json !== null && isJsonText(json)) return { kind: "json", json };
  }
  return { kind: "binary", bytes: body };
}

/** Headers are expected with lower-case names (as Headers iterates them). */
export function decodeBinary(headers: Headers, body: Uint8Array): CloudEvent | InputError {
  if (!headers.has("ce-specversion")) {
    return badRequest("binary mode needs a ce-specversion header (or Content-Type application/cloudevents+json)", "specversion");
  }
  if (headers.has("ce-datacontenttype")) {
    return badRequest("binary mode carries datacontenttype in Content-Type, not ce-datacontenttype", "datacontenttype");
  }
  const attributes: CloudEvent["attributes"] = {};
  for (const [header, raw] of headers) {
    if (!header.startsWith("ce-")) continue;
    const name = header.slice(3);
    if (!isAttributeName(name)) return badAttributeName(name);
    const value = decodeHeaderValue(raw);
    if (typeof value !== "string") return badRequest(`header ${header} ${value.error}`, name);
    attributes[name] = value;
  }
  const contentType = headers.get("content-type");
  if (contentType !== null) attributes.datacontenttype = contentType;
  const invalid = validateEvent({ attributes });
  if (invalid) return invalid;
  const data = bodyData(contentType, body);
  return data ? { attributes, data } : { attributes };
}

/** `ce-*` headers (percent-encoded), Content-Type from datacontenttype, data as the body. */
export function encodeBinary(event: CloudEvent): { headers: Headers; body: Uint8Array | null } {
  const headers = new Headers();
  for (const name in event.attributes) {
    const value = event.attributes[name];
    if (name === "datacontenttype") headers.set("content-type", String(value));
    else headers.set(`ce-${name}`, encodeHeaderValue(String(value)));
  }
  const data = event.data;
  if (!data) return { headers, body: null };
  if (data.kind === "json" && !headers.has("content-type")) headers.set("content-type", "application/json");
  const body = data.kind === "binary" ? data.bytes : utf8Encoder.encode(data.kind === "json" ? data.json : data.text);
  return { headers, body };
}
