import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createMnsPoller, type MnsPollerConfig } from "../../../../shared/bridges/mns/poller.ts";
import type { PolledMessage } from "../../../../shared/bridges/types.ts";
import { startFakeMns, type FakeMns } from "../../../fakes/mns.ts";

const creds = { accessKeyId: "LTAI5tExampleKeyId0001", accessKeySecret: "ExampleAccessKeySecret0123456789" };
let mns: FakeMns;

beforeEach(async () => {
  mns = await startFakeMns({ ...creds, visibilityTimeoutSeconds: 30 });
  mns.createQueue("edge-queue");
});
afterEach(() => mns.close());

function poller(overrides: Partial<MnsPollerConfig> = {}) {
  return createMnsPoller({ endpoint: mns.url, queue: "edge-queue", waitSeconds: 0, credentials: creds, namespace: "prod", name: "jobs", ...overrides }, fetch);
}

const text = (m: PolledMessage) => (m.event?.data?.kind === "binary" ? new TextDecoder().decode(m.event.data.bytes) : undefined);

describe("MNS poller against the fake MNS queue", () => {
  it("receives a batch, wraps plain bodies, and deletes only on commit", async () => {
    const a = mns.send("edge-queue", "first & <one>");
    const b = mns.send("edge-queue", "second");
    const p = poller();
    const batch = await p.poll();
    expect(batch.messages.map((m) => m.key)).toEqual([a, b]);
    expect(batch.messages[0].event?.attributes).toMatchObject({
      specversion: "1.0",
      id: a,
      type: "dev.edge-eventing.mns.message",
      source: "/apis/v1/namespaces/prod/mnssources/jobs#edge-queue",
    });
    expect(text(batch.messages[0])).toBe("first & <one>");
    expect(mns.remaining("edge-queue")).toEqual([a, b]);
    await p.commit(batch.messages.slice(0, 1));
    expect(mns.remaining("edge-queue")).toEqual([b]);
    expect(mns.requests.at(-1)).toMatchObject({ method: "DELETE", url: "/queues/edge-queue/messages", status: 204 });
  });

  it("answers an empty long-poll (404 MessageNotExist) with an empty batch after the wait", async () => {
    const started = Date.now();
    expect(await poller({ waitSeconds: 1 }).poll()).toEqual({ messages: [] });
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(mns.requests[0]).toMatchObject({ url: "/queues/edge-queue/messages?numOfMessages=16&waitseconds=1", status: 404 });
  });

  it("redelivers after the visibility timeout; a late delete is skipped, not thrown", async () => {
    const id = mns.send("edge-queue", "x");
    const p = poller();
    const first = await p.poll();
    expect((await p.poll()).messages).toEqual([]);
    mns.advance(31_000);
    await p.commit(first.messages);
    expect(mns.remaining("edge-queue")).toEqual([id]);
    const again = await p.poll();
    expect(again.messages.map((m) => m.key)).toEqual([id]);
    await p.commit(again.messages);
    expect(mns.remaining("edge-queue")).toEqual([]);
  });

  it("decodes base64 bodies, and returns an undecodable one as poison", async () => {
    mns.send("edge-queue", btoa(JSON.stringify({ specversion: "1.0", id: "e1", source: "/jobs", type: "job.done" })));
    const bad = mns.send("edge-queue", "not base64!");
    const batch = await poller({ bodyEncoding: "base64" }).poll();
    expect(batch.messages[0].event?.attributes).toEqual({ specversion: "1.0", id: "e1", source: "/jobs", type: "job.done" });
    expect(batch.messages[1]).toEqual({ key: bad, poison: "MessageBody is not valid base64 (bodyEncoding: base64)" });
  });

  it("reports a missing queue and a bad signature with the service's codes", async () => {
    await expect(poller({ queue: "missing" }).poll()).rejects.toMatchObject({ status: 404, code: "QueueNotExist" });
    await expect(poller({ credentials: { accessKeyId: creds.accessKeyId, accessKeySecret: "x" } }).poll()).rejects.toMatchObject({
      status: 403,
      code: "SignatureDoesNotMatch",
    });
  });
});
