/**
 * Subscriber faults: 5xx storms, timeouts, connection refused, slow answers, 429 with Retry-After. Every
 * event must end delivered or dead-lettered within the retry policy, and the broker's counters must add
 * up: accepted = delivered + dead-lettered + failed + still queued, per trigger.
 */
import { expect, it } from "vitest";
import { received, script } from "../support/client.ts";
import { freePort, routerWithSubscriber } from "../support/router.ts";
import type { Step } from "../support/subscriber.ts";
import { apply, broker, event, metrics, sleep, trigger } from "./harness.ts";

const NS = "faults";
const EVENTS_PER_FAULT = 20;
/** retry 3, linear 100 ms, 500 ms per attempt: the worst case is a few seconds per event. */
/** The timeout leaves a loaded 2-core machine room: only the "timeout" fault (3 s) should exceed it. */
const DELIVERY = { retry: 3, backoffPolicy: "linear", backoffDelay: "PT0.1S", timeout: "PT2S" };

const started = routerWithSubscriber();

it("ends every event delivered or dead-lettered under subscriber faults, and the counts add up", async () => {
  const router = started.router();
  const sub = started.subscriber();
  const refused = `http://127.0.0.1:${await freePort()}/nobody-listens`;
  // `timeout` overrides DELIVERY's: a slow subscriber must be slow, not timed out, however loaded the machine.
  const faults: Record<string, { steps?: Step[]; uri?: string; timeout?: string }> = {
    storm: { steps: [{ status: 503, repeat: 40 }, { status: 500, repeat: 10 }, { status: 200 }] },
    timeout: { steps: [{ status: 200, delayMs: 3_000, repeat: 15 }, { status: 200 }] },
    refused: { uri: refused },
    slow: { steps: [{ status: 200, delayMs: 300 }], timeout: "PT10S" },
    ratelimit: { steps: [{ status: 429, headers: { "retry-after": "1" }, repeat: 15 }, { status: 200 }] },
  };
  await apply(router.url, NS, "brokers", broker("b"));
  for (const [name, f] of Object.entries(faults)) {
    if (f.steps) await script(sub.url, `/fault/${name}`, f.steps);
    await script(sub.url, `/dlq/${name}`, [{ status: 200 }]);
    await apply(
      router.url,
      NS,
      "triggers",
      trigger(name, {
        broker: "b",
        filter: { attributes: { fault: name } },
        subscriber: { uri: f.uri ?? `${sub.url}/fault/${name}` },
        delivery: { ...DELIVERY, timeout: f.timeout ?? DELIVERY.timeout, deadLetterSink: { uri: `${sub.url}/dlq/${name}` } },
      }),
    );
  }

  const names = Object.keys(faults);
  const sent = await Promise.all(
    names.flatMap((name) =>
      Array.from({ length: EVENTS_PER_FAULT }, async (_, i) => (await fetch(`${router.url}/${NS}/b`, event(`${name}-${i}`, { "ce-fault": name }))).status),
    ),
  );
  expect(sent.every((s) => s === 202)).toBe(true);

  let m = await metrics(router.url, NS, "b");
  const deadline = Date.now() + 90_000;
  while (m("backlog") > 0 && Date.now() < deadline) {
    await sleep(500);
    m = await metrics(router.url, NS, "b");
  }
  expect(m("events_accepted_total")).toBe(names.length * EVENTS_PER_FAULT);
  expect(m("backlog")).toBe(0);
  for (const name of names) {
    const [delivered, dead, failed, matched, retried] = [
      "events_delivered_total",
      "events_dead_lettered_total",
      "events_failed_total",
      "events_matched_total",
      "events_retried_total",
    ].map((k) => m(k, name));
    console.log(`faults ${name}: matched ${matched}, delivered ${delivered}, dead-lettered ${dead}, failed ${failed}, retried ${retried}`);
    expect(matched).toBe(EVENTS_PER_FAULT);
    expect(delivered + dead + failed).toBe(matched);
    expect(failed).toBe(0);
    // Every event is somewhere a user can see it: acknowledged by the subscriber or at the dead-letter sink.
    const atDlq = new Set((await received(sub.url, `/dlq/${name}`)).map((r) => r.headers["ce-id"]));
    expect(atDlq.size).toBe(dead);
    const attempted = new Set((await received(sub.url, `/fault/${name}`)).map((r) => r.headers["ce-id"]));
    for (let i = 0; i < EVENTS_PER_FAULT; i++) expect(atDlq.has(`${name}-${i}`) || attempted.has(`${name}-${i}`)).toBe(true);
  }
  expect(m("events_dead_lettered_total", "refused")).toBe(EVENTS_PER_FAULT);
  expect(m("events_delivered_total", "slow")).toBe(EVENTS_PER_FAULT);
});
