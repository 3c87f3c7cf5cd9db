/**
 * Base64 with the standard alphabet (RFC 4648 §4): the one codec of the project (JSON `data_base64`,
 * Kafka REST records, `knativeerrordata`, signatures, HTTP Basic credentials).
 */

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const VALUES = new Int8Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) VALUES[ALPHABET.charCodeAt(i)] = i;

function sextet(text: string, i: number): number {
  const c = text.charCodeAt(i);
  return c < 128 ? VALUES[c] : -1;
}

/** The bytes `text` encodes, or null when it is not standard base64 (padded, unless `optionalPadding`). */
export function decodeBase64(text: string, optionalPadding = false): Uint8Array | null {
  if (optionalPadding && text.length % 4 > 1) text += "=".repeat(4 - (text.length % 4));
  if (text.length % 4 !== 0) return null;
  const padding = text.endsWith("==") ? 2 : text.endsWith("=") ? 1 : 0;
  const bytes = new Uint8Array((text.length / 4) * 3 - padding);
  let out = 0;
  for (let i = 0; i < text.length; i += 4) {
    const a = sextet(text, i),
      b = sextet(text, i + 1);
    const last = i + 4 === text.length;
    const c = last && padding === 2 ? 0 : sextet(text, i + 2);
    const d = last && padding > 0 ? 0 : sextet(text, i + 3);
    if ((a | b | c | d) < 0) return null;
    const n = (a << 18) | (b << 12) | (c << 6) | d;
    bytes[out++] = n >> 16;
    if (out < bytes.length) bytes[out++] = (n >> 8) & 0xff;
    if (out < bytes.length) bytes[out++] = n & 0xff;
  }
  return bytes;
}

export function encodeBase64(bytes: Uint8Array | string): string {
  if (typeof bytes === "string") bytes = new TextEncoder().encode(bytes);
  const parts: string[] = [];
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    parts.push(ALPHABET[n >> 18] + ALPHABET[(n >> 12) & 63] + ALPHABET[(n >> 6) & 63] + ALPHABET[n & 63]);
  }
  if (i < bytes.length) {
    const n = (bytes[i] << 16) | ((bytes[i + 1] ?? 0) << 8);
    const third = i + 1 < bytes.length ? ALPHABET[(n >> 6) & 63] : "=";
    parts.push(`${ALPHABET[n >> 18]}${ALPHABET[(n >> 12) & 63]}${third}=`);
  }
  return parts.join("");
}

/** Unpadded base64url (RFC 4648 §5) of bytes or a string's UTF-8 bytes, as Kubernetes' WebSocket bearer protocol carries tokens. */
export function encodeBase64Url(bytes: Uint8Array | string): string {
  return encodeBase64(bytes).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function decodeBase64Url(text: string): Uint8Array | null {
  return decodeBase64(text.replace(/-/g, "+").replace(/_/g, "/"), true);
}
