// Secrets and optional vars that `wrangler types` cannot see in wrangler.toml.
interface Env {
  /** Bearer token for the management API, reviews, metrics and the dashboard (Worker secret). */
  ADMIN_TOKEN?: string;
  /** The router's public URL, when it differs from the URL requests arrive at. */
  PUBLIC_URL?: string;
}

// Vite's `?raw` imports (the workerd tests read fixtures this way).
declare module "*?raw" {
  const text: string;
  export default text;
}
