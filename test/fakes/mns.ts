/**
 * A local stand-in for an Alibaba Cloud MNS queue (Simple Message Queue), faithful where the
 * poller depends on it: `MNS` signature checks, (Batch)ReceiveMessage long-poll answering 404
 * MessageNotExist when empty, VisibilityTimeout after which a receipt handle is dead and the
 * message visible again (DequeueCount grows), DeleteMessage and BatchDeleteMessage with
 * `<Errors>` per failed handle. Signature, XML errors, clock and long-poll come from the RocketMQ fake.
 */
import { createHash, randomUUID } from "node:crypto";
import { MNS_SIGNING } from "../../shared/bridges/alibaba/signature.ts";
import { xmlEscape } from "../../shared/bridges/alibaba/xml.ts";
import { ackError, AliyunFake, batchResult, intParam, receiptHandlesOf, ServiceError, type FakeAliyunService, type FakeCredentials } from "./alibaba-mq.ts";

export const MNS_XMLNS = "http://mns.aliyuncs.com/doc/v1/";

interface QueuedMessage {
  id: string;
  body: string;
  enqueueTime: number;
  firstDequeueTime?: number;
  dequeueCount: number;
  nextVisibleTime: number;
  handle?: string;
  priority: number;
}

export interface FakeMns extends FakeAliyunService {
  createQueue(name: string): void;
  /** SendMessage; returns the MessageId. */
  send(queue: string, body: string): string;
  /** Messages still in the queue (not deleted), visible or not. */
  remaining(queue: string): string[];
}

export interface FakeMnsOptions extends FakeCredentials {
  /** Queue attribute VisibilityTimeout (default 30 s). */
  visibilityTimeoutSeconds?: number;
  /** Queue attribute PollingWaitSeconds, used when a receive gives no `waitseconds` (default 0). */
  pollingWaitSeconds?: number;
}

export async function startFakeMns(options: FakeMnsOptions): Promise<FakeMns> {
  const queues = new Map<string, QueuedMessage[]>();
  const fake = new AliyunFake();
  const now = () => fake.now();
  const visibilityMs = (options.visibilityTimeoutSeconds ?? 30) * 1000;

  await fake.listen(MNS_SIGNING, MNS_XMLNS, options, async (req, u, body) => {
    const m = /^\/queues\/([^/]+)\/messages$/.exec(u.pathname);
    if (!m) throw new ServiceError(400, "InvalidArgument", `The request url is invalid: ${u.pathname}`);
    const queue = queues.get(decodeURIComponent(m[1]));
    if (!queue) throw new ServiceError(404, "QueueNotExist", "The queue name you provided is not exist.");

    if (req.method === "DELETE") {
      const single = u.searchParams.get("ReceiptHandle");
      if (single !== null) {
        const error = deleteHandle(queue, single);
        if (error) throw new ServiceError(error.code === "MessageNotExist" ? 404 : 400, error.code, error.message);
        return { status: 204 };
      }
      const errors = receiptHandlesOf(body).flatMap((h) => {
        const e = deleteHandle(queue, h);
        return e ? [ackError(e.code, e.message, h)] : [];
      });
      return batchResult(MNS_XMLNS, errors);
    }
    if (req.method !== "GET") throw new ServiceError(400, "InvalidArgument", `Method ${req.method} is not allowed.`);

    const batch = u.searchParams.has("numOfMessages");
    const count = intParam(u, "numOfMessages", 1, 16, 1);
    const waitSeconds = intParam(u, "waitseconds", 0, 30, options.pollingWaitSeconds ?? 0);
    const items = (await fake.longPoll(waitSeconds, () => queue.filter((msg) => msg.nextVisibleTime <= now()).slice(0, count))).map(receive);
    return {
      status: 200,
      body: `<?xml version="1.0" encoding="UTF-8"?>\n${batch ? `<Messages xmlns="${MNS_XMLNS}">${items.join("")}</Messages>` : items[0].replace("<Message>", `<Message xmlns="${MNS_XMLNS}">`)}`,
    };
  });

  function deleteHandle(queue: QueuedMessage[], handle: string): { code: string; message: string } | undefined {
    const i = queue.findIndex((msg) => msg.handle === handle);
    if (i < 0) return { code: "ReceiptHandleError", message: "The receipt handle you provided is not valid." };
    if (queue[i].nextVisibleTime <= now()) return { code: "MessageNotExist", message: "Message not exist." };
    queue.splice(i, 1);
    return undefined;
  }

  function receive(msg: QueuedMessage): string {
    const t = now();
    msg.firstDequeueTime ??= t;
    msg.dequeueCount++;
    msg.nextVisibleTime = t + visibilityMs;
    msg.handle = `${Buffer.from(`${msg.id}-${msg.dequeueCount}-${randomUUID()}`).toString("base64").replace(/=+$/, "")}+/`;
    return (
      `<Message><MessageId>${msg.id}</MessageId><ReceiptHandle>${msg.handle}</ReceiptHandle>` +
      `<MessageBodyMD5>${createHash("md5").update(msg.body).digest("hex").toUpperCase()}</MessageBodyMD5>` +
      `<MessageBody>${xmlEscape(msg.body)}</MessageBody><EnqueueTime>${msg.enqueueTime}</EnqueueTime>` +
      `<NextVisibleTime>${msg.nextVisibleTime}</NextVisibleTime><FirstDequeueTime>${msg.firstDequeueTime}</FirstDequeueTime>` +
      `<DequeueCount>${msg.dequeueCount}</DequeueCount><Priority>${msg.priority}</Priority></Message>`
    );
  }

  let seq = 0;
  return {
    ...fake.service(),
    createQueue(name) {
      if (!queues.has(name)) queues.set(name, []);
    },
    send(queue, body) {
      const list = queues.get(queue);
      if (!list) throw new Error(`no queue ${queue}`);
      const id = `5F290C926D472878-1-15B8${String(++seq).padStart(6, "0")}-200000001`;
      list.push({ id, body, enqueueTime: now(), dequeueCount: 0, nextVisibleTime: 0, priority: 8 });
      fake.wake();
      return id;
    },
    remaining(queue) {
      return (queues.get(queue) ?? []).map((msg) => msg.id);
    },
  };
}
