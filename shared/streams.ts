/** Reading a body up to a byte limit, without buffering more than the limit. */

/** What a Request or a Response offers for reading its body. */
export interface BodyMessage {
  headers: Headers;
  body: ReadableStream<Uint8Array> | null;
  arrayBuffer(): Promise<ArrayBuffer>;
}

/**
 * A request's or response's body up to `max` bytes. A body whose Content-Length is within `max` (and not
 * content-encoded: a decoded body may be longer) is read whole in one call: HTTP's framing holds it to
 * that length, and the runtime's own read costs far less CPU than a stream reader's, chunk by chunk (the
 * hot path of every ingress and delivery). A Request built in code (a caller of the worker's fetch) is not
 * framed: its Content-Length may say less than it sends, so the length read is checked too.
 */
export async function readBodyCapped(message: BodyMessage, max: number): Promise<{ bytes: Uint8Array; truncated: boolean }> {
  const length = message.headers.get("content-length");
  if (length !== null && /^\d{1,16}$/.test(length) && Number(length) <= max && !message.headers.has("content-encoding")) {
    const bytes = new Uint8Array(await message.arrayBuffer());
    return bytes.length > max ? { bytes: bytes.subarray(0, max), truncated: true } : { bytes, truncated: false };
  }
  return readCapped(message.body, max);
}

async function readCapped(stream: ReadableStream<Uint8Array> | null, max: number): Promise<{ bytes: Uint8Array; truncated: boolean }> {
  if (!stream) return { bytes: new Uint8Array(0), truncated: false };
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (size + value.length > max) {
      chunks.push(value.subarray(0, max - size));
      await reader.cancel();
      return { bytes: concat(chunks, max), truncated: true };
    }
    chunks.push(value);
    size += value.length;
  }
  return { bytes: concat(chunks, size), truncated: false };
}

function concat(chunks: Uint8Array[], size: number): Uint8Array {
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
