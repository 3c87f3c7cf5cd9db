// Secrets and optional vars that `wrangler types` cannot see in wrangler.toml.
interface Env {
  /** Bearer token for the management API, reviews, metrics and the dashboard (Worker secret). */
  ADMIN_TOKEN?: string;
  /** The router's public URL, when it differs from the URL requests arrive at. */
  PUBLIC_URL?: string;
  /** Other URLs or hosts that reach this Worker (the workers.dev alias of a custom domain): subscriber URLs on them are this router. */
  ROUTER_ALIASES?: string;
  /** Comma-separated OIDC issuer URLs whose tokens brokers with EventPolicies accept (docs/SECURITY.md). */
  OIDC_ISSUERS?: string;
  /** The `aud` an OIDC token must hold for the management API (default `edge-eventing`; docs/SECURITY.md). */
  API_AUDIENCE?: string;
  /** Signs the correlation values of RequestReplies that name no `spec.secrets` (docs/SECURITY.md). */
  REQUEST_REPLY_SECRET?: string;
}

// Vite's `?raw` imports (the workerd tests read fixtures this way).
declare module "*?raw" {
  const text: string;
  export default text;
}
