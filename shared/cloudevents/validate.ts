/** The core specification's rules for context attributes (CloudEvents 1.0 and 0.3). */
import type { AttributeValue, CloudEvent, InputError } from "./event.ts";
import { ATTRIBUTE_LIMITS, quoted, utf8Length, valueLimitOf } from "./limits.ts";
import { isMediaType } from "./media-type.ts";

export function badRequest(error: string, field?: string): InputError {
  return field === undefined ? { status: 400, error } : { status: 400, error, field };
}

const ATTRIBUTE_NAME = /^[a-z0-9]+$/;
/** A CloudEvents 0.3 Map key: letters of either case and digits (a header-name token in binary mode). */
const MAP_KEY = /^[A-Za-z0-9]+$/;

/** `[a-z0-9]+`, any length (20 is only a SHOULD), and never `data`. */
export function isAttributeName(name: string): boolean {
  return name !== "data" && ATTRIBUTE_NAME.test(name);
}

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

/** What a CloudEvents String must not hold: control characters, surrogates, noncharacters. */
const FORBIDDEN_CHARACTER = /[\p{Cc}\p{Cs}\p{Noncharacter_Code_Point}]/u;

const URI_CHARACTERS = "(?:[A-Za-z0-9\\-._~:/?#\\[\\]@!$&'()*+,;=]|%[0-9A-Fa-f]{2})*";
const SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*$/;
const ABSOLUTE_URI = new RegExp(`^[A-Za-z][A-Za-z0-9+.-]*:${URI_CHARACTERS}$`);
const URI_REFERENCE = new RegExp(`^${URI_CHARACTERS}$`);

