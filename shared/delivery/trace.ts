/**
 * W3C trace context across the router: every delivery, reply and dead letter continues the trace the
 * event arrived with (the `traceparent` header, or the CloudEvents distributed-tracing extension) as a
 * child span, so a subscriber's spans join the producer's trace.
 */
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

export function isTraceparent(value: unknown): value is string {
  if (typeof value !== "string") return false;
  const m = TRACEPARENT.exec(value);
  return m !== null && m[1] !== "ff" && !/^0+$/.test(m[2]) && !/^0+$/.test(m[3]);
}

/** The same trace and flags with a fresh span id, or a new trace when there is no valid parent. */
export function childTraceparent(parent: string | null | undefined): string {
  const span = randomHex(8);
  const m = parent && isTraceparent(parent) ? TRACEPARENT.exec(parent) : null;
  return m ? `00-${m[2]}-${span}-${m[4]}` : `00-${randomHex(16)}-${span}-01`;
}

/** Random bytes drawn a block at a time: one call to the generator per few hundred spans, not one or two per delivery. */
const pool = new Uint8Array(4096);
let drawn = pool.length;
const HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, "0"));

function randomHex(bytes: number): string {
  if (drawn + bytes > pool.length) {
    crypto.getRandomValues(pool);
    drawn = 0;
  }
  let s = "";
  for (const end = drawn + bytes; drawn < end; drawn++) s += HEX[pool[drawn]];
  return s;
}
