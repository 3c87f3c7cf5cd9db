/** Media types (RFC 9110 §8.3.1): `type/subtype` plus `; name=value` parameters. */

const TOKEN = "[!#$%&'*+.^_`|~0-9A-Za-z-]+";
const QUOTED = '"(?:[\\t\\x20\\x21\\x23-\\x5b\\x5d-\\x7e]|\\\\[\\t\\x20-\\x7e])*"';
const MEDIA_TYPE = new RegExp(`^${TOKEN}/${TOKEN}(?:[ \\t]*;[ \\t]*(?:${TOKEN}=(?:${TOKEN}|${QUOTED}))?)*$`);

export function isMediaType(value: string): boolean {
  return MEDIA_TYPE.test(value);
}

/** `type/subtype` lower-cased, parameters dropped: media types compare case-insensitively. */
export function mediaTypeEssence(value: string): string {
  const semicolon = value.indexOf(";");
  return (semicolon < 0 ? value : value.slice(0, semicolon)).trim().toLowerCase();
}

/** `*\/json` and `*\/*+json`: the media types whose data the JSON format keeps as a JSON value. */
export function isJsonMediaType(value: string): boolean {
  const essence = mediaTypeEssence(value);
  const slash = essence.indexOf("/");
  if (slash < 0) return false;
  const subtype = essence.slice(slash + 1);
  return subtype === "json" || subtype.endsWith("+json");
}
