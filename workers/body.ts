/** Reading a request body with a hard size limit, without buffering more than the limit. */
export async function readLimited(req: Request, max: number): Promise<Uint8Array | null> {
  const declared = Number(req.headers.get("content-length") ?? "0");
  if (declared > max) return null;
  if (!req.body) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = req.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > max) {
      await reader.cancel();
      return null;
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** A UTF-8 text body within `max` bytes, or null when it is larger. */
export async function readTextLimited(req: Request, max: number): Promise<string | null> {
  const bytes = await readLimited(req, max);
  return bytes === null ? null : new TextDecoder().decode(bytes);
}
