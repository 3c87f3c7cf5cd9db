/** Test helpers that only use fetch, so they run both in workerd and in Node. */
import type { Received, Step } from "./subscriber.ts";

export const TOKEN = "test-token";
export const auth = { authorization: `Bearer ${TOKEN}` };

export async function script(subscriberUrl: string, path: string, steps: Step[]): Promise<void> {
  const r = await fetch(`${subscriberUrl}/_script?path=${encodeURIComponent(path)}`, { method: "POST", body: JSON.stringify(steps) });
  await r.arrayBuffer();
}

/** The subscriber takes requests on `path` that come in the next `ms` only when they end. */
export async function hold(subscriberUrl: string, path: string, ms: number): Promise<void> {
  await (await fetch(`${subscriberUrl}/_hold?path=${encodeURIComponent(path)}&ms=${ms}`, { method: "POST" })).arrayBuffer();
}

export async function received(subscriberUrl: string, path: string): Promise<Received[]> {
  return (await fetch(`${subscriberUrl}/_received?path=${encodeURIComponent(path)}`)).json();
}

/** Poll until `check` returns a value that is not undefined/false, or fail after `timeoutMs`. */
export async function eventually<T>(check: () => Promise<T | undefined | false>, timeoutMs = 10_000, what = "condition"): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Wait until `path` has received at least `n` requests. */
export function receivedAtLeast(subscriberUrl: string, path: string, n: number, timeoutMs = 10_000): Promise<Received[]> {
  return eventually(
    async () => {
      const got = await received(subscriberUrl, path);
      return got.length >= n ? got : undefined;
    },
    timeoutMs,
    `${n} deliveries to ${path}`,
  );
}

export const broker = (name: string, annotations: Record<string, string> = {}, spec: Record<string, unknown> = {}) => ({
  apiVersion: "eventing.knative.dev/v1",
  kind: "Broker",
  metadata: { name, annotations },
  spec,
});

export const trigger = (name: string, spec: Record<string, unknown>, annotations: Record<string, string> = {}) => ({
  apiVersion: "eventing.knative.dev/v1",
  kind: "Trigger",
  metadata: { name, annotations },
  spec,
});

export function resourcePath(namespace: string, plural: string, name?: string): string {
  const group = plural === "brokers" || plural === "triggers" ? "eventing.knative.dev/v1" : "";
  return `/apis/${group}/namespaces/${namespace}/${plural}${name ? `/${name}` : ""}`;
}

/** A binary-mode CloudEvent request init. */
export function binaryEvent(id: string, type = "com.example.test", extra: Record<string, string> = {}, body = '{"n":1}'): RequestInit {
  return {
    method: "POST",
    headers: { "ce-specversion": "1.0", "ce-id": id, "ce-source": "/test", "ce-type": type, "content-type": "application/json", ...extra },
    body,
  };
}

/** What `settled` reads of a broker's metrics (shared/resources/broker-api.ts BrokerMetrics). */
export interface SettleMetrics {
  backlog: number;
  inflight: Record<string, number>;
  counters: { trigger: string; name: string; value: number }[];
}

/** A broker's metrics subresource (API.md §5), for `settled`. */
export const brokerMetricsOf =
  (fetchRouter: (path: string, init?: RequestInit) => Promise<Response>, namespace: string, name: string) => async (): Promise<SettleMetrics> =>
    (await fetchRouter(`/apis/eventing.knative.dev/v1/namespaces/${namespace}/brokers/${name}/metrics`, { headers: auth })).json();

/**
 * Wait until a broker has nothing more to send: nothing waiting, queued for a retry or in flight (or, for
 * one `trigger`, every event it matched has its outcome and none is in flight). A count checked after it
 * catches a late duplicate or an extra retry, which would have been sent before the broker settled; a
 * fixed sleep only hopes to.
 */
export function settled(metrics: () => Promise<SettleMetrics>, trigger?: string, timeoutMs = 15_000): Promise<SettleMetrics> {
  const count = (m: SettleMetrics, names: string[]) =>
    m.counters.filter((c) => c.trigger === trigger && names.includes(c.name)).reduce((n, c) => n + c.value, 0);
  return eventually(
    async () => {
      const m = await metrics();
      const done =
        trigger === undefined
          ? m.backlog === 0 && Object.values(m.inflight).every((n) => n === 0)
          : !m.inflight[trigger] && count(m, ["delivered", "deadlettered", "failed"]) >= count(m, ["matched"]);
      return done ? m : undefined;
    },
    timeoutMs,
    trigger === undefined ? "the broker to settle" : `trigger ${trigger} to settle`,
  );
}
