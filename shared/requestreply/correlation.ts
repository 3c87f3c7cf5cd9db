/**
 * The correlation value a RequestReply stamps on each request, and that a reply carries back in its
 * reply attribute: `{id}:{replica}:{expiresAt}:{signature}` (docs/API.md §RequestReply).
 *
 * - `id`: a random UUID, new for every request (so two requests never share a value, whatever their
 *   event ids);
 * - `replica`: which of the RequestReply's waiter objects holds the waiting request, so that the broker
 *   partition that gets the reply, any of them, knows where to hand it (Knative's value ends in the
 *   index of the pod that waits, for the same reason);
 * - `expiresAt`: the request's deadline in Unix milliseconds, so a stale value is refused without asking
 *   anyone;
 * - `signature`: base64url HMAC-SHA256 over the RequestReply's `{namespace}/{name}` and the three fields
 *   above, with the RequestReply's key. Knative encrypts the event id with AES-GCM to the same end: only
 *   the router can make a value that verifies, and a value made for one RequestReply does not verify
 *   for another.
 */
import { decodeBase64Url, encodeBase64Url } from "../base64.ts";
import { hmac, timingSafeEqual, utf8 } from "../crypto.ts";

/** Waiter objects per RequestReply: each takes a share of the requests (an object serves about 1,000 calls a second). */
export const WAITER_REPLICAS = 8;

export interface Correlation {
  id: string;
  replica: number;
  expiresAt: number;
}

/** A value's shape; the signature is 32 bytes of base64url (43 characters). */
const VALUE = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}):(\d{1,3}):(\d{13}):([A-Za-z0-9_-]{43})$/;

function message(rr: { namespace: string; name: string }, c: Correlation): Uint8Array {
  return utf8(`${rr.namespace}/${rr.name}:${c.id}:${c.replica}:${c.expiresAt}`);
}

/** The value for a request, signed with the first key. */
export async function signCorrelation(keys: readonly string[], rr: { namespace: string; name: string }, c: Correlation): Promise<string> {
  const mac = await hmac("sha256", utf8(keys[0]), message(rr, c));
  return `${c.id}:${c.replica}:${c.expiresAt}:${encodeBase64Url(mac)}`;
}

/** The correlation a value names when one of `keys` signed it for this RequestReply, else null (malformed or forged). */
export async function verifyCorrelation(
  keys: readonly string[],
  rr: { namespace: string; name: string },
  value: unknown,
  replicas: number,
): Promise<Correlation | null> {
  const m = typeof value === "string" ? VALUE.exec(value) : null;
  if (!m) return null;
  const c: Correlation = { id: m[1], replica: Number(m[2]), expiresAt: Number(m[3]) };
  if (c.replica >= replicas) return null;
  const given = decodeBase64Url(m[4]);
  if (!given) return null;
  for (const key of keys) {
    if (timingSafeEqual(await hmac("sha256", utf8(key), message(rr, c)), given)) return c;
  }
  return null;
}