/** RFC 3986 URI-reference: a colon before the first `/`, `?` or `#` must end a valid scheme. */
function isUriReference(value: string): boolean {
  if (!URI_REFERENCE.test(value)) return false;
  const delimiter = value.search(/[:/?#]/);
  return delimiter < 0 || value[delimiter] !== ":" || SCHEME.test(value.slice(0, delimiter));
}

const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(?:[Zz]|[+-](\d{2}):(\d{2}))$/;

/** RFC 3339 `date-time`, field ranges included (leap second 60 allowed, as §5.6 does). */
function isTimestamp(value: string): boolean {
  const m = TIMESTAMP.exec(value);
  if (!m) return false;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number);
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  const daysInMonth = month === 2 ? (leap ? 29 : 28) : 30 + ((month + Math.floor(month / 8)) % 2);
  const offsetOk = m[7] === undefined || (Number(m[7]) <= 23 && Number(m[8]) <= 59);
  return month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth && hour <= 23 && minute <= 59 && second <= 60 && offsetOk;
}

/** A rule for a String-typed attribute the specification defines: an error message or undefined. */
type Rule = (value: string) => string | undefined;

const nonEmpty: Rule = (v) => (v === "" ? "must not be empty" : undefined);
const anyString: Rule = () => undefined;
const uriReference: Rule = (v) => (v === "" ? "must not be empty" : isUriReference(v) ? undefined : "must be a URI-reference (RFC 3986)");
const absoluteUri: Rule = (v) => (ABSOLUTE_URI.test(v) ? undefined : "must be an absolute URI (RFC 3986)");
const mediaType: Rule = (v) => (isMediaType(v) ? undefined : "must be a media type such as application/json");
const timestamp: Rule = (v) => (isTimestamp(v) ? undefined : "must be an RFC 3339 timestamp");

const COMMON: [string, Rule][] = [
  ["specversion", anyString],
  ["id", nonEmpty],
  ["source", uriReference],
  ["type", nonEmpty],
  ["datacontenttype", mediaType],
  ["subject", nonEmpty],
  ["time", timestamp],
];
const RULES: ReadonlyMap<string, ReadonlyMap<string, Rule>> = new Map([
  ["1.0", new Map([...COMMON, ["dataschema", absoluteUri]])],
  ["0.3", new Map([...COMMON, ["schemaurl", uriReference], ["datacontentencoding", nonEmpty]])],
]);

const REQUIRED = ["id", "source", "type"] as const;

export function badAttributeName(name: string): InputError {
  if (name.length > ATTRIBUTE_LIMITS.nameChars) return nameTooLong(name, name);
  const problem = name === "data" ? "is reserved for the event's data" : "must be lower-case letters and digits only";
  return badRequest(`attribute name ${JSON.stringify(name)} ${problem}`, name);
}

function nameTooLong(name: string, field: string): InputError {
  return badRequest(
    `attribute name ${quoted(name)} is longer than ${ATTRIBUTE_LIMITS.nameChars} characters`,
    field.length > ATTRIBUTE_LIMITS.nameChars ? quoted(field).slice(1, -1) : field,
  );
}

/**
 * UTF-8 bytes of a primitive value, or the refusal when over `limit`. Unless `exact`, a string short
 * enough to be within the limit whatever it holds is not scanned: 3 bytes a code unit stand for it (the
 * usual case, so the hot path scans nothing more). A string longer than the limit is refused unscanned.
 */
function valueBytes(field: string, value: string | number | boolean, limit: number, exact: boolean): number | InputError {
  if (typeof value !== "string") return String(value).length;
  if (!exact && value.length * 3 <= limit) return value.length * 3;
  const bytes = value.length > limit ? Infinity : utf8Length(value);
  return bytes <= limit ? bytes : badRequest(`attribute ${field} is longer than ${limit} bytes (UTF-8)`, field);
}

/**
 * How many attributes `name` counts for (a 0.3 Map: one per entry) and the bytes of its names and values
 * (at most that many unless `exact`); or the limit it breaks.
 */
function attributeSize(name: string, value: AttributeValue, exact: boolean): { count: number; bytes: number } | InputError {
  if (name.length > ATTRIBUTE_LIMITS.nameChars) return nameTooLong(name, name);
  if (typeof value !== "object") {
    const bytes = valueBytes(name, value, valueLimitOf(name), exact);
    return typeof bytes === "number" ? { count: 1, bytes: name.length + bytes } : bytes;
  }
  let count = 0;
  let bytes = name.length;
  for (const key in value) {
    const field = `${name}.${key}`;
    if (key.length > ATTRIBUTE_LIMITS.nameChars) return nameTooLong(key, field);
    const entry = valueBytes(field, value[key], ATTRIBUTE_LIMITS.valueBytes, exact);
    if (typeof entry !== "number") return entry;
    count++;
    bytes += key.length + entry;
  }
  return { count, bytes };
}

/** Exact UTF-8 bytes of the names and values of `attributes` up to and including `last` (all within their limits). */
function exactBytesThrough(attributes: CloudEvent["attributes"], last: string): number {
  let bytes = 0;
  for (const name in attributes) {
    bytes += (attributeSize(name, attributes[name], true) as { bytes: number }).bytes;
    if (name === last) return bytes;
  }
  return bytes;
}

function attributeError(name: string, value: AttributeValue, rule: Rule | undefined, mapsAllowed: boolean): InputError | null {
  if (!isAttributeName(name)) return badAttributeName(name);
  if (typeof value === "object") {
    if (!mapsAllowed || rule)
      return badRequest(
        `attribute ${name} must be a string, a boolean or an integer in the signed 32-bit range${mapsAllowed ? "" : " (maps are CloudEvents 0.3 only)"}`,
        name,
      );
    for (const key in value) {
      // 0.3 allows any case (its own example is `{"otherValue": 5}`); a key becomes part of a header name
      // in binary mode (`ce-{name}-{key}`), where it arrives lower-cased.
      if (!MAP_KEY.test(key)) return badRequest(`map attribute ${name} has key ${JSON.stringify(key)}: keys must be letters and digits`, `${name}.${key}`);
      const error = attributeError(name, value[key], undefined, false);
      if (error) return { ...error, field: `${name}.${key}` };
    }
    return null;
  }
  if (typeof value === "string") {
    const bad = FORBIDDEN_CHARACTER.exec(value);
    if (bad) {
      const code = bad[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0");
      return badRequest(`attribute ${name} contains the forbidden character U+${code}`, name);
    }
    const problem = rule?.(value);
    return problem === undefined ? null : badRequest(`attribute ${name} ${problem}`, name);
  }
  if (rule) return badRequest(`attribute ${name} must be a string`, name);
  if (typeof value === "boolean") return null;
  if (typeof value === "number" && Number.isInteger(value) && value >= INT32_MIN && value <= INT32_MAX) return null;
  return badRequest(`attribute ${name} must be a string, a boolean or an integer in the signed 32-bit range`, name);
}

/**
 * The first rule the event breaks, as a 400 naming the attribute; null when it is valid. `sized: false`
 * skips the size limits (limits.ts), for what the router reads back from its own storage.
 */
export function validateEvent(event: CloudEvent, sized = true): InputError | null {
  const attributes = event.attributes;
  const specversion = attributes.specversion;
  if (specversion === undefined) return badRequest("missing required attribute specversion", "specversion");
  const rules = typeof specversion === "string" ? RULES.get(specversion) : undefined;
  if (!rules) {
    return badRequest(`specversion ${JSON.stringify(specversion)} is not supported: use "1.0" or "0.3"`, "specversion");
  }
  for (const name of REQUIRED) {
    if (!Object.hasOwn(attributes, name)) return badRequest(`missing required attribute ${name}`, name);
  }
  let count = 0;
  let bytes = 0;
  let exact = false;
  for (const name in attributes) {
    if (sized) {
      // Sizes first: nothing else scans a value longer than its limit.
      const size = attributeSize(name, attributes[name], exact);
      if ("status" in size) return size;
      count += size.count;
      bytes += size.bytes;
      if (bytes > ATTRIBUTE_LIMITS.totalBytes && !exact) {
        // The estimate is over: count exactly what came so far, and from here on.
        exact = true;
        bytes = exactBytesThrough(attributes, name);
      }
      if (count > ATTRIBUTE_LIMITS.count)
        return badRequest(`an event may have at most ${ATTRIBUTE_LIMITS.count} attributes (each entry of a map counts)`, name);
      if (bytes > ATTRIBUTE_LIMITS.totalBytes)
        return badRequest(`the attributes of an event may take at most ${ATTRIBUTE_LIMITS.totalBytes} bytes together (names and values, UTF-8)`, name);
    }
    const error = attributeError(name, attributes[name], rules.get(name), specversion === "0.3");
    if (error) return error;
  }
  return null;
}
