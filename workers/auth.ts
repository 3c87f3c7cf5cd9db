/** The admin bearer token (Worker secret ADMIN_TOKEN). No token configured: every call is refused. */
import type { MiddlewareHandler } from "hono";
import { sameSecret } from "../shared/crypto.ts";
import { failure } from "../shared/resources/status.ts";

export const requireAdmin: MiddlewareHandler<{ Bindings: Env }> = async (c, next) => {
  const expected = c.env.ADMIN_TOKEN;
  const given = /^Bearer (.+)$/i.exec(c.req.header("authorization") ?? "")?.[1];
  if (!expected || !given || !(await sameSecret(given, expected))) {
    const why = expected ? "a valid bearer token is required" : "no ADMIN_TOKEN is configured on this router: management is closed";
    return c.json(failure(401, "Unauthorized", why), 401, { "www-authenticate": 'Bearer realm="edge-eventing"' });
  }
  await next();
};
