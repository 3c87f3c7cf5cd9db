/**
 * Kubernetes' watch (`?watch=true`), as `kubectl get -w` and `kubectl wait` read it: a stream of JSON lines
 * `{"type": "ADDED" | "MODIFIED" | "DELETED", "object": ...}`. The router has no change feed of its own, so
 * the stream reads the list every `pollMs` and sends what changed, live status included (a Ready condition
 * that turns True is a MODIFIED). From `since` (a list's resourceVersion) only objects written after it are
 * sent first; without it every object is sent as ADDED first, as the API server does.
 */
import type { Manifest } from "../resources/manifest.ts";

export interface WatchOptions {
  read: () => Promise<Manifest[]>;
  since: string | undefined;
  pollMs: number;
  /** The stream ends then (the client reconnects, as with the API server's timeout). */
  untilMs: number;
  /** The object an event carries (the manifest, or a one-row Table). */
  render: (m: Manifest) => unknown;
}

const keyOf = (m: Manifest) => `${m.metadata.namespace}/${m.metadata.name}`;

export function watchStream(o: WatchOptions): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  const since = o.since && o.since !== "0" ? Number(o.since) : null;
  let known: Map<string, { text: string; m: Manifest }> | null = null;
  let stopped = false;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      for (;;) {
        if (stopped || Date.now() >= o.untilMs) return controller.close();
        const items = await o.read();
        const now = new Map(items.map((m) => [keyOf(m), { text: JSON.stringify(m), m }]));
        const events: string[] = [];
        const send = (type: string, m: Manifest) => events.push(`${JSON.stringify({ type, object: o.render(m) })}\n`);
        if (known === null) {
          for (const { m } of now.values()) if (since === null || Number(m.metadata.resourceVersion ?? 0) > since) send("ADDED", m);
        } else {
          for (const [key, v] of now) {
            const before = known.get(key);
            if (!before) send("ADDED", v.m);
            else if (before.text !== v.text) send("MODIFIED", v.m);
          }
          for (const [key, v] of known) if (!now.has(key)) send("DELETED", v.m);
        }
        known = now;
        if (events.length > 0) {
          controller.enqueue(encoder.encode(events.join("")));
          return;
        }
        await new Promise((r) => setTimeout(r, Math.min(o.pollMs, Math.max(0, o.untilMs - Date.now()))));
      }
    },
    cancel() {
      stopped = true;
    },
  });
}
