/** Bytes, encodings, hashes and constant-time comparison over Web Crypto only: the same in Node and workerd. */

export type HashAlgorithm = "sha1" | "sha256" | "sha512";

const WEB_CRYPTO_NAME: Record<HashAlgorithm, string> = { sha1: "SHA-1", sha256: "SHA-256", sha512: "SHA-512" };
const encoder = new TextEncoder();

export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export async function hmac(algorithm: HashAlgorithm, key: Uint8Array, message: Uint8Array): Promise<Uint8Array> {
  const cryptoKey = await crypto.subtle.importKey("raw", key as BufferSource, { name: "HMAC", hash: WEB_CRYPTO_NAME[algorithm] }, false, ["sign"]);
  return new Uint8Array(await crypto.subtle.sign("HMAC", cryptoKey, message as BufferSource));
}

export async function sha256(message: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", message as BufferSource));
}

/**
 * Equality whose running time depends only on the lengths, never on where the first difference is,
 * so a caller cannot learn a valid signature byte by byte. Lengths are public (fixed per algorithm).
 */
export function timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

export function toHex(bytes: Uint8Array): string {
  let out = "";
  for (const b of bytes) out += b.toString(16).padStart(2, "0");
  return out;
}

/** Null when `text` is not an even-length string of hex digits (either case). */
export function fromHex(text: string): Uint8Array | null {
  if (text.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(text)) return null;
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Two secrets compared in constant time, through digests so that their lengths leak nothing either. */
export async function sameSecret(a: string, b: string): Promise<boolean> {
  const [da, db] = await Promise.all([sha256(utf8(a)), sha256(utf8(b))]);
  return timingSafeEqual(da, db);
}
