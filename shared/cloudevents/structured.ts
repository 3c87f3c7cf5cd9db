/**
 * The JSON event format (json-format.md): one event object, or a batch array of them. One pass
 * over the text; `data` is kept as the exact span it occupies.
 */
import { decodeBase64, encodeBase64 } from "../base64.ts";
import type { AttributeMap, AttributeValue, CloudEvent, EventData, InputError } from "./event.ts";
import { CHAR, JsonSyntaxError, decodeString, expectChar, expectEnd, scanString, scanValue, skipWhitespace, unexpected } from "./json-scan.ts";
import { isJsonMediaType } from "./media-type.ts";
import { badAttributeName, badRequest, isAttributeName, validateEvent } from "./validate.ts";

const INTEGER = /^-?(?:0|[1-9][0-9]*)$/;

interface Span {
  start: number;
  end: number;
}

/** An event object's result and where the object ends. */
interface ObjectRead {
  result: CloudEvent | InputError;
  end: number;
}

/** A member value other than `data`: its attribute value (undefined for null: absent), or the refusal. */
function attributeValue(text: string, name: string, value: Span): { value: AttributeValue | undefined } | { refused: InputError } {
  const first = text.charCodeAt(value.start);
  if (first === CHAR.QUOTE) return { value: decodeString(text, value.start, value.end) };
  const raw = text.slice(value.start, value.end);
  if (raw === "true") return { value: true };
  if (raw === "false") return { value: false };
  if (raw === "null") return { value: undefined };
  // A CloudEvents 0.3 Map: an object of primitive values (validation refuses it in 1.0 events).
  if (first === CHAR.LBRACE) return mapValue(name, raw);
  // Only integer notation: `1.0` or `1e2` would come back out as `1` or `100`.
  if (INTEGER.test(raw)) return { value: Number(raw) };
  return { refused: badRequest(`attribute ${name} must be a string, a boolean or an integer in the signed 32-bit range`, name) };
}

function mapValue(name: string, raw: string): { value: AttributeMap } | { refused: InputError } {
  const parsed = JSON.parse(raw) as Record<string, unknown>;
  for (const key in parsed) {
    const v = parsed[key];
    if (typeof v !== "string" && typeof v !== "boolean" && !(typeof v === "number" && Number.isInteger(v))) {
      return { refused: badRequest(`map attribute ${name} has a value that is not a string, a boolean or an integer`, `${name}.${key}`) };
    }
  }
  return { value: parsed as AttributeMap };
}

function isNull(text: string, span: Span): boolean {
  return span.end - span.start === 4 && text.startsWith("null", span.start);
}

/** The event's data from its `data` or `data_base64` member, once the attributes are valid. */
function eventData(text: string, attributes: CloudEvent["attributes"], data?: Span, base64?: Span): EventData | InputError | undefined {
  if (base64 && isNull(text, base64)) base64 = undefined;
  if (data && base64) return badRequest("data and data_base64 are mutually exclusive", "data_base64");
  if (base64) {
    if (text.charCodeAt(base64.start) !== CHAR.QUOTE) return badRequest("data_base64 must be a string", "data_base64");
    const bytes = decodeBase64(decodeString(text, base64.start, base64.end));
    return bytes ? { kind: "binary", bytes } : badRequest("data_base64 is not valid base64 (RFC 4648, padded)", "data_base64");
  }
  if (!data) return undefined;
  const isString = text.charCodeAt(data.start) === CHAR.QUOTE;
  if (isBase64Encoded(attributes)) {
    // CloudEvents 0.3: `data` is the bytes in base64. The event holds the bytes; the encoding is the
    // format's business (encodeStructured writes it again), so a binary-mode subscriber gets the bytes.
    if (!isString) return badRequest("data must be a base64 string when datacontentencoding is base64", "data");
    const bytes = decodeBase64(decodeString(text, data.start, data.end));
    if (!bytes) return badRequest("data is not valid base64", "data");
    delete attributes.datacontentencoding;
    return { kind: "binary", bytes };
  }
  const contentType = attributes.datacontenttype;
  if (isString && typeof contentType === "string" && !isJsonMediaType(contentType)) {
    return { kind: "text", text: decodeString(text, data.start, data.end) };
  }
  return { kind: "json", json: text.slice(data.start, data.end) };
}

/** The event object starting at `pos` (an opening brace). Syntax errors throw JsonSyntaxError. `sized`: see validateEvent. */
function readEventObject(text: string, pos: number, sized: boolean): ObjectRead {
  const attributes: CloudEvent["attributes"] = {};
  const seen = new Set<string>();
  let data: Span | undefined;
  let base64: Span | undefined;
  pos = skipWhitespace(text, expectChar(text, pos, CHAR.LBRACE));
  if (text.charCodeAt(pos) === CHAR.RBRACE) pos++;
  else {
    for (;;) {
      const nameEnd = scanString(text, pos);
      const name = decodeString(text, pos, nameEnd);
      const valueStart = skipWhitespace(text, expectChar(text, skipWhitespace(text, nameEnd), CHAR.COLON));
      const value = { start: valueStart, end: scanValue(text, valueStart) };
      if (seen.has(name)) return { result: badRequest(`member ${JSON.stringify(name)} appears twice`, name), end: value.end };
      seen.add(name);
      if (name === "data") data = value;
      else if (name === "data_base64") base64 = value;
      else {
        if (!isAttributeName(name)) return { result: badAttributeName(name), end: value.end };
        const attribute = attributeValue(text, name, value);
        if ("refused" in attribute) return { result: attribute.refused, end: value.end };
        if (attribute.value !== undefined) attributes[name] = attribute.value;
      }
      pos = skipWhitespace(text, value.end);
      const next = text.charCodeAt(pos++);
      if (next === CHAR.RBRACE) break;
      if (next !== CHAR.COMMA) throw unexpected(text, pos - 1, '"," or "}"');
      pos = skipWhitespace(text, pos);
    }
  }
  const invalid = validateEvent({ attributes }, sized);
  if (invalid) return { result: invalid, end: pos };
  const eventDataOrError = eventData(text, attributes, data, base64);
  if (eventDataOrError && "status" in eventDataOrError) return { result: eventDataOrError, end: pos };
  return { result: eventDataOrError ? { attributes, data: eventDataOrError } : { attributes }, end: pos };
}

