/** UTF-8 decoding that refuses invalid bytes and keeps a byte order mark, so text encodes back to the same bytes. */
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** The text `bytes` encode, or null when they are not valid UTF-8. */
export function decodeUtf8(bytes: Uint8Array): string | null {
  try {
    return decoder.decode(bytes);
  } catch {
    return null;
  }
}
