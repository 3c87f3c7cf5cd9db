/** Binary content mode (HTTP binding §3.1): attributes in `ce-*` headers, data as the body. */
import type { CloudEvent, EventData, InputError } from "./event.ts";
import { decodeHeaderValue, encodeHeaderValue } from "./header-value.ts";
import { isJsonText } from "./json-scan.ts";
import { isJsonMediaType } from "./media-type.ts";
import { isBase64Encoded } from "./structured.ts";
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
  // CloudEvents 0.3 carries a Map attribute as one header per entry, `ce-{name}-{key}`.
  const maps = headers.get("ce-specversion") === "0.3" ? new Map<string, Record<string, string>>() : undefined;
  for (const [header, raw] of headers) {
    if (!header.startsWith("ce-")) continue;
    const dash = maps ? header.indexOf("-", 3) : -1;
    const name = header.slice(3, dash < 0 ? undefined : dash);
    if (!isAttributeName(name)) return badAttributeName(header.slice(3));
    const value = decodeHeaderValue(raw);
    if (typeof value !== "string") return badRequest(`header ${header} ${value.error}`, name);
    if (dash < 0) attributes[name] = value;
    else maps!.set(name, { ...maps!.get(name), [header.slice(dash + 1)]: value });
  }
  for (const [name, map] of maps ?? []) {
    if (Object.hasOwn(attributes, name)) return badRequest(`attribute ${name} is given both as a value and as a map`, name);
    attributes[name] = map;
  }
  const contentType = headers.get("content-type");
  if (contentType !== null) attributes.datacontenttype = contentType;
  const invalid = validateEvent({ attributes });
  if (invalid) return invalid;
  // 0.3's base64 encoding belongs to the structured format; in binary mode the body is the bytes themselves.
  if (isBase64Encoded(attributes)) delete attributes.datacontentencoding;
  const data = bodyData(contentType, body);
  return data ? { attributes, data } : { attributes };
}

/** `ce-*` headers (percent-encoded), Content-Type from datacontenttype, data as the body; a 0.3 Map is one `ce-{name}-{key}` header per entry. */
export function encodeBinary(event: CloudEvent): { headers: Headers; body: Uint8Array | null } {
  const headers = new Headers();
  for (const name in event.attributes) {
    const value = event.attributes[name];
    if (name === "datacontenttype") headers.set("content-type", String(value));
    else if (typeof value === "object") for (const key in value) headers.set(`ce-${name}-${key}`, encodeHeaderValue(String(value[key])));
    else headers.set(`ce-${name}`, encodeHeaderValue(String(value)));
  }
  const data = event.data;
  if (!data) return { headers, body: null };
  if (data.kind === "json" && !headers.has("content-type")) headers.set("content-type", "application/json");
  const body = data.kind === "binary" ? data.bytes : utf8Encoder.encode(data.kind === "json" ? data.json : data.text);
  return { headers, body };
}
