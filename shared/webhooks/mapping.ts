/**
 * How a verified delivery becomes CloudEvent attributes, per provider (docs/WEBHOOKS.md has the table).
 * Types follow Knative's own sources where one exists (eventing-github, eventing-gitlab); every other
 * provider's type is `dev.edge-eventing.webhook.<provider>.<the provider's own event name>`.
 */
import type { AttributeValue } from "../cloudevents/event.ts";
import { GITHUB_TYPE_PREFIX, githubSubjectAndExtensions } from "./github-events.ts";
import { at, textAt } from "./payload.ts";
import type { Payload } from "./payload.ts";
import { standardWebhookId } from "./signatures.ts";
import type { WebhookConfig } from "./types.ts";

export const WEBHOOK_TYPE_PREFIX = "dev.edge-eventing.webhook";
export const GITLAB_TYPE_PREFIX = "dev.knative.sources.gitlab";

export interface Mapped {
  type: string;
  source: string;
  /** The provider's delivery id, if it sends one (the caller decides whether it can be the event id). */
  id?: string;
  subject?: string;
  time?: string;
  extensions?: Record<string, AttributeValue>;
}

export type MappingResult = Mapped | { status: 400 | 415; error: string };

interface Context {
  config: WebhookConfig;
  headers: Headers;
  payload: Payload;
}

type Mapper = (ctx: Context) => MappingResult;

/** Knative's convention for a source resource without an external URL (as PingSource uses). */
export function resourceSource(config: WebhookConfig): string {
  const plural = config.source.kind === "GitHubSource" ? "githubsources" : "webhooksources";
  return `/apis/v1/namespaces/${config.source.namespace}/${plural}/${config.source.name}`;
}

