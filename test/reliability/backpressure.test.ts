/**
 * Backpressure: flood a broker far past its backlog limit behind a slow subscriber. Past the limit
 * ingress answers 429 with Retry-After; the queue (and the runtime's memory) stays bounded; every event
 * answered 202 is delivered.
 */
import { expect, it } from "vitest";
import { receivedAtLeast, received, script } from "../support/client.ts";
import { routerWithSubscriber } from "../support/router.ts";
import { apply, broker, event, metrics, trigger, workerdRssMiB } from "./harness.ts";

const NS = "flood";
const BACKLOG_LIMIT = 50;
const FLOOD = 1_000;
const SENDERS = 16;

const started = routerWithSubscriber();

it(`refuses with 429 + Retry-After past a backlog of ${BACKLOG_LIMIT}, stays bounded, loses nothing accepted`, async () => {
  const router = started.router();
  const sub = started.subscriber();
  await script(sub.url, "/slow", [{ status: 200, delayMs: 100 }]);
  await apply(router.url, NS, "brokers", broker("b", { "edge-eventing.dev/backlog-limit": String(BACKLOG_LIMIT) }));
  await apply(router.url, NS, "triggers", trigger("slow", { broker: "b", subscriber: { uri: `${sub.url}/slow` } }, { "edge-eventing.dev/parallelism": "5" }));

  const accepted: string[] = [];
  const refusals: (string | null)[] = [];
  const other: number[] = [];
  let maxBacklog = 0;
  let maxRss = 0;
  let next = 0;
  const sender = async () => {
    while (next < FLOOD) {
      const id = `f-${next++}`;
      const r = await fetch(`${router.url}/${NS}/b`, event(id));
      await r.arrayBuffer();
      if (r.status === 202) accepted.push(id);
      else if (r.status === 429) refusals.push(r.headers.get("retry-after"));
      else other.push(r.status);
    }
  };
  let flooding = true;
  const sampler = (async () => {
    while (flooding) {
      maxBacklog = Math.max(maxBacklog, (await metrics(router.url, NS, "b"))("backlog"));
      maxRss = Math.max(maxRss, workerdRssMiB());
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  await Promise.all(Array.from({ length: SENDERS }, sender));
  flooding = false;
  await sampler;

  console.log(
    `backpressure: ${FLOOD} sent, ${accepted.length} accepted, ${refusals.length} refused with 429, max backlog ${maxBacklog} of ${BACKLOG_LIMIT}, workerd RSS max ${maxRss.toFixed(0)} MiB`,
  );
  expect(other).toEqual([]);
  expect(refusals.length).toBeGreaterThan(0);
  expect(refusals.every((ra) => ra !== null && Number(ra) > 0)).toBe(true);
  expect(maxBacklog).toBeLessThanOrEqual(BACKLOG_LIMIT);
  expect(maxRss).toBeLessThan(1024);

  await receivedAtLeast(sub.url, "/slow", accepted.length, 60_000);
  const got = new Set((await received(sub.url, "/slow")).map((r) => r.headers["ce-id"]));
  expect(accepted.filter((id) => !got.has(id))).toEqual([]);
}, 120_000);
