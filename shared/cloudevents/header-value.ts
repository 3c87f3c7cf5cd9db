/** Binary-mode `ce-*` header values (HTTP binding §3.1.3.2). */
import { decodeUtf8 } from "./utf8.ts";

const utf8Encoder = new TextEncoder();

/** Characters a sender may leave unencoded: U+0021-U+007E except `"` and `%`. */
const PLAIN = /^[\x21\x23\x24\x26-\x7e]*$/;

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const lower = c | 0x20;
  return lower >= 0x61 && lower <= 0x66 ? lower - 0x57 : -1;
}

/** Removes RFC 7230 quoted-string quoting (older senders), backslash escapes included. */
function unquote(value: string): string | { error: string } {
  let out = "";
  for (let i = 1; i < value.length - 1; i++) {
    let c = value[i];
    if (c === "\\") {
      if (i + 1 === value.length - 1) return { error: "ends inside a quoted-string escape" };
      c = value[++i];
    } else if (c === '"') {
      return { error: "has an unescaped '\"' inside a quoted-string" };
    }
    out += c;
  }
  return out;
}

/**
 * The attribute value a header carries: quoted-string undone, then exactly one round of
 * percent-decoding (lower-case hex accepted); the bytes must be UTF-8. Headers hold byte strings,
 * so each character is one byte.
 */
export function decodeHeaderValue(raw: string): string | { error: string } {
  let value = raw;
  if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) {
    const unquoted = unquote(value);
    if (typeof unquoted !== "string") return unquoted;
    value = unquoted;
  }
  if (!value.includes("%") && PLAIN.test(value)) return value;
  const bytes = new Uint8Array(value.length);
  let n = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c !== 0x25) {
      bytes[n++] = c;
      continue;
    }
    const hi = hexValue(value.charCodeAt(i + 1)),
      lo = hexValue(value.charCodeAt(i + 2));
    if (hi < 0 || lo < 0) return { error: `has an invalid percent-encoding at character ${i}` };
    bytes[n++] = (hi << 4) | lo;
    i += 2;
  }
  return decodeUtf8(bytes.subarray(0, n)) ?? { error: "is not valid UTF-8 once percent-decoded" };
}

/** Percent-encodes space, `"`, `%` and everything outside U+0021-U+007E as UTF-8 `%XY`. */
export function encodeHeaderValue(value: string): string {
  if (PLAIN.test(value)) return value;
  let out = "";
  for (const byte of utf8Encoder.encode(value)) {
    const plain = byte >= 0x21 && byte <= 0x7e && byte !== 0x22 && byte !== 0x25;
    out += plain ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}
