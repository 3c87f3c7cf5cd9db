/**
 * An ingest that did not store, as the HTTP answer a producer gets: one mapping for the broker ingress
 * and the webhook receiver. A 202 and a missing broker are answered by each entry point in its own way.
 */
import type { IngestResult, PolicyRefusal } from "../shared/contracts/ingest.ts";

export type IngestRefusal = Exclude<IngestResult, { status: 202 }> | PolicyRefusal;

/** `busy`: the status a full or changing broker answers with (webhooks: 503, which every provider retries). */
export function refusalResponse(r: IngestRefusal, busy?: 429 | 503): Response {
  switch (r.status) {
    case 429:
    case 503:
      return Response.json({ error: r.error }, { status: busy ?? r.status, headers: { "retry-after": String(r.retryAfterSeconds) } });
    case 400:
      return Response.json(r.field ? { error: r.error, field: r.field } : { error: r.error }, { status: 400 });
    case 401:
      return Response.json(body(r), { status: 401, headers: { "www-authenticate": challenge(r) } });
    default:
      return Response.json(body(r), { status: r.status });
  }
}

/** EventPolicy refusals say why in a stable word too (`reason`); never the token. */
const body = (r: IngestRefusal) => ("reason" in r ? { error: r.error, reason: r.reason } : { error: r.error });

/** RFC 6750 §3: a token that was presented and refused is an `invalid_token`. */
function challenge(r: IngestRefusal): string {
  const realm = 'Bearer realm="edge-eventing ingress"';
  return "reason" in r && r.reason !== "missing_token" ? `${realm}, error="invalid_token"` : realm;
}
