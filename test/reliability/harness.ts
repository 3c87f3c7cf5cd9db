/**
 * What the reliability tests share: the router as a user runs it (test/support/router.ts, `wrangler dev`
 * on its own storage), manifests applied over the management API, and the broker's own counters read
 * from GET /metrics, the way an operator would check them.
 */
import { readdirSync, readFileSync } from "node:fs";
import { auth, broker, resourcePath, trigger } from "../support/client.ts";
import { putManifest } from "../support/manifests.ts";
import { type RunningRouter, startRouter } from "../support/router.ts";
import { startSubscriber, type Subscriber } from "../support/subscriber.ts";

export { broker, trigger };

/** No management or metrics call takes longer than this: a stuck runtime fails the test, it does not hang it. */
const CALL_TIMEOUT_MS = 15_000;

/** Apply a manifest with PUT; fails the test with the Status body when the router refuses it. */
export async function apply(router: string, namespace: string, plural: string, manifest: { metadata: { name: string } }, group = ""): Promise<void> {
  const path = group ? `/apis/${group}/namespaces/${namespace}/${plural}/${manifest.metadata.name}` : resourcePath(namespace, plural, manifest.metadata.name);
  const r = await putManifest((p, init) => fetch(`${router}${p}`, { ...init, signal: AbortSignal.timeout(CALL_TIMEOUT_MS) }), path, manifest);
  if (r.status >= 300) throw new Error(`PUT ${path}: ${r.status} ${await r.text()}`);
}

/**
 * A crash test's start: a subscriber, a router on fresh storage (restart it on `router.persistDir`), broker
 * `orders` of `partitions` partitions in `namespace`, and the trigger `triggerTo(the subscriber's URL)`.
 */
export async function startWithOrders(
  namespace: string,
  partitions: number,
  triggerTo: (subscriberUrl: string) => { metadata: { name: string } },
): Promise<{ router: RunningRouter; sub: Subscriber }> {
  const sub = await startSubscriber();
  const router = await startRouter();
  try {
    await apply(router.url, namespace, "brokers", broker("orders", { "edge-eventing.dev/partitions": String(partitions) }));
    await apply(router.url, namespace, "triggers", triggerTo(sub.url));
  } catch (e) {
    await router.kill();
    await sub.close();
    throw e;
  }
  return { router, sub };
}

/** One broker's samples from GET /metrics: `name{labels}` -> value, for the labels given. */
export async function metrics(router: string, namespace: string, brokerName: string): Promise<(metric: string, triggerName?: string) => number> {
  const text = await (await fetch(`${router}/metrics`, { headers: auth, signal: AbortSignal.timeout(CALL_TIMEOUT_MS) })).text();
  const samples = new Map<string, number>();
  for (const line of text.split("\n")) {
    const m = /^edge_eventing_(\w+)\{([^}]*)\} (\S+)$/.exec(line);
    if (!m) continue;
    const labels = Object.fromEntries([...m[2].matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
    if (labels.namespace !== namespace || labels.broker !== brokerName || labels.le !== undefined) continue;
    samples.set(`${m[1]}/${labels.trigger ?? ""}`, Number(m[3]));
  }
  return (metric, triggerName = "") => samples.get(`${metric}/${triggerName}`) ?? 0;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A binary-mode event request init. */
export function event(id: string, extra: Record<string, string> = {}): RequestInit {
  return {
    method: "POST",
    headers: {
      "ce-specversion": "1.0",
      "ce-id": id,
      "ce-source": "/reliability",
      "ce-type": "dev.edge-eventing.test",
      "content-type": "application/json",
      ...extra,
    },
    body: `{"id":"${id}"}`,
  };
}

/**
 * Resident memory of the workerd processes this test process started (through wrangler), in MiB,
 * read from Linux /proc: the runtime's footprint, whatever wraps it.
 */
export function workerdRssMiB(): number {
  const parent = new Map<number, number>();
  const name = new Map<number, string>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      name.set(Number(entry), stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")));
      parent.set(Number(entry), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
    } catch {
      // ended while we looked
    }
  }
  const mine = (pid: number) => {
    for (let p = pid, hops = 0; p > 1 && hops < 32; p = parent.get(p) ?? 0, hops++) if (p === process.pid) return true;
    return false;
  };
  let kib = 0;
  for (const [pid, comm] of name) {
    if (comm !== "workerd" || !mine(pid)) continue;
    try {
      kib += Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
    } catch {
      // ended while we looked
    }
  }
  return kib / 1024;
}
