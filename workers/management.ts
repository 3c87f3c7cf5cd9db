/** The Kubernetes-style management API (API.md §3): thin routes over the control plane object. */
import { Hono } from "hono";
import { findKind } from "../shared/resources/kinds.ts";
import { isValidName, isValidNamespace, MAX_MANIFEST_BYTES, parseManifestBody } from "../shared/resources/manifest.ts";
import { failure } from "../shared/resources/status.ts";
import { requireAdmin } from "./auth.ts";
import { readTextLimited } from "./body.ts";
import { control, resolveContext } from "./context.ts";

export const management = new Hono<{ Bindings: Env }>();
management.use("/apis/*", requireAdmin);

type Params = { group: string; version: string; plural: string; namespace?: string };

function kindOf(p: Params) {
  return findKind(p.group, p.version, p.plural);
}

const notFound = (what: string) => failure(404, "NotFound", `${what} not found`);

/** Read and parse a manifest body; the failure is a ready Status response. */
async function readManifest(req: Request): Promise<{ value: unknown } | { status: ReturnType<typeof failure> }> {
  const text = await readTextLimited(req, MAX_MANIFEST_BYTES);
  if (text === null) return { status: failure(413, "RequestEntityTooLarge", `manifest is larger than ${MAX_MANIFEST_BYTES} bytes`) };
  const parsed = parseManifestBody(req.headers.get("content-type"), text);
  return "error" in parsed ? { status: parsed.status === 415 ? failure(415, "UnsupportedMediaType", parsed.error) : failure(400, "BadRequest", parsed.error) } : parsed;
}

management.get("/apis/:group/:version/:plural", async (c) => {
  const kind = kindOf(c.req.param());
  if (!kind) return c.json(notFound(`resource type ${c.req.param("plural")}`), 404);
  const items = await control(c.env).list(kind.kind, undefined, resolveContext(c.env, c.req.url));
  return c.json({ apiVersion: `${kind.group}/${c.req.param("version")}`, kind: `${kind.kind}List`, items });
});

management.get("/apis/:group/:version/namespaces/:namespace/:plural", async (c) => {
  const p = c.req.param();
  const kind = kindOf(p);
  if (!kind || !isValidNamespace(p.namespace)) return c.json(notFound(`resource type ${p.plural}`), 404);
  const items = await control(c.env).list(kind.kind, p.namespace, resolveContext(c.env, c.req.url));
  return c.json({ apiVersion: `${kind.group}/${p.version}`, kind: `${kind.kind}List`, items });
});

management.post("/apis/:group/:version/namespaces/:namespace/:plural", async (c) => {
  const p = c.req.param();
  const kind = kindOf(p);
  if (!kind || !isValidNamespace(p.namespace)) return c.json(notFound(`resource type ${p.plural}`), 404);
  const body = await readManifest(c.req.raw);
  if ("status" in body) return c.json(body.status, body.status.code as 400);
  const r = await control(c.env).apply(kind.kind, p.namespace, body.value, "post", resolveContext(c.env, c.req.url));
  return "object" in r ? c.json(r.object, r.code) : c.json(r.status, r.code as 422);
});

management.get("/apis/:group/:version/namespaces/:namespace/:plural/:name", async (c) => {
  const p = c.req.param();
  const kind = kindOf(p);
  if (!kind || !isValidNamespace(p.namespace)) return c.json(notFound(`resource type ${p.plural}`), 404);
  const m = await control(c.env).get(kind.kind, p.namespace, p.name, resolveContext(c.env, c.req.url));
  return m ? c.json(m) : c.json(notFound(`${p.plural} "${p.name}"`), 404);
});

management.put("/apis/:group/:version/namespaces/:namespace/:plural/:name", async (c) => {
  const p = c.req.param();
  const kind = kindOf(p);
  if (!kind || !isValidNamespace(p.namespace)) return c.json(notFound(`resource type ${p.plural}`), 404);
  if (!isValidName(p.name)) return c.json(failure(400, "BadRequest", `invalid name ${p.name}`), 400);
  const body = await readManifest(c.req.raw);
  if ("status" in body) return c.json(body.status, body.status.code as 400);
  const r = await control(c.env).apply(kind.kind, p.namespace, body.value, "put", resolveContext(c.env, c.req.url), p.name);
  return "object" in r ? c.json(r.object, r.code) : c.json(r.status, r.code as 422);
});

management.delete("/apis/:group/:version/namespaces/:namespace/:plural/:name", async (c) => {
  const p = c.req.param();
  const kind = kindOf(p);
  if (!kind || !isValidNamespace(p.namespace)) return c.json(notFound(`resource type ${p.plural}`), 404);
  const m = await control(c.env).delete(kind.kind, p.namespace, p.name, resolveContext(c.env, c.req.url));
  if (!m) return c.json(notFound(`${p.plural} "${p.name}"`), 404);
  return c.json({ apiVersion: "v1", kind: "Status", status: "Success", code: 200, details: { name: p.name, kind: p.plural, uid: m.metadata.uid } });
});
