/** Request bodies read with a hard size limit (shared/streams.ts), refused early on a larger Content-Length. */
import { readCapped } from "../shared/streams.ts";

/** The body, or null when it is larger than `max` bytes. */
export async function readLimited(req: Request, max: number): Promise<Uint8Array | null> {
  if (Number(req.headers.get("content-length") ?? "0") > max) return null;
  const { bytes, truncated } = await readCapped(req.body, max);
  return truncated ? null : bytes;
}

/** A UTF-8 text body within `max` bytes, or null when it is larger. */
export async function readTextLimited(req: Request, max: number): Promise<string | null> {
  const bytes = await readLimited(req, max);
  return bytes === null ? null : new TextDecoder().decode(bytes);
}
