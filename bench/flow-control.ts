/**
 * Flow control (API.md §8): a trigger limited to 10/s while 1,000 events wait for it, on a broker of one
 * partition and on one of four (where the partitions share the limit through its FlowLimiter object). The
 * events are queued while the trigger is paused, then it is resumed and the deliveries of one minute are
 * counted: the delivered rate over the limit should be 1.0, within 10%, and no sliding second of the
 * minute (receipt times at the subscriber) may hold more than the limit.
 */
import { waitFor } from "./load.ts";
import { ADMIN_TOKEN } from "./runtime.ts";
import type { Bench, Row } from "./scenarios.ts";
import { batchEvents, brokerWithTriggers, NAMESPACE, put } from "./setup.ts";

const LIMIT = 10;
const EVENTS = 1_000;
const MEASURE_MS = 60_000;
const JITTER_MS = 10;

export async function rateLimit(b: Bench): Promise<Row[]> {
  const variants = await Promise.all([1, 4].map((partitions) => measure(b, partitions)));
  return variants.flatMap(({ partitions, rate, most, note }) => {
    const scenario = `rate limit ${LIMIT}/s, ${EVENTS.toLocaleString("en-US")} events waiting, ${partitions} partition${partitions > 1 ? "s" : ""}`;
    return [
      {
        scenario,
        unit: "deliveries/s",
        router: rate,
        baselineName: "the limit",
        baseline: LIMIT,
        ratio: rate / LIMIT,
        goal: { text: "0.9x to 1.1x the limit over a minute", met: rate / LIMIT >= 0.9 && rate / LIMIT <= 1.1 },
        note,
      },
      {
        scenario: `${scenario}: most in any sliding second`,
        unit: "deliveries",
        router: most,
        baselineName: "the limit",
        baseline: LIMIT,
        ratio: most / LIMIT,
        goal: { text: `<= 1.0x (windows of ${1000 - JITTER_MS} ms)`, met: most <= LIMIT },
      },
    ];
  });
}

/** The most receipts in any interval of a second less JITTER_MS (the millisecond clocks of two processes). */
function mostInAnySecond(times: number[]): number {
  let most = 0;
  for (let i = 0, j = 0; j < times.length; j++) {
    while (times[j] - times[i] >= 1000 - JITTER_MS) i++;
    most = Math.max(most, j - i + 1);
  }
  return most;
}

async function measure(b: Bench, partitions: number): Promise<{ partitions: number; rate: number; most: number; note?: string }> {
  const name = `ratelimit${partitions}`;
  const url = await brokerWithTriggers(b.rt.router, { broker: name, triggers: 0, subscriber: b.sink.url, path: `/${name}`, partitions });
  const trigger = (annotations: Record<string, string>) => ({
    apiVersion: "eventing.knative.dev/v1",
    kind: "Trigger",
    metadata: { name, annotations: { "edge-eventing.dev/rate-limit": `${LIMIT}/s`, ...annotations } },
    spec: { broker: name, subscriber: { uri: `${b.sink.url}/${name}` } },
  });
  await put(b.rt.router, "triggers", name, trigger({ "edge-eventing.dev/paused": "true" }));
  for (let i = 0; i < EVENTS; i += 100) {
    const res = await fetch(url, batchEvents(`${b.run}-${name}-${i}`, 100));
    if (res.status !== 202) throw new Error(`${name}: batch refused with ${res.status} ${await res.text()}`);
  }
  await put(b.rt.router, "triggers", name, trigger({}));
  const path = `/${name}`;
  b.sink.record(path);
  await waitFor(() => b.sink.count(path) > 0, 30_000);
  const start = { at: performance.now(), count: b.sink.count(path) };
  await new Promise((r) => setTimeout(r, MEASURE_MS));
  const delivered = b.sink.count(path) - start.count;
  const most = mostInAnySecond(b.sink.times(path));
  const rate = (delivered * 1000) / (performance.now() - start.at);
  // The rest of the queue goes with the trigger, so the next scenarios run on a quiet runtime.
  await fetch(`${b.rt.router}/apis/eventing.knative.dev/v1/namespaces/${NAMESPACE}/triggers/${name}`, {
    method: "DELETE",
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
  });
  return { partitions, rate, most, note: delivered >= EVENTS ? "the queue ran dry before the minute ended" : undefined };
}
