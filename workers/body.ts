/** Request bodies read with a hard size limit (shared/streams.ts), refused early on a larger Content-Length. */
import { MAX_MANIFEST_BYTES, type ParsedManifest, parseManifestBody } from "../shared/resources/manifest.ts";
import { failure, type KubeStatus } from "../shared/resources/status.ts";
import { readBodyCapped } from "../shared/streams.ts";
import { decodeKubeProtobuf, PROTOBUF } from "../shared/kube-api/protobuf.ts";

/** The body, or null when it is larger than `max` bytes. */
export async function readLimited(req: Request, max: number): Promise<Uint8Array | null> {
  if (Number(req.headers.get("content-length") ?? "0") > max) return null;
  const { bytes, truncated } = await readBodyCapped(req, max);
  return truncated ? null : bytes;
}

/** Read and parse a manifest body (JSON, YAML, or for the kinds kubectl sends so, protobuf); a failure is the Status to answer. */
export async function readManifest(req: Request): Promise<ParsedManifest | KubeStatus> {
  const bytes = await readLimited(req, MAX_MANIFEST_BYTES);
  if (bytes === null) return failure(413, "RequestEntityTooLarge", `manifest is larger than ${MAX_MANIFEST_BYTES} bytes`);
  if ((req.headers.get("content-type") ?? "").split(";")[0].trim().toLowerCase() === PROTOBUF) {
    const decoded = decodeKubeProtobuf(bytes);
    return "error" in decoded ? failure(415, "UnsupportedMediaType", decoded.error) : { value: decoded.value, duplicates: [] };
  }
  const parsed = parseManifestBody(req.headers.get("content-type"), new TextDecoder().decode(bytes));
  if ("error" in parsed)
    return parsed.status === 415
      ? failure(415, "UnsupportedMediaType", parsed.error)
      : failure(400, "BadRequest", parsed.error, parsed.causes && { causes: parsed.causes });
  return parsed;
}
