/** The Kubernetes-style management API (API.md §3): thin routes over the control plane object. */
import { type Context, Hono } from "hono";
import { decodeManifest, fieldValidationOf, warningHeader } from "../shared/resources/field-validation.ts";
import { findKind, type KindInfo } from "../shared/resources/kinds.ts";
import { isValidName, isValidNamespace } from "../shared/resources/manifest.ts";
import { failure, type KubeStatus } from "../shared/resources/status.ts";
import { forgetRoutes } from "../durable-objects/routing.ts";
import { requireAdmin } from "./auth.ts";
import { readManifest } from "./body.ts";
import { control, resolveContext } from "./context.ts";

export const management = new Hono<{ Bindings: Env }>();
management.use("/apis/*", requireAdmin);

const COLLECTION = "/apis/:group/:version/namespaces/:namespace/:plural";
const ITEM = `${COLLECTION}/:name`;

type Ctx = Context<{ Bindings: Env }>;

const status = (c: Ctx, s: KubeStatus) => c.json(s, s.code as 400);
const notFound = (what: string) => failure(404, "NotFound", `${what} not found`);

/** The kind the path names (and a valid namespace when it has one), or the 404 to answer. */
function kindOf(c: Ctx): KindInfo | KubeStatus {
  const p = c.req.param() as Record<string, string>;
  const kind = findKind(p.group, p.version, p.plural);
  if (!kind || (p.namespace !== undefined && !isValidNamespace(p.namespace))) return notFound(`resource type ${p.plural}`);
  return kind;
}

async function list(c: Ctx, namespace: string | undefined) {
  const kind = kindOf(c);
  if ("code" in kind) return status(c, kind);
  const items = await control(c.env).list(kind.kind, namespace, resolveContext(c.env, c.req.url));
  return c.json({ apiVersion: `${kind.group}/${c.req.param("version")}`, kind: `${kind.kind}List`, items });
}

async function apply(c: Ctx, mode: "put" | "post") {
  const kind = kindOf(c);
  if ("code" in kind) return status(c, kind);
  const name = mode === "put" ? c.req.param("name") : undefined;
  if (name !== undefined && !isValidName(name)) return status(c, failure(400, "BadRequest", `invalid name ${name}`));
  const validation = fieldValidationOf(c.req.query("fieldValidation"));
  if (typeof validation !== "string") return status(c, validation);
  const dryRun = c.req.query("dryRun");
  if (dryRun !== undefined && dryRun !== "All") return status(c, failure(400, "BadRequest", `dryRun must be "All" (got ${JSON.stringify(dryRun)})`));
  const body = await readManifest(c.req.raw);
  if ("code" in body) return status(c, body);
  const decoded = decodeManifest(kind, c.req.param("version")!, body, validation);
  if ("code" in decoded) return status(c, decoded);
  for (const text of decoded.warnings) c.header("Warning", warningHeader(text), { append: true });
  const r = await control(c.env).apply(kind.kind, c.req.param("namespace")!, decoded.value, mode, resolveContext(c.env, c.req.url), name, dryRun === "All");
  forgetRoutes(); // brokers and webhook sources are routed: this isolate sees its own change at once
  return "object" in r ? c.json(r.object, r.code) : status(c, r.status);
}

management.get("/apis/:group/:version/:plural", (c) => list(c, undefined));
management.get(COLLECTION, (c) => list(c, c.req.param("namespace")));
management.post(COLLECTION, (c) => apply(c, "post"));
management.put(ITEM, (c) => apply(c, "put"));

management.get(ITEM, async (c) => {
  const kind = kindOf(c);
  if ("code" in kind) return status(c, kind);
  const { namespace, name, plural } = c.req.param();
  const m = await control(c.env).get(kind.kind, namespace, name, resolveContext(c.env, c.req.url));
  return m ? c.json(m) : status(c, notFound(`${plural} "${name}"`));
});

management.delete(ITEM, async (c) => {
  const kind = kindOf(c);
  if ("code" in kind) return status(c, kind);
  const { namespace, name, plural } = c.req.param();
  const m = await control(c.env).delete(kind.kind, namespace, name, resolveContext(c.env, c.req.url));
  forgetRoutes(); // brokers and webhook sources are routed: this isolate sees its own change at once
  if (!m) return status(c, notFound(`${plural} "${name}"`));
  return c.json({ apiVersion: "v1", kind: "Status", status: "Success", code: 200, details: { name, kind: plural, uid: m.metadata.uid } });
});
