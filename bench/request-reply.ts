/**
 * RequestReply: round trips through a RequestReply whose broker's trigger sends each request to a
 * responder that answers with the reply event after RESPONDER_MS, at 10 and 100 requests in flight,
 * against calling the same responder directly; and what a request costs in SQLite rows written against one
 * plain event through a broker with one trigger.
 */
import { closedLoop, percentile } from "./load.ts";
import type { Bench, Row } from "./scenarios.ts";
import { binaryEvent, brokerWithTriggers, NAMESPACE, put, storageRows } from "./setup.ts";
import { RESPONDER_MS } from "./sink.ts";

const REQUESTS = 1_000;
/** Rows are compared at this load: group commit shares a row among the events of a turn, so both sides need the same. */
const ROWS_AT = 10;
/** 1 in flight shows what a round trip adds on an idle runtime; 10 and 100 under load. */
const IN_FLIGHT = [1, 10, 100];

export async function requestReply(b: Bench): Promise<Row[]> {
  await brokerWithTriggers(b.rt.router, { broker: "rr", triggers: 0, subscriber: b.sink.url, path: "/reply/rr" });
  // Requests only: a reply matching the responder's trigger would be answered again, and so on.
  const filter = { attributes: { type: "dev.edge-eventing.bench" } };
  await put(b.rt.router, "triggers", "responder", {
    apiVersion: "eventing.knative.dev/v1",
    kind: "Trigger",
    metadata: { name: "responder" },
    spec: { broker: "rr", filter, subscriber: { uri: `${b.sink.url}/reply/rr` } },
  });
  await put(b.rt.router, "requestreplies", "ask", {
    apiVersion: "eventing.knative.dev/v1alpha1",
    kind: "RequestReply",
    metadata: { name: "ask" },
    spec: { brokerRef: { kind: "Broker", name: "rr" }, timeout: "PT60S" },
  });
  const plainUrl = await brokerWithTriggers(b.rt.router, { broker: "rr-plain", triggers: 1, subscriber: b.sink.url, path: "/rr-plain" });
  const address = `${b.rt.router}/requestreplies/${NAMESPACE}/ask`;
  const rows: Row[] = [];
  let rrRows = NaN;
  for (const concurrency of IN_FLIGHT) {
    const load = { concurrency, durationMs: 60_000, maxRequests: concurrency === 1 ? REQUESTS / 5 : REQUESTS, expect: 200 };
    const direct = await closedLoop({
      ...load,
      request: (i) => ({ url: `${b.sink.url}/reply/direct`, init: binaryEvent(`${b.run}-rr-direct-${concurrency}-${i}`) }),
    });
    const before = await storageRows(b.rt.router, "rr");
    const routed = await closedLoop({ ...load, request: (i) => ({ url: address, init: binaryEvent(`${b.run}-rr-${concurrency}-${i}`) }) });
    const after = await storageRows(b.rt.router, "rr");
    if (concurrency === ROWS_AT) rrRows = (after.written - before.written) / routed.ok;
    const note = Object.keys(routed.failures).length ? `non-200 answers: ${JSON.stringify(routed.failures)}` : undefined;
    for (const p of [50, 99]) {
      const router = percentile(routed.latencies, p);
      const baseline = percentile(direct.latencies, p);
      rows.push({
        scenario: `RequestReply round trip p${p}, ${concurrency} in flight`,
        unit: "ms",
        router,
        baselineName: `responder called directly (${RESPONDER_MS} ms of work)`,
        baseline,
        ratio: router / baseline,
        note,
      });
    }
  }
  const before = await storageRows(b.rt.router, "rr-plain");
  const plain = await closedLoop({
    concurrency: ROWS_AT,
    durationMs: 60_000,
    maxRequests: REQUESTS,
    request: (i) => ({ url: plainUrl, init: binaryEvent(`${b.run}-rr-plain-${i}`) }),
  });
  const plainRows = ((await storageRows(b.rt.router, "rr-plain")).written - before.written) / plain.ok;
  rows.push({
    scenario: `RequestReply rows written per request, ${ROWS_AT} in flight`,
    unit: "rows/request",
    router: rrRows,
    baselineName: "one plain event",
    baseline: plainRows,
    ratio: rrRows / plainRows,
    note: "the request and its reply are both stored events",
  });
  return rows;
}