function syntaxError(e: unknown): InputError {
  if (e instanceof JsonSyntaxError) return badRequest(e.message);
  throw e;
}

/** A refusal stands only if the whole text is JSON: a syntax error is reported first. */
function afterSyntaxCheck(text: string, start: number, refusal: InputError): InputError {
  expectEnd(text, scanValue(text, start));
  return refusal;
}

/** The outer value must start with `open`: otherwise a 400 saying what it must be (after a syntax check). */
function expectContainer(text: string, pos: number, open: number, what: string): InputError | null {
  return text.charCodeAt(pos) === open ? null : afterSyntaxCheck(text, pos, badRequest(what));
}

/**
 * One structured-mode JSON text -> event (also how the router reads back its own storage, with `sized`
 * false: events stored before a size limit existed still read back).
 */
export function decodeStructured(text: string, sized = true): CloudEvent | InputError {
  try {
    const start = skipWhitespace(text, 0);
    const notObject = expectContainer(text, start, CHAR.LBRACE, "a structured-mode event must be a JSON object");
    if (notObject) return notObject;
    const { result, end } = readEventObject(text, start, sized);
    if ("status" in result) return afterSyntaxCheck(text, start, result);
    expectEnd(text, end);
    return result;
  } catch (e) {
    return syntaxError(e);
  }
}

function inElement(error: InputError, index: number): InputError {
  return { ...error, field: error.field === undefined ? `[${index}]` : `[${index}].${error.field}` };
}

/** A batch (JSON array of events, possibly empty) holding at most `maxEvents` events. `sized`: see decodeStructured. */
export function decodeBatch(text: string, maxEvents: number, sized = true): CloudEvent[] | InputError {
  try {
    const start = skipWhitespace(text, 0);
    let pos = start;
    const notArray = expectContainer(text, pos, CHAR.LBRACKET, "a batch must be a JSON array of events");
    if (notArray) return notArray;
    const events: CloudEvent[] = [];
    pos = skipWhitespace(text, pos + 1);
    if (text.charCodeAt(pos) === CHAR.RBRACKET) pos++;
    else {
      for (;;) {
        const index = events.length;
        if (index === maxEvents) return { status: 413, error: `a batch may hold at most ${maxEvents} events` };
        const notObject = text.charCodeAt(pos) === CHAR.LBRACE ? null : badRequest("a batch element must be a JSON object");
        if (notObject) return afterSyntaxCheck(text, start, inElement(notObject, index));
        const { result, end } = readEventObject(text, pos, sized);
        if ("status" in result) return afterSyntaxCheck(text, start, inElement(result, index));
        if (index > 0 && result.attributes.specversion !== events[0].attributes.specversion) {
          const mixed = badRequest("all events of a batch must have the same specversion", "specversion");
          return afterSyntaxCheck(text, start, inElement(mixed, index));
        }
        events.push(result);
        pos = skipWhitespace(text, end);
        const next = text.charCodeAt(pos++);
        if (next === CHAR.RBRACKET) break;
        if (next !== CHAR.COMMA) throw unexpected(text, pos - 1, '"," or "]"');
        pos = skipWhitespace(text, pos);
      }
    }
    expectEnd(text, pos);
    return events;
  } catch (e) {
    return syntaxError(e);
  }
}

/** CloudEvents 0.3's `datacontentencoding: base64` (case-insensitive, as 0.3's values are). */
export function isBase64Encoded(attributes: CloudEvent["attributes"]): boolean {
  const encoding = attributes.specversion === "0.3" ? attributes.datacontentencoding : undefined;
  return typeof encoding === "string" && encoding.toLowerCase() === "base64";
}

/**
 * The application/cloudevents+json body: attributes in their order, then the data as it came. Bytes are
 * `data_base64` in 1.0; 0.3 has no such member, so there they are base64 text in `data` with
 * `datacontentencoding: base64`.
 */
export function encodeStructured(event: CloudEvent): string {
  const data = event.data;
  const v03Bytes = data?.kind === "binary" && event.attributes.specversion === "0.3";
  const attributes = v03Bytes ? { ...event.attributes, datacontentencoding: "base64" } : event.attributes;
  let out = "{";
  for (const name in attributes) {
    out += `${out.length > 1 ? "," : ""}${JSON.stringify(name)}:${JSON.stringify(attributes[name])}`;
  }
  if (data) {
    const member =
      data.kind === "json"
        ? `"data":${data.json}`
        : data.kind === "text"
          ? `"data":${JSON.stringify(data.text)}`
          : v03Bytes
            ? `"data":"${encodeBase64(data.bytes)}"`
            : `"data_base64":"${encodeBase64(data.bytes)}"`;
    out += (out.length > 1 ? "," : "") + member;
  }
  return `${out}}`;
}
