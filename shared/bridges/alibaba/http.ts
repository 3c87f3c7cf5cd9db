/**
 * One signed request to an Alibaba Cloud HTTP API (RocketMQ HTTP or MNS): common headers, the
 * signature over the exact path and query sent, a client-side deadline, and typed errors.
 */
import { readBodyCapped } from "../../streams.ts";
import type { FetchLike } from "../types.ts";
import { aliyunAuthorization, httpDate, type AliyunSigningScheme } from "./signature.ts";
import { parseAliyunError } from "./xml.ts";

export interface AliyunCredentials {
  accessKeyId: string;
  accessKeySecret: string;
  /** STS token: sent as `security-token`, which is not signed. */
  securityToken?: string;
}

export interface AliyunApi {
  scheme: AliyunSigningScheme;
  /** e.g. `https://1234.mqrest.cn-hangzhou.aliyuncs.com`, no trailing slash needed. */
  endpoint: string;
  credentials: AliyunCredentials;
  fetch: FetchLike;
  /** Clock for the `Date` header (tests pin it). */
  now: () => number;
}

/**
 * Largest response body read, well inside an isolate's 128 MB: a larger one fails the request unparsed, so a
 * hostile or broken endpoint cannot exhaust the poller's memory. Sources whose messages are large ask for
 * fewer per receive (`numOfMessages`).
 */
export const MAX_ALIYUN_RESPONSE_BYTES = 32 * 1024 * 1024;

/** API version both services expect in `x-mq-version` / `x-mns-version`. */
export const ALIYUN_API_VERSION = "2015-06-06";
export const XML_CONTENT_TYPE = "text/xml;charset=utf-8";

export class AliyunApiError extends Error {
  readonly status: number;
  /** The service's error code (`SignatureDoesNotMatch`, `QueueNotExist`...), "" when none. */
  readonly code: string;
  constructor(what: string, status: number, code: string, message: string) {
    super(`${what}: HTTP ${status}${code ? ` ${code}` : ""}${message ? `: ${message}` : ""}`);
    this.name = "AliyunApiError";
    this.status = status;
    this.code = code;
  }
}

export interface AliyunRequest {
  method: "GET" | "DELETE";
  /** Path and query exactly as they go on the wire (already percent-encoded). */
  resource: string;
  body?: string;
  /** Sent and signed when present. RocketMQ's SDKs send it on every request, MNS's only with a body. */
  contentType?: string;
  timeoutMs: number;
  signal?: AbortSignal;
}

export async function aliyunRequest(api: AliyunApi, req: AliyunRequest): Promise<{ status: number; text: string }> {
  const headers: Record<string, string> = {
    date: httpDate(api.now()),
    [`${api.scheme.headerPrefix}version`]: ALIYUN_API_VERSION,
  };
  if (req.contentType) headers["content-type"] = req.contentType;
  headers.authorization = await aliyunAuthorization(api.scheme, api.credentials, req.method, req.resource, headers);
  if (api.credentials.securityToken) headers["security-token"] = api.credentials.securityToken;
  const deadline = AbortSignal.timeout(req.timeoutMs);
  const res = await api.fetch(api.endpoint.replace(/\/+$/, "") + req.resource, {
    method: req.method,
    headers,
    body: req.body,
    signal: req.signal ? AbortSignal.any([req.signal, deadline]) : deadline,
  });
  const { bytes, truncated } = await readBodyCapped(res, MAX_ALIYUN_RESPONSE_BYTES);
  if (truncated) throw new AliyunApiError(`${req.method} ${req.resource}`, res.status, "", `response larger than ${MAX_ALIYUN_RESPONSE_BYTES} bytes`);
  return { status: res.status, text: new TextDecoder().decode(bytes) };
}

/** The typed error for a refused request (the body is an `<Error>` document when the service wrote it). */
export function apiError(what: string, status: number, text: string): AliyunApiError {
  const err = parseAliyunError(text);
  return new AliyunApiError(what, status, err?.code ?? "", err?.message ?? text.slice(0, 200));
}
