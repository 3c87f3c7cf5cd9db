/**
 * One slot of a trigger's outbound delivery. A Worker invocation keeps at most 6 connections open, so a
 * broker spreads a trigger's deliveries over ceil(parallelism / 6) of these objects, each with its own
 * connection budget: parallelism is a setting, not an accident of the runtime.
 */
import { DurableObject } from "cloudflare:workers";
import { readCapped } from "../shared/streams.ts";

/** Connections one object keeps open at once (Cloudflare's per-invocation limit). */
export const CONNECTIONS_PER_SLOT = 6;
/** Largest response body read back (a reply event); longer ones are cut and so fail as replies. */
export const MAX_RESPONSE_BYTES = 1024 * 1024;

export interface OutboundRequest {
  url: string;
  headers: [string, string][];
  body: Uint8Array | null;
  timeoutMs: number;
}

export type OutboundResult = { status: number; headers: [string, string][]; body: Uint8Array; truncated: boolean } | { error: string };

export class Dispatcher extends DurableObject<Env> {
  private inflight = 0;
  private peak = 0;

  async send(req: OutboundRequest): Promise<OutboundResult> {
    this.inflight++;
    this.peak = Math.max(this.peak, this.inflight);
    try {
      const res = await fetch(req.url, { method: "POST", headers: req.headers, body: req.body, signal: AbortSignal.timeout(req.timeoutMs), redirect: "manual" });
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
      this.inflight--;
    }
  }

  /** Concurrency seen by this slot, so tests can check the connection budget by design. */
  stats(): { inflight: number; peak: number } {
    return { inflight: this.inflight, peak: this.peak };
  }
}
