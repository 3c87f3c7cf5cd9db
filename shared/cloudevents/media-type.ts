/**
 * Media types (RFC 9110 §8.3.1): `type/subtype` plus `; name=value` parameters. A single left-to-right
 * scan: the value is attacker-controlled (Content-Type, `datacontenttype`) and is checked before any
 * authentication, so no backtracking pattern may see it.
 */

/** Longest media type accepted; a longer one is refused before it is scanned. */
export const MAX_MEDIA_TYPE_LENGTH = 1024;

/** RFC 9110 tchar, indexed by char code. */
const TCHAR = new Uint8Array(128);
for (const c of "!#$%&'*+.^_`|~-") TCHAR[c.charCodeAt(0)] = 1;
for (let c = 48; c <= 57; c++) TCHAR[c] = 1;
for (let c = 65; c <= 90; c++) TCHAR[c] = TCHAR[c + 32] = 1;

/** The end of the token starting at `i` (`i` itself when there is none). */
function tokenEnd(s: string, i: number): number {
  while (i < s.length && TCHAR[s.charCodeAt(i)] === 1) i++;
  return i;
}

/** Past optional spaces and tabs. */
function skipWhitespace(s: string, i: number): number {
  while (s[i] === " " || s[i] === "\t") i++;
  return i;
}

/** The end of the quoted-string opening at `i`, or -1 when it is malformed or unterminated. */
function quotedEnd(s: string, i: number): number {
  for (let j = i + 1; j < s.length; j++) {
    const c = s.charCodeAt(j);
    if (c === 0x22) return j + 1;
    if (c === 0x5c) {
      const next = s.charCodeAt(++j);
      if (!(next === 0x09 || (next >= 0x20 && next <= 0x7e))) return -1;
    } else if (!(c === 0x09 || (c >= 0x20 && c <= 0x7e))) return -1;
  }
  return -1;
}

export function isMediaType(value: string): boolean {
  if (value.length > MAX_MEDIA_TYPE_LENGTH) return false;
  const slash = tokenEnd(value, 0);
  if (slash === 0 || value[slash] !== "/") return false;
  let i = tokenEnd(value, slash + 1);
  if (i === slash + 1) return false;
  while (i < value.length) {
    i = skipWhitespace(value, i);
    if (value[i] !== ";") return false;
    i = skipWhitespace(value, i + 1);
    if (i === value.length || value[i] === ";") continue; // an empty parameter, as RFC 9110 allows
    const equals = tokenEnd(value, i);
    if (equals === i || value[equals] !== "=") return false;
    i = value[equals + 1] === '"' ? quotedEnd(value, equals + 1) : tokenEnd(value, equals + 1);
    if (i <= equals + 1) return false;
  }
  return true;
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
