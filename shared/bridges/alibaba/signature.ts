/**
 * Alibaba Cloud's HMAC-SHA1 request signature, shared by the RocketMQ HTTP API (`MQ`, `x-mq-*`)
 * and MNS (`MNS`, `x-mns-*`). The resource is the path and query exactly as sent: the server
 * signs the request line it received, so nothing is re-sorted or re-encoded here.
 */
import { encodeBase64 } from "../../base64.ts";

export interface AliyunSigningScheme {
  /** `MQ` or `MNS`: the word before the key id in `Authorization`. */
  name: string;
  /** Lower-case prefix of the headers that are signed, e.g. `x-mq-`. */
  headerPrefix: string;
}

export const ROCKETMQ_SIGNING: AliyunSigningScheme = { name: "MQ", headerPrefix: "x-mq-" };
export const MNS_SIGNING: AliyunSigningScheme = { name: "MNS", headerPrefix: "x-mns-" };

/**
 * VERB, Content-MD5, Content-Type, Date, then every `prefix*` header lower-cased and sorted as
 * `name:value`, then the resource. `headers` may use any case for names.
 */
export function aliyunStringToSign(scheme: AliyunSigningScheme, method: string, resource: string, headers: Record<string, string>): string {
  const lower = new Map(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  const signed = [...lower.entries()]
    .filter(([k]) => k.startsWith(scheme.headerPrefix))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}:${v}\n`)
    .join("");
  return `${method}\n${lower.get("content-md5") ?? ""}\n${lower.get("content-type") ?? ""}\n${lower.get("date") ?? ""}\n${signed}${resource}`;
}

/** `"<scheme> <accessKeyId>:<base64 HMAC-SHA1(secret, stringToSign)>"`. */
export async function aliyunAuthorization(
  scheme: AliyunSigningScheme,
  credentials: { accessKeyId: string; accessKeySecret: string },
  method: string,
  resource: string,
  headers: Record<string, string>,
): Promise<string> {
  const encoder = new TextEncoder();
  const key = await crypto.subtle.importKey("raw", encoder.encode(credentials.accessKeySecret), { name: "HMAC", hash: "SHA-1" }, false, ["sign"]);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, encoder.encode(aliyunStringToSign(scheme, method, resource, headers))));
  return `${scheme.name} ${credentials.accessKeyId}:${encodeBase64(mac)}`;
}

/** RFC 1123 date as the `Date` header needs it (the server refuses a skew over 15 minutes). */
export function httpDate(ms: number): string {
  return new Date(ms).toUTCString();
}
