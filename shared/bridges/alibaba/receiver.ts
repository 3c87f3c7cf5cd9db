/**
 * The receive loop RocketMQ HTTP and MNS share: a long-poll GET answering a `<Messages>` batch
 * (or 404 MessageNotExist when the wait ends empty), receipt handles kept by message id, and a
 * DELETE of those handles once the messages are handed off. A message not deleted becomes visible
 * again after the service's invisibility period, so a failed hand-off loses nothing.
 */
import type { FetchLike, PolledMessage, SourcePoller } from "../types.ts";
import { AliyunApiError, aliyunRequest, apiError, XML_CONTENT_TYPE, type AliyunApi, type AliyunCredentials } from "./http.ts";
import type { AliyunSigningScheme } from "./signature.ts";
import { xmlElements, xmlEscape, xmlRoot, xmlText } from "./xml.ts";

/** Both APIs' receive limits: 1-16 messages per request, 0-30 s long-poll. */
export const RECEIVE_MAX_MESSAGES = 16;
export const RECEIVE_MAX_WAIT_SECONDS = 30;
export const RECEIVE_DEFAULT_WAIT_SECONDS = 10;

/** Deadline of one acknowledgement request. */
const DELETE_TIMEOUT_MS = 10_000;
/** Slack over the long-poll wait before a receive request is abandoned (the SDKs use 3 to 5 s). */
const RECEIVE_SLACK_MS = 5_000;

/** Handle errors on delete that mean "too late", not "failed": the message comes back and dedup absorbs it. */
const EXPIRED_HANDLE_CODES = new Set(["MessageNotExist", "ReceiptHandleError"]);

/** Both services delete at most 16 receipt handles per request. */
const MAX_HANDLES_PER_DELETE = 16;

/** What every Alibaba poller config carries besides the service's own addressing. */
export interface AliyunReceiveConfig {
  endpoint: string;
  numOfMessages?: number;
  waitSeconds?: number;
  credentials: AliyunCredentials;
  /** The source resource, for the events' `source`. */
  namespace: string;
  name: string;
  now?: () => number;
}

/** How one service receives and deletes; the loop around it is the same for both. */
export interface AliyunQueue {
  scheme: AliyunSigningScheme;
  /** Path and query of the receive request, exactly as sent, for the validated limits. */
  receiveResource(numOfMessages: number, waitSeconds: number): string;
  /** Sent (and signed) on the receive GET when set. */
  receiveContentType?: string;
  /** Path and query of the delete request. */
  deleteResource: string;
  /** Namespace of the `<ReceiptHandles>` document. */
  xmlns: string;
  /** How the errors of each request are named, e.g. `MNS receive`, `MNS delete`. */
  what: { receive: string; delete: string };
  /** The message of one `<Message>` element whose MessageId is `id`. */
  toMessage(id: string, xml: string): PolledMessage;
}

/** Throws a RangeError naming `numOfMessages` or `waitSeconds` when out of the APIs' limits. */
export function createAliyunReceiver(config: AliyunReceiveConfig, fetch: FetchLike, queue: AliyunQueue): SourcePoller {
  const api: AliyunApi = { scheme: queue.scheme, endpoint: config.endpoint, credentials: config.credentials, fetch, now: config.now ?? Date.now };
  const numOfMessages = config.numOfMessages ?? RECEIVE_MAX_MESSAGES;
  const waitSeconds = config.waitSeconds ?? RECEIVE_DEFAULT_WAIT_SECONDS;
  if (!Number.isInteger(numOfMessages) || numOfMessages < 1 || numOfMessages > RECEIVE_MAX_MESSAGES)
    throw new RangeError(`numOfMessages must be 1-${RECEIVE_MAX_MESSAGES}`);
  if (!Number.isInteger(waitSeconds) || waitSeconds < 0 || waitSeconds > RECEIVE_MAX_WAIT_SECONDS)
    throw new RangeError(`waitSeconds must be 0-${RECEIVE_MAX_WAIT_SECONDS}`);
  const receiveResource = queue.receiveResource(numOfMessages, waitSeconds);
  const handles = new ReceiptHandleBook();
  return {
    async poll(signal) {
      const res = await aliyunRequest(api, {
        method: "GET",
        resource: receiveResource,
        contentType: queue.receiveContentType,
        timeoutMs: waitSeconds * 1000 + RECEIVE_SLACK_MS,
        signal,
      });
      if (res.status === 404 && xmlText(res.text, "Code") === "MessageNotExist") return { messages: [] };
      if (res.status !== 200) throw apiError(queue.what.receive, res.status, res.text);
      const messages = xmlElements(res.text, "Message").map((xml) => {
        const id = xmlText(xml, "MessageId");
        const handle = xmlText(xml, "ReceiptHandle");
        if (!id || !handle) throw apiError(queue.what.receive, res.status, "a message lacks MessageId or ReceiptHandle");
        handles.remember(id, handle);
        return queue.toMessage(id, xml);
      });
      return { messages };
    },
    async commit(messages) {
      const toDelete = handles.take(messages.map((m) => m.key));
      if (toDelete.length > 0) await deleteReceiptHandles(api, queue, toDelete);
    },
    async close() {
      handles.clear();
    },
  };
}

/**
 * Acknowledge by receipt handle, 16 per request. Handles the service reports as expired are
 * skipped (the message reappears and the broker's dedup window absorbs the repeat); any other
 * refusal throws so the caller retries the commit.
 */
async function deleteReceiptHandles(api: AliyunApi, queue: AliyunQueue, handles: string[]): Promise<void> {
  for (let i = 0; i < handles.length; i += MAX_HANDLES_PER_DELETE) {
    const chunk = handles.slice(i, i + MAX_HANDLES_PER_DELETE);
    const body = `<?xml version="1.0" encoding="UTF-8"?><ReceiptHandles xmlns="${queue.xmlns}">${chunk.map((h) => `<ReceiptHandle>${xmlEscape(h)}</ReceiptHandle>`).join("")}</ReceiptHandles>`;
    const res = await aliyunRequest(api, {
      method: "DELETE",
      resource: queue.deleteResource,
      body,
      contentType: XML_CONTENT_TYPE,
      timeoutMs: DELETE_TIMEOUT_MS,
    });
    if (res.status === 204 || res.status === 200) continue;
    if (xmlRoot(res.text) === "Errors") {
      const fatal = xmlElements(res.text, "Error")
        .map((e) => ({ code: xmlText(e, "ErrorCode") ?? "", message: xmlText(e, "ErrorMessage") ?? "" }))
        .filter((e) => !EXPIRED_HANDLE_CODES.has(e.code));
      if (fatal.length === 0) continue;
      throw new AliyunApiError(queue.what.delete, res.status, fatal[0].code, `${fatal.length} of ${chunk.length} handles refused: ${fatal[0].message}`);
    }
    const err = apiError(queue.what.delete, res.status, res.text);
    if (!EXPIRED_HANDLE_CODES.has(err.code)) throw err;
  }
}

/**
 * Receipt handles of received messages by message id, until committed. Bounded: the oldest are
 * forgotten first (those messages are redelivered after their visibility deadline).
 */
class ReceiptHandleBook {
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
