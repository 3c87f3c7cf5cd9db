/** Request bodies read with a hard size limit (shared/streams.ts), refused early on a larger Content-Length. */
import { MAX_MANIFEST_BYTES, type ParsedManifest, parseManifestBody } from "../shared/resources/manifest.ts";
import { failure, type KubeStatus } from "../shared/resources/status.ts";
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

/** Read and parse a manifest body; a failure is the Status to answer. */
export async function readManifest(req: Request): Promise<ParsedManifest | KubeStatus> {
  const text = await readTextLimited(req, MAX_MANIFEST_BYTES);
  if (text === null) return failure(413, "RequestEntityTooLarge", `manifest is larger than ${MAX_MANIFEST_BYTES} bytes`);
  const parsed = parseManifestBody(req.headers.get("content-type"), text);
  if ("error" in parsed) return parsed.status === 415 ? failure(415, "UnsupportedMediaType", parsed.error) : failure(400, "BadRequest", parsed.error, parsed.causes && { causes: parsed.causes });
  return parsed;
}
