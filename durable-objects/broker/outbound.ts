/**
 * Outbound HTTP delivery under Cloudflare's connection limit: one invocation (and, we assume, one Durable
 * Object) keeps at most 6 connections open; further fetches queue silently in production and not at all
 * in local workerd. A `Connections` budget counts what an object has open, so callers can keep under the
 * limit by design and tests can check it.
 */
import type { OutboundRequest, OutboundResult } from "../../shared/contracts/sending.ts";
import { readCapped } from "../../shared/streams.ts";

/** Connections one object keeps open at once. */
export const CONNECTIONS_PER_OBJECT = 6;
/** Largest response body read back (a reply event); longer ones are cut and so fail as replies. */
export const MAX_RESPONSE_BYTES = 1024 * 1024;

export class Connections {
  private open = 0;
  private peak = 0;

  get free(): boolean {
    return this.open < CONNECTIONS_PER_OBJECT;
  }

  /** POST the request; a network error or timeout is a result, never a throw. */
  async send(req: OutboundRequest): Promise<OutboundResult> {
    this.open++;
    this.peak = Math.max(this.peak, this.open);
    // A timer cleared when the attempt ends: AbortSignal.timeout's stays active for the whole timeout, and
    // an object may have at most 10,000 active timers (a few hundred deliveries a second reach that).
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(new DOMException(`timeout after ${req.timeoutMs} ms`, "TimeoutError")), req.timeoutMs);
    try {
      const res = await fetch(req.url, { method: "POST", headers: req.headers, body: req.body, signal: abort.signal, redirect: "manual" });
      const { bytes: body, truncated } = await readCapped(res.body, MAX_RESPONSE_BYTES);
      const headers: [string, string][] = [];
      res.headers.forEach((v, k) => {
        if (k === "content-type" || k === "retry-after" || k.startsWith("ce-")) headers.push([k, v]);
      });
      return { status: res.status, headers, body, truncated };
    } catch (e) {
      const err = e as Error;
      return { error: err.name === "TimeoutError" ? `timeout after ${req.timeoutMs} ms` : err.message };
    } finally {
      clearTimeout(timer);
      this.open--;
    }
  }

  stats(): { open: number; peak: number } {
    return { open: this.open, peak: this.peak };
  }
}