const MAPPERS: Record<WebhookConfig["provider"], Mapper> = {
  github: ({ config, headers, payload }) => {
    const event = headers.get("X-GitHub-Event");
    if (!event) return { status: 400, error: "X-GitHub-Event header is missing" };
    const json = requireJson(payload, "github", "application/json or application/x-www-form-urlencoded (payload=)");
    if ("error" in json) return json;
    const source = config.ownerAndRepository
      ? `https://github.com/${config.ownerAndRepository}`
      : (textAt(json.value, "repository.html_url") ?? resourceSource(config));
    return {
      type: `${GITHUB_TYPE_PREFIX}.${event}`,
      source,
      id: headers.get("X-GitHub-Delivery") ?? undefined,
      ...githubSubjectAndExtensions(event, json.value),
    };
  },

  gitlab: ({ config, headers, payload }) => {
    const header = headers.get("X-Gitlab-Event");
    // eventing-gitlab: "Merge Request Hook" -> merge_request.
    const event = header?.endsWith(" Hook") ? header.slice(0, -" Hook".length).toLowerCase().replaceAll(" ", "_") : undefined;
    if (!header || !event) return { status: 400, error: 'X-Gitlab-Event header is missing or does not end in " Hook"' };
    const json = requireJson(payload, "gitlab", "application/json");
    if ("error" in json) return json;
    return {
      type: `${GITLAB_TYPE_PREFIX}.${event}`,
      source: textAt(json.value, "project.web_url") ?? resourceSource(config),
      // Idempotency-Key stays the same across GitLab's retries; the others identify the event.
      id: headers.get("Idempotency-Key") ?? standardWebhookId(headers) ?? headers.get("X-Gitlab-Event-UUID") ?? undefined,
      extensions: { comgitlabevent: header },
    };
  },

  stripe: ({ config, payload }) => {
    const json = requireJson(payload, "stripe", "application/json");
    if ("error" in json) return json;
    const type = textAt(json.value, "type");
    if (!type) return { status: 400, error: "Stripe event has no type" };
    return {
      type: `${WEBHOOK_TYPE_PREFIX}.stripe.${type}`,
      source: resourceSource(config),
      id: textAt(json.value, "id"),
      subject: textAt(json.value, "data.object.id"),
      time: unixTime(at(json.value, "created"), 1000),
    };
  },

  slack: ({ config, payload }) => {
    const source = resourceSource(config);
    if (payload.form && payload.json === undefined) {
      const command = payload.form.get("command");
      if (!command) return { status: 400, error: "Slack form body has neither command nor payload" };
      return { type: `${WEBHOOK_TYPE_PREFIX}.slack.slash_command`, source, id: payload.form.get("trigger_id") ?? undefined, subject: command };
    }
    const json = requireJson(payload, "slack", "application/json or application/x-www-form-urlencoded");
    if ("error" in json) return json;
    const outer = textAt(json.value, "type");
    const type = outer === "event_callback" ? textAt(json.value, "event.type") : outer;
    if (!type) return { status: 400, error: "Slack payload has no type" };
    return {
      type: `${WEBHOOK_TYPE_PREFIX}.slack.${type}`,
      source,
      id: textAt(json.value, "event_id") ?? textAt(json.value, "trigger_id"),
      subject: textAt(json.value, "event.channel") ?? textAt(json.value, "channel.id"),
      time: unixTime(at(json.value, "event_time"), 1000),
    };
  },

  "standard-webhooks": ({ config, headers, payload }) => {
    const type = textAt(payload.json, "type");
    return {
      type: type ? `${WEBHOOK_TYPE_PREFIX}.standard-webhooks.${type}` : `${WEBHOOK_TYPE_PREFIX}.standard-webhooks`,
      source: resourceSource(config),
      id: standardWebhookId(headers) ?? undefined,
    };
  },

  shopify: ({ config, headers, payload }) => {
    const topic = headers.get("X-Shopify-Topic") ?? headers.get("Shopify-Topic");
    if (!topic) return { status: 400, error: "X-Shopify-Topic header is missing" };
    const json = requireJson(payload, "shopify", "application/json");
    if ("error" in json) return json;
    // The shop domain header is not signed: kept as an extension, never as the source (part of the dedup key).
    const shop = headers.get("X-Shopify-Shop-Domain") ?? headers.get("Shopify-Shop-Domain");
    return {
      type: `${WEBHOOK_TYPE_PREFIX}.shopify.${topic}`,
      source: resourceSource(config),
      ...(shop ? { extensions: { shopifyshopdomain: shop } } : {}),
      // Shopify: the same X-Shopify-Event-Id across deliveries marks a duplicate.
      id: headers.get("X-Shopify-Event-Id") ?? headers.get("X-Shopify-Webhook-Id") ?? headers.get("Shopify-Webhook-Id") ?? undefined,
      subject: textAt(json.value, "admin_graphql_api_id") ?? textAt(json.value, "id"),
    };
  },

  twilio: ({ config, headers, payload }) => {
    const param = (name: string) => payload.form?.get(name) || undefined;
    const account = param("AccountSid");
    const kind = (param("MessageSid") ?? param("SmsSid")) ? "message" : param("CallSid") ? "call" : "request";
    return {
      type: `${WEBHOOK_TYPE_PREFIX}.twilio.${kind}`,
      source: account ? `https://api.twilio.com/2010-04-01/Accounts/${account}` : resourceSource(config),
      id: headers.get("I-Twilio-Idempotency-Token") ?? undefined,
      subject: param("MessageSid") ?? param("SmsSid") ?? param("CallSid"),
    };
  },

  jira: ({ config, headers, payload }) => {
    const json = requireJson(payload, "jira", "application/json");
    if ("error" in json) return json;
    const event = textAt(json.value, "webhookEvent");
    if (!event) return { status: 400, error: "Jira payload has no webhookEvent" };
    return {
      type: `${WEBHOOK_TYPE_PREFIX}.jira.${event}`,
      source: jiraSite(json.value) ?? resourceSource(config),
      id: headers.get("X-Atlassian-Webhook-Identifier") ?? undefined,
      subject: textAt(json.value, "issue.key"),
      time: unixTime(at(json.value, "timestamp"), 1),
    };
  },

  "generic-hmac": ({ config }) => ({ type: `${WEBHOOK_TYPE_PREFIX}.generic-hmac`, source: resourceSource(config) }),
};

export function mapDelivery(config: WebhookConfig, headers: Headers, payload: Payload): MappingResult {
  return MAPPERS[config.provider]({ config, headers, payload });
}

function requireJson(payload: Payload, provider: string, accepted: string): { value: Record<string, unknown> } | { status: 415 | 400; error: string } {
  if (payload.json === undefined) return { status: 415, error: `${provider} deliveries must be ${accepted}, got "${payload.mediaType}"` };
  if (typeof payload.json !== "object" || payload.json === null || Array.isArray(payload.json)) {
    return { status: 400, error: `${provider} payload must be a JSON object` };
  }
  return { value: payload.json as Record<string, unknown> };
}

/** RFC 3339 time from a Unix timestamp in units of `msPerUnit` (1000: seconds, 1: milliseconds). */
function unixTime(value: unknown, msPerUnit: number): string | undefined {
  const n = typeof value === "string" && /^\d+(\.\d+)?$/.test(value) ? Number(value) : value;
  if (typeof n !== "number" || !Number.isFinite(n) || n <= 0) return undefined;
  const date = new Date(n * msPerUnit);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}

/** The Jira site (`https://<site>.atlassian.net`) from the REST `self` link of the payload's first entity. */
function jiraSite(payload: Record<string, unknown>): string | undefined {
  for (const value of Object.values(payload)) {
    const self = textAt(value, "self");
    if (!self) continue;
    try {
      return new URL(self).origin;
    } catch {
      // not a URL: the next entity's link may be
    }
  }
  return undefined;
}
