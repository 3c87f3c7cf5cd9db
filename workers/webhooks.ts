/**
 * SaaS webhook ingress: `POST /webhooks/{namespace}/{source}` (API.md §2). Verification and mapping are
 * shared/webhooks; storing is the sink's broker object. The provider gets its expected 2xx only after the
 * broker answered 202 (the event is durable), so a failure here makes the provider retry, and the
 * provider's delivery id as the event id makes that retry a duplicate the broker stores once.
 */
import { Hono } from "hono";
import { isValidName, isValidNamespace } from "../shared/resources/manifest.ts";
import { MAX_WEBHOOK_BODY_BYTES, providerResponse, receiveWebhook } from "../shared/webhooks/receive.ts";
import { webhookConfig } from "../shared/webhooks/spec.ts";
import { secretReader } from "../shared/secrets.ts";
import { readLimited } from "./body.ts";
import { refusalResponse } from "./ingest-response.ts";
import { ingestInto } from "../clients/ingest.ts";
import { lookupWebhook } from "../clients/routes.ts";
import { sourceAdmission } from "../shared/policy/admit.ts";
import { resolveContext } from "./context.ts";

/** Retry-After when the sink's broker is not configured (yet): the provider retries, nothing is lost. */
const SINK_MISSING_RETRY_AFTER_S = 30;

export const webhooks = new Hono<{ Bindings: Env }>();

/**
 * The one answer to a caller that has not proved it holds the source's secret, whatever failed: an unknown
 * source, a secret not set, a bad signature. It tells nothing of which sources exist or what they need;
 * the reason goes to the log.
 */
const UNVERIFIED = { error: "webhook verification failed" };

webhooks.post("/webhooks/:namespace/:source", async (c) => {
  const { namespace, source: name } = c.req.param();
  const body = await readLimited(c.req.raw, MAX_WEBHOOK_BODY_BYTES);
  if (body === null) return c.json({ error: `request body is larger than ${MAX_WEBHOOK_BODY_BYTES} bytes` }, 413);
  const refuse = (reason: string) => {
    console.log(JSON.stringify({ level: "warn", msg: "webhook refused", source: `${namespace}/${name}`, reason }));
    return c.json(UNVERIFIED, 401);
  };

  const ctx = resolveContext(c.env, c.req.url);
  const source = isValidNamespace(namespace) && isValidName(name) ? await lookupWebhook(c.env, namespace, name) : null;
  if (!source) return refuse("no GitHubSource or WebhookSource of this name");

  const resource = { kind: source.kind, metadata: { namespace, name }, spec: source.spec };
  const config = webhookConfig(resource, secretReader(c.env));
  if ("error" in config) return refuse(config.error);

  const outcome = await receiveWebhook(config, { url: publicRequestUrl(ctx.baseUrl, c.req.url), headers: c.req.raw.headers, body }, Date.now());
  if (outcome.kind === "rejected") return outcome.status === 401 ? refuse(outcome.error) : c.json({ error: outcome.error }, outcome.status);
  if (outcome.kind === "reply") return c.body(outcome.body, outcome.status as 200, outcome.headers);

  const entry = source.sink;
  // The source hands its event over as itself: EventPolicies of the sink broker check it against `from.ref`.
  const stored = await ingestInto(c.env, entry, [outcome.event], {}, sourceAdmission({ kind: source.kind, namespace, name }));
  if (stored.status === 202) {
    const reply = providerResponse(config.provider);
    return c.body(reply.body, reply.status as 200, reply.headers);
  }
  if (stored.status === 404) {
    return c.json({ error: `the sink of ${source.kind} ${namespace}/${name} is not ready: broker ${entry.namespace}/${entry.name} does not exist` }, 503, {
      "retry-after": String(SINK_MISSING_RETRY_AFTER_S),
    });
  }
  // 503, not 429: providers that retry all retry a 5xx; not all of them retry a 429.
  return refusalResponse(stored, 503);
});

webhooks.all("/webhooks/:namespace/:source", (c) => c.json({ error: `method ${c.req.method} not allowed; use POST` }, 405, { allow: "POST" }));

/**
 * The URL the provider called: the router's public URL (PUBLIC_URL, when the Worker sits behind a proxy)
 * with the request's path and query. Only Twilio signs it, and a source's `spec.publicUrl` overrides it.
 */
function publicRequestUrl(baseUrl: string, requestUrl: string): string {
  const u = new URL(requestUrl);
  return `${baseUrl}${u.pathname}${u.search}`;
}
