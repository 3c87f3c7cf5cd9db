/**
 * One signed request to an Alibaba Cloud HTTP API (RocketMQ HTTP or MNS): common headers, the
 * signature over the exact path and query sent, a client-side deadline, and typed errors.
 */
import type { FetchLike } from "../types.ts";
import { aliyunAuthorization, httpDate, type AliyunSigningScheme } from "./signature.ts";
import { parseAliyunError, xmlElements, xmlEscape, xmlRoot, xmlText } from "./xml.ts";

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
  return { status: res.status, text: await res.text() };
}

/** The typed error for a refused request (the body is an `<Error>` document when the service wrote it). */
export function apiError(what: string, status: number, text: string): AliyunApiError {
  const err = parseAliyunError(text);
  return new AliyunApiError(what, status, err?.code ?? "", err?.message ?? text.slice(0, 200));
}

/** Handle errors on delete that mean "too late", not "failed": the message comes back and dedup absorbs it. */
export const EXPIRED_HANDLE_CODES = new Set(["MessageNotExist", "ReceiptHandleError"]);

/** Both services delete at most 16 receipt handles per request. */
export const MAX_HANDLES_PER_DELETE = 16;

/**
 * Acknowledge by receipt handle, 16 per request. Handles the service reports as expired are
 * skipped (the message reappears and the broker's dedup window absorbs the repeat); any other
 * refusal throws so the caller retries the commit.
 */
export async function deleteReceiptHandles(api: AliyunApi, resource: string, xmlns: string, handles: string[], what: string): Promise<void> {
  for (let i = 0; i < handles.length; i += MAX_HANDLES_PER_DELETE) {
    const chunk = handles.slice(i, i + MAX_HANDLES_PER_DELETE);
    const body = `<?xml version="1.0" encoding="UTF-8"?><ReceiptHandles xmlns="${xmlns}">${chunk.map((h) => `<ReceiptHandle>${xmlEscape(h)}</ReceiptHandle>`).join("")}</ReceiptHandles>`;
    const res = await aliyunRequest(api, { method: "DELETE", resource, body, contentType: XML_CONTENT_TYPE, timeoutMs: DELETE_TIMEOUT_MS });
    if (res.status === 204 || res.status === 200) continue;
    if (xmlRoot(res.text) === "Errors") {
      const fatal = xmlElements(res.text, "Error")
        .map((e) => ({ code: xmlText(e, "ErrorCode") ?? "", message: xmlText(e, "ErrorMessage") ?? "" }))
        .filter((e) => !EXPIRED_HANDLE_CODES.has(e.code));
      if (fatal.length === 0) continue;
      throw new AliyunApiError(what, res.status, fatal[0].code, `${fatal.length} of ${chunk.length} handles refused: ${fatal[0].message}`);
    }
    const err = apiError(what, res.status, res.text);
    if (!EXPIRED_HANDLE_CODES.has(err.code)) throw err;
  }
}

/** Deadline of one acknowledgement request. */
export const DELETE_TIMEOUT_MS = 10_000;
/** Slack over the long-poll wait before a receive request is abandoned (the SDKs use 3 to 5 s). */
export const RECEIVE_SLACK_MS = 5_000;

/**
 * Receipt handles of received messages by message id, until committed. Bounded: the oldest are
 * forgotten first (those messages are redelivered after their visibility deadline).
 */
export class ReceiptHandleBook {
  static readonly MAX = 4096;
  #handles = new Map<string, string>();

  remember(messageId: string, handle: string): void {
    this.#handles.delete(messageId);
    this.#handles.set(messageId, handle);
    if (this.#handles.size > ReceiptHandleBook.MAX) this.#handles.delete(this.#handles.keys().next().value!);
  }

  /** The handles of `keys` that are known, forgetting them. */
  take(keys: string[]): string[] {
    const out: string[] = [];
    for (const key of keys) {
      const h = this.#handles.get(key);
      if (h !== undefined) out.push(h);
      this.#handles.delete(key);
    }
    return out;
  }

  clear(): void {
    this.#handles.clear();
  }
}
