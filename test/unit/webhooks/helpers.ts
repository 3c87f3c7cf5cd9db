/** Builders shared by the webhook tests: a request as the Worker route would hand it over, and a config. */
import type { WebhookConfig, WebhookRequest } from "../../../shared/webhooks/types.ts";

export const URL_BASE = "https://router.example.com/webhooks/default/hooks";

export function request(headers: Record<string, string>, body: string | Uint8Array, url = URL_BASE): WebhookRequest {
  return { url, headers: new Headers(headers), body: typeof body === "string" ? new TextEncoder().encode(body) : body };
}

export function config(provider: WebhookConfig["provider"], secrets: string[], extra: Partial<WebhookConfig> = {}): WebhookConfig {
  return {
    provider,
    secrets,
    timestampToleranceSeconds: 300,
    source: { namespace: "default", name: "hooks", kind: "WebhookSource" },
    ...extra,
  };
}

/** The same bytes with one byte changed (the last one, flipped in its low bit). */
export function tamper(body: string): Uint8Array {
  const bytes = new TextEncoder().encode(body);
  bytes[bytes.length - 1] ^= 1;
  return bytes;
}
