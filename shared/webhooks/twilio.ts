/**
 * Twilio's request signature: base64 HMAC-SHA1 (auth token) of the URL Twilio called followed by the
 * POST parameters sorted by name, each name immediately followed by its value. JSON bodies are not
 * signed as parameters: Twilio adds `bodySHA256=<hex>` to the URL and signs the URL alone. As in
 * Twilio's SDK validators, the URL is tried with its port removed and with the scheme's default port.
 */
import { fromHex, hmac, sha256, timingSafeEqual, utf8 } from "../crypto.ts";
import { decodeUtf8, isFormMediaType, mediaTypeOf } from "./payload.ts";
import type { WebhookRequest } from "./types.ts";
import { decodeBase64 } from "../base64.ts";

export const TWILIO_SIGNATURE_HEADER = "X-Twilio-Signature";

export async function verifyTwilio(secrets: string[], request: WebhookRequest, publicUrl: string | undefined): Promise<string | null> {
  const header = request.headers.get(TWILIO_SIGNATURE_HEADER);
  if (header === null) return `${TWILIO_SIGNATURE_HEADER} header is missing`;
  const provided = decodeBase64(header.trim(), true);
  if (provided === null) return `${TWILIO_SIGNATURE_HEADER} is not base64`;

  const url = signedUrl(publicUrl, request.url);
  let params = "";
  if (isFormMediaType(mediaTypeOf(request.headers)) || request.body.length === 0) {
    const text = decodeUtf8(request.body);
    if (text === null) return "form body is not valid UTF-8";
    params = sortedParams(new URLSearchParams(text));
  } else {
    const bodyHashFailure = await checkBodyHash(url, request.body);
    if (bodyHashFailure) return bodyHashFailure;
  }
  for (const candidate of portVariants(url)) {
    const message = utf8(candidate + params);
    for (const secret of secrets) {
      if (timingSafeEqual(await hmac("sha1", utf8(secret), message), provided)) return null;
    }
  }
  return `${TWILIO_SIGNATURE_HEADER} does not match ${candidateDescription(publicUrl)}`;
}

/** `publicUrl` (the URL configured at Twilio) with the query string the request arrived with. */
export function signedUrl(publicUrl: string | undefined, requestUrl: string): string {
  if (!publicUrl) return requestUrl;
  const q = requestUrl.indexOf("?");
  return publicUrl.split(/[?#]/)[0] + (q >= 0 ? requestUrl.slice(q) : "");
}

/** Names in code-unit order; a repeated name contributes each distinct value once, values sorted (Twilio's SDKs). */
export function sortedParams(params: URLSearchParams): string {
  const names = [...new Set(params.keys())].sort();
  return names
    .map((name) =>
      [...new Set(params.getAll(name))]
        .sort()
        .map((value) => name + value)
        .join(""),
    )
    .join("");
}

async function checkBodyHash(url: string, body: Uint8Array): Promise<string | null> {
  const q = url.indexOf("?");
  const expected = q >= 0 ? new URLSearchParams(url.slice(q + 1)).get("bodySHA256") : null;
  if (expected === null) return "a non-form Twilio request must carry bodySHA256 in its URL";
  const hash = fromHex(expected);
  if (hash === null || !timingSafeEqual(await sha256(body), hash)) return "body does not match the bodySHA256 URL parameter";
  return null;
}

/** The URL without its port, and with the scheme's default port when it had none. */
export function portVariants(url: string): string[] {
  const m = /^(https?):\/\/([^/?#]*)(.*)$/i.exec(url);
  if (!m) return [url];
  const [, scheme, authority, rest] = m;
  const at = authority.lastIndexOf("@");
  const userinfo = authority.slice(0, at + 1);
  const hp = /^(\[[^\]]*\]|[^:]*)(?::(\d*))?$/.exec(authority.slice(at + 1));
  if (!hp) return [url];
  const [, host, port] = hp;
  const defaultPort = scheme.toLowerCase() === "https" ? "443" : "80";
  const without = `${scheme}://${userinfo}${host}${rest}`;
  const withPort = `${scheme}://${userinfo}${host}:${port || defaultPort}${rest}`;
  return [without, withPort];
}

function candidateDescription(publicUrl: string | undefined): string {
  return publicUrl ? "spec.publicUrl with the request's query" : "the request URL (set spec.publicUrl to the URL configured at Twilio)";
}
