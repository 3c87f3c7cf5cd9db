/**
 * Which request headers travel with an event from ingress to its deliveries: Knative's allow-list
 * (eventing pkg/utils/headers.go PassThroughHeaders: `x-request-id`, `knative-*`, `x-b3-*`) plus the W3C
 * trace context. Everything else (Authorization, cookies, ce-* which travel as attributes) stays behind.
 */
export function passThroughHeaders(headers: Headers): Record<string, string> {
  const kept: Record<string, string> = {};
  headers.forEach((value, name) => {
    if (name === "x-request-id" || name === "traceparent" || name === "tracestate" || name.startsWith("knative-") || name.startsWith("x-b3-")) kept[name] = value;
  });
  return kept;
}
