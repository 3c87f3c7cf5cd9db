/**
 * One SaaS webhook request in, one outcome out: verify the signature over the raw bytes first (401,
 * nothing parsed or stored otherwise), answer provider handshakes, then map the delivery to a
 * CloudEvent whose id is the provider's delivery id so the broker's (source, id) window drops retries.
 */
import type { CloudEvent } from "../cloudevents/event.ts";
import { sha256, toHex } from "../crypto.ts";
import { mapDelivery } from "./mapping.ts";
import { decodeUtf8, eventData, isFormMediaType, mediaTypeOf, parsePayload, textAt } from "./payload.ts";
import { verifySignature } from "./signatures.ts";
import type { Provider, ProviderReply, WebhookConfig, WebhookOutcome, WebhookRequest } from "./types.ts";

/**
 * Largest accepted body. Providers send far less in practice (GitHub caps at 25 MB but typical
 * deliveries are a few KB); 1 MiB keeps a stored event well inside a Durable Object's 2 MB row.
 */
export const MAX_WEBHOOK_BODY_BYTES = 1024 * 1024;

/**
 * Providers whose signature covers the delivery id: in the signed body (Stripe, Slack) or signed with it
 * (Standard Webhooks' webhook-id). The others send their id in an unsigned header, so a captured delivery
 * could be replayed under a fresh one: their event id is the SHA-256 of the signed body, which the broker's
 * (source, id) window then deduplicates, and the provider's own id travels as `providerdeliveryid`.
 */
const SIGNED_ID: ReadonlySet<Provider> = new Set(["stripe", "slack", "standard-webhooks"]);

export async function receiveWebhook(config: WebhookConfig, request: WebhookRequest, nowMs: number): Promise<WebhookOutcome> {
  if (request.body.length > MAX_WEBHOOK_BODY_BYTES) {
    return { kind: "rejected", status: 413, error: `body is ${request.body.length} bytes, over the ${MAX_WEBHOOK_BODY_BYTES}-byte limit` };
  }
  if (config.provider === "slack" && isSlackSslCheck(request)) return { kind: "reply", status: 200, body: "" };

  const failure = await verifySignature(config, request, nowMs);
  if (failure !== null) return { kind: "rejected", status: 401, error: failure };

  const payload = parsePayload(request.headers, request.body);
  if ("error" in payload) return { kind: "rejected", status: 400, error: payload.error };

  if (config.provider === "slack" && textAt(payload.json, "type") === "url_verification") {
    const challenge = textAt(payload.json, "challenge");
    if (challenge === undefined) return { kind: "rejected", status: 400, error: "url_verification has no challenge" };
    return { kind: "reply", status: 200, headers: { "content-type": "application/json" }, body: JSON.stringify({ challenge }) };
  }

  const githubEvent = request.headers.get("X-GitHub-Event");
  if (config.eventTypes && githubEvent !== null && !config.eventTypes.includes(githubEvent)) {
    // Answered 2xx so GitHub does not report failed deliveries (its ping arrives whatever the hook subscribes to).
    return { kind: "reply", status: 200, body: `ignored: ${githubEvent} is not in spec.eventTypes` };
  }

  const mapped = mapDelivery(config, request.headers, payload);
  if ("error" in mapped) return { kind: "rejected", status: mapped.status, error: mapped.error };

  const signedId = SIGNED_ID.has(config.provider) ? mapped.id : undefined;
  const attributes: CloudEvent["attributes"] = {
    specversion: "1.0",
    id: signedId ?? toHex(await sha256(request.body)),
    source: mapped.source,
    type: mapped.type,
  };
  if (signedId === undefined && mapped.id !== undefined) attributes.providerdeliveryid = mapped.id;
  if (mapped.subject !== undefined) attributes.subject = mapped.subject;
  if (mapped.time !== undefined) attributes.time = mapped.time;
  const contentType = request.headers.get("content-type");
  if (contentType) attributes.datacontenttype = contentType;
  Object.assign(attributes, mapped.extensions);
  const event: CloudEvent = request.body.length > 0 ? { attributes, data: eventData(payload.mediaType, request.body) } : { attributes };
  return { kind: "event", event };
}

/** Slack checks a slash command's TLS certificate with an unsigned `ssl_check=1` POST; it only needs a 200. */
function isSlackSslCheck(request: WebhookRequest): boolean {
  if (!isFormMediaType(mediaTypeOf(request.headers))) return false;
  const text = decodeUtf8(request.body);
  return text !== null && new URLSearchParams(text).get("ssl_check") === "1";
}

const EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>';

/** The 2xx a provider expects once a delivery is stored (duplicates get it too). */
export function providerResponse(provider: Provider): ProviderReply {
  switch (provider) {
    case "github":
    case "gitlab":
      // As Knative's eventing-github and eventing-gitlab adapters answer.
      return { status: 202, body: "accepted" };
    case "twilio":
      // Messaging and Voice webhooks read TwiML from the reply; an empty <Response> sends nothing back.
      return { status: 200, headers: { "content-type": "text/xml" }, body: EMPTY_TWIML };
    default:
      return { status: 200, body: "" };
  }
}
