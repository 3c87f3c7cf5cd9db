/** Where the router is reachable and how it resolves Knative Service refs, from vars and the request. */
import { type ResolveContext, selfHostsOf } from "../shared/resources/destination.ts";

export function resolveContext(env: Env, requestUrl: string): ResolveContext {
  const baseUrl = (env.PUBLIC_URL || new URL(requestUrl).origin).replace(/\/+$/, "");
  return {
    baseUrl,
    selfHosts: selfHostsOf(baseUrl, requestUrl, env.ROUTER_ALIASES),
    domainTemplate: env.DOMAIN_TEMPLATE,
    domain: env.DOMAIN,
  };
}
