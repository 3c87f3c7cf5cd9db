/**
 * Which request headers travel with an event from ingress to its deliveries: Knative's allow-list
 * (eventing pkg/utils/headers.go PassThroughHeaders: `x-request-id`, `knative-*`, `x-b3-*`) plus the W3C
 * trace context. Everything else (Authorization, cookies, ce-* which travel as attributes) stays behind.
 */
import type { InputError } from "../cloudevents/event.ts";

/**
 * What one request may pass through (docs/SECURITY.md). They are kept with every event of the request
 * (a batch of 1,000 events keeps them 1,000 times), so they are small: a trace context with a full
 * `tracestate` (512 characters that W3C asks to propagate) and a few `knative-*` headers fit.
 */
export const PASS_THROUGH_LIMITS = { count: 16, totalBytes: 4 * 1024 } as const;

const passes = (name: string) =>
  name === "x-request-id" || name === "traceparent" || name === "tracestate" || name.startsWith("knative-") || name.startsWith("x-b3-");

/** The request's pass-through headers, or a 400 naming the first header over the limits. */
export function passThroughHeaders(headers: Headers): { headers: Record<string, string> } | { refused: InputError } {
  const kept: Record<string, string> = {};
  let count = 0;
  let bytes = 0;
  for (const [name, value] of headers) {
    if (!passes(name)) continue;
    count++;
    // Header values are ISO-8859-1 strings in Fetch: one byte per character.
    bytes += name.length + value.length;
    if (count > PASS_THROUGH_LIMITS.count)
      return refuse(`at most ${PASS_THROUGH_LIMITS.count} pass-through headers (x-request-id, traceparent, tracestate, knative-*, x-b3-*) per request`, name);
    if (bytes > PASS_THROUGH_LIMITS.totalBytes)
      return refuse(
        `pass-through headers (x-request-id, traceparent, tracestate, knative-*, x-b3-*) may take at most ${PASS_THROUGH_LIMITS.totalBytes} bytes together, names and values`,
        name,
      );
    kept[name] = value;
  }
  return { headers: kept };
}

function refuse(error: string, field: string): { refused: InputError } {
  return { refused: { status: 400, error, field } };
}
