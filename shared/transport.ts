/**
 * Where the router may send credentials (bridge tokens, Redis tokens, Alibaba keys, cluster tokens): https
 * anywhere; plain http only to this machine, for local development and the test fakes.
 */

export const SECURE_ENDPOINT_RULE = "must be an https URL (http only for localhost, 127.0.0.0/8 or [::1])";

export function isSecureEndpoint(value: unknown): boolean {
  if (typeof value !== "string") return false;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  if (url.protocol === "https:") return true;
  return url.protocol === "http:" && isLoopback(url.hostname);
}

function isLoopback(hostname: string): boolean {
  return hostname === "localhost" || hostname === "[::1]" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}
