/**
 * Who calls the management API, and whether they may (API.md §11, docs/SECURITY.md): the one check every
 * management route goes through. A caller is the admin token (the break-glass credential: the user
 * `edge-eventing:admin` in Kubernetes' `system:masters` group, bound to cluster-admin) or an OIDC token of
 * an issuer in OIDC_ISSUERS whose `aud` holds the API's audience (API_AUDIENCE, default `edge-eventing`),
 * verified as ingress verifies senders (workers/oidc.ts): user `{iss}#{sub}`, groups from the `groups`
 * claim plus `system:authenticated`. A token that names a broker's audience is refused here (401), so a
 * sender's token never opens the management API. Then Kubernetes RBAC decides (shared/rbac); a refusal is
 * a 401 or 403 Status, and both are recorded in the audit trail (workers/audit.ts).
 */
import type { MiddlewareHandler } from "hono";
import { decodeJwt } from "jose";
import { ANONYMOUS, type AuditEntry, auditEntry } from "../shared/audit/trail.ts";
import { sameSecret } from "../shared/crypto.ts";
import { authorize, forbiddenMessage, type RbacSnapshot, type UserInfo } from "../shared/rbac/authorizer.ts";
import { MASTERS, withBuiltins } from "../shared/rbac/builtin.ts";
import { requestAttributes } from "../shared/rbac/request.ts";
import { type Attributes, isResourceRequest } from "../shared/rbac/rules.ts";
import { bearerFromProtocols } from "../shared/resources/broker-api.ts";
import { failure, forbidden } from "../shared/resources/status.ts";
import { isAddressAudience } from "../shared/policy/spec.ts";
import { recordRefusal } from "./audit.ts";
import { control } from "../clients/stubs.ts";
import { verifySender } from "./oidc.ts";

export const DEFAULT_API_AUDIENCE = "edge-eventing";
const AUTHENTICATED = "system:authenticated";
export const ADMIN_USER: UserInfo = { name: "edge-eventing:admin", groups: [MASTERS, AUTHENTICATED] };
/** How long an isolate reuses the RBAC objects it read (its own RBAC writes clear them at once). */
export const RBAC_CACHE_MS = 1_000;

export const apiAudience = (env: Env) => env.API_AUDIENCE || DEFAULT_API_AUDIENCE;

/** The bearer token from Authorization, or for a WebSocket upgrade from Kubernetes' bearer subprotocol. */
function bearerOf(req: Request): string | undefined {
  const header = /^Bearer (.+)$/i.exec(req.headers.get("authorization") ?? "")?.[1];
  if (header || req.headers.get("upgrade")?.toLowerCase() !== "websocket") return header;
  return bearerFromProtocols(req.headers.get("sec-websocket-protocol"))?.token;
}

export async function authenticate(env: Env, bearer: string | undefined): Promise<UserInfo | { error: string }> {
  if (!env.ADMIN_TOKEN && !env.OIDC_ISSUERS) return { error: "no ADMIN_TOKEN is configured on this router: management is closed" };
  if (!bearer) return { error: "a valid bearer token is required" };
  if (env.ADMIN_TOKEN && (await sameSecret(bearer, env.ADMIN_TOKEN))) return ADMIN_USER;
  let claims: Record<string, unknown>;
  try {
    claims = decodeJwt(bearer);
  } catch {
    return { error: "a valid bearer token is required: the admin token or an OIDC token" };
  }
  const audience = apiAudience(env);
  const auds = [claims.aud ?? []].flat();
  if (auds.some((a) => typeof a === "string" && isAddressAudience(a))) {
    return {
      error: `the token is meant for a broker or another address (its aud names one's audience): the management API takes OIDC tokens for the audience ${audience}`,
    };
  }
  const check = await verifySender(bearer, audience, env.OIDC_ISSUERS);
  if (!check.ok) return { error: check.reason === "wrong_audience" ? `the token's aud does not hold the management API's audience ${audience}` : check.error };
  const groups = Array.isArray(claims.groups) ? claims.groups.filter((g): g is string => typeof g === "string") : [];
  return { name: `${check.iss}#${check.sub}`, groups: [...groups.filter((g) => g !== MASTERS), AUTHENTICATED] };
}

let cached: { at: number; snapshot: Promise<RbacSnapshot> } | null = null;

/** The RBAC objects, built-in ones included, as this isolate last read them (at most RBAC_CACHE_MS ago). */
export function rbacSnapshot(env: Env): Promise<RbacSnapshot> {
  if (!cached || Date.now() - cached.at > RBAC_CACHE_MS) {
    const snapshot = control(env).rbac().then(withBuiltins);
    cached = { at: Date.now(), snapshot };
    snapshot.catch(() => (cached = null));
  }
  return cached.snapshot;
}

/** After an RBAC write: the next check reads the objects again. */
export function forgetRbac(): void {
  cached = null;
}

export async function allowed(env: Env, user: UserInfo, a: Attributes): Promise<boolean> {
  return user.groups.includes(MASTERS) || authorize(await rbacSnapshot(env), user, a);
}

/** The API server's 403 for a request RBAC does not allow. */
export function forbiddenStatus(user: UserInfo, a: Attributes) {
  return isResourceRequest(a) ? forbidden(a.apiGroup, a.resource, a.name, forbiddenMessage(user, a)) : forbidden("", "", undefined, forbiddenMessage(user, a));
}

const users = new WeakMap<Request, UserInfo>();
/** The caller of a request the middleware let through. */
export const userOf = (req: Request): UserInfo => users.get(req)!;

/** The audit entry of a change this request makes (its code is set when it is made). */
export function changeEntry(req: Request): AuditEntry {
  const url = new URL(req.url);
  return auditEntry(userOf(req), requestAttributes(req.method, url.pathname, url.searchParams), url.pathname, 0);
}

export const authorizeRequest: MiddlewareHandler<{ Bindings: Env }> = async (c, next) => {
  const url = new URL(c.req.url);
  const a = requestAttributes(c.req.method, url.pathname, url.searchParams);
  const who = await authenticate(c.env, bearerOf(c.req.raw));
  if ("error" in who) {
    recordRefusal(auditEntry({ name: ANONYMOUS, groups: [] }, a, url.pathname, 401));
    return c.json(failure(401, "Unauthorized", who.error), 401, { "www-authenticate": 'Bearer realm="edge-eventing"' });
  }
  if (!(await allowed(c.env, who, a))) {
    recordRefusal(auditEntry(who, a, url.pathname, 403));
    return c.json(forbiddenStatus(who, a), 403);
  }
  users.set(c.req.raw, who);
  await next();
};
