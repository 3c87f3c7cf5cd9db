/**
 * The Kubernetes-style management API (API.md §3): thin routes over the control plane object, answering
 * as the Kubernetes API server does for custom resources, so the real kubectl works against it: write
 * options (`fieldManager`, `fieldValidation`, `dryRun=All`), `PATCH` (merge patch and server-side apply),
 * `resourceVersion` preconditions, Table output, label selectors and `?watch=true`.
 */
import { type Context, Hono } from "hono";
import { serverSideApply } from "../shared/kube-api/field-managers.ts";
import { parseLabelSelector } from "../shared/kube-api/label-selector.ts";
import { mergePatch } from "../shared/kube-api/merge-patch.ts";
import { includeObjectOf, toTable, wantsTable } from "../shared/kube-api/table.ts";
import { watchStream } from "../shared/kube-api/watch.ts";
import { decodeManifest, fieldValidationOf, warningHeader } from "../shared/resources/field-validation.ts";
import { findKind, type KindInfo } from "../shared/resources/kinds.ts";
import { isValidName, isValidNamespace, type Manifest, type ParsedManifest } from "../shared/resources/manifest.ts";
import { failure, type KubeStatus } from "../shared/resources/status.ts";
import type { WriteOptions } from "../shared/contracts/control-plane.ts";
import { forgetRoutes } from "../clients/routes.ts";
import { clusterRoleRules, RBAC_GROUP } from "../shared/rbac/authorizer.ts";
import { BUILTIN_CLUSTER_ROLE_BINDINGS, BUILTIN_CLUSTER_ROLES, isBuiltin } from "../shared/rbac/builtin.ts";
import { escalationRefusal, type RbacWrite } from "../shared/rbac/escalation.ts";
import { auditEntry } from "../shared/audit/trail.ts";
import { requestAttributes } from "../shared/rbac/request.ts";
import { forbidden } from "../shared/resources/status.ts";
import { changeEntry, forgetRbac, rbacSnapshot, userOf } from "./auth.ts";
import { recordRefusal } from "./audit.ts";
import { readManifest } from "./body.ts";
import { control } from "../clients/stubs.ts";
import { resolveContext } from "./context.ts";

export const management = new Hono<{ Bindings: Env }>();

const COLLECTION = "/apis/:group/:version/namespaces/:namespace/:plural";
const ITEM = `${COLLECTION}/:name`;
/** Cluster-scoped kinds (ClusterRole, ClusterRoleBinding); the same path of a namespaced kind lists every namespace. */
const CLUSTER_COLLECTION = "/apis/:group/:version/:plural";
const CLUSTER_ITEM = `${CLUSTER_COLLECTION}/:name`;
/** How often a watch looks for changes, and how long it lasts at most (kubectl reconnects). */
const WATCH_POLL_MS = 1_000;
const WATCH_MAX_SECONDS = 1_800;

type Ctx = Context<{ Bindings: Env }>;

const status = (c: Ctx, s: KubeStatus) => c.json(s, s.code as 400);
const notFound = (what: string, details?: { name: string; group: string; kind: string }) => failure(404, "NotFound", `${what} not found`, details);
/** The 404 of one object, worded and detailed as the API server's (kubectl prints its message). */
const objectNotFound = (kind: KindInfo, name: string) => notFound(`${kind.plural}.${kind.group} "${name}"`, { name, group: kind.group, kind: kind.plural });

/**
 * The kind the path names (and a valid namespace when it has one), or the 404 to answer: a cluster-scoped
 * kind has no namespace in its path, a namespaced one's object has one.
 */
function kindOf(c: Ctx): KindInfo | KubeStatus {
  const p = c.req.param() as Record<string, string>;
  const kind = findKind(p.group, p.version, p.plural);
  const outOfScope = kind?.clusterScoped ? p.namespace !== undefined : p.namespace === undefined && (p.name !== undefined || c.req.method !== "GET");
  if (!kind || outOfScope || (p.namespace !== undefined && !isValidNamespace(p.namespace))) return notFound(`resource type ${p.plural}`);
  return kind;
}

/** The namespace of the path; cluster-scoped objects are stored under "". */
const namespaceOf = (c: Ctx) => c.req.param("namespace") ?? "";

/** The built-in objects of a cluster-scoped RBAC kind, shaped as stored ones (shared/rbac/builtin.ts). */
function builtins(kind: KindInfo): Manifest[] {
  const objects = kind.kind === "ClusterRole" ? BUILTIN_CLUSTER_ROLES : kind.kind === "ClusterRoleBinding" ? BUILTIN_CLUSTER_ROLE_BINDINGS : [];
  return objects.map((o) => ({ apiVersion: `${RBAC_GROUP}/v1`, kind: kind.kind, ...o }) as unknown as Manifest);
}

/** A ClusterRole with an aggregationRule shows the rules it aggregates, as Kubernetes' controller fills them in. */
async function withAggregatedRules(c: Ctx, items: Manifest[]): Promise<Manifest[]> {
  if (!items.some((m) => m.kind === "ClusterRole" && "aggregationRule" in m)) return items;
  const snapshot = await rbacSnapshot(c.env);
  return items.map((m) =>
    m.kind === "ClusterRole" && "aggregationRule" in m ? ({ ...m, rules: clusterRoleRules(snapshot, m.metadata.name) } as Manifest) : m,
  );
}

/** 405 for a write to a built-in ClusterRole or ClusterRoleBinding. */
function readOnly(kind: KindInfo, name: string | undefined): KubeStatus | null {
  if (name === undefined || !isBuiltin(kind.kind, name)) return null;
  return failure(
    405,
    "MethodNotAllowed",
    `${kind.plural}.${kind.group} "${name}" is built in and served read-only (extend admin, edit or view with a ClusterRole labelled rbac.authorization.k8s.io/aggregate-to-<role>: "true")`,
    { name, group: kind.group, kind: kind.plural },
  );
}

/** Kubernetes' write options from the query; the manager defaults to the client's name, as the API server's does. */
function writeOptions(c: Ctx): Omit<WriteOptions, "applied" | "expect"> | KubeStatus {
  const dryRun = c.req.queries("dryRun") ?? [];
  if (dryRun.some((v) => v !== "All"))
    return failure(400, "BadRequest", `dryRun: unsupported value ${JSON.stringify(dryRun.find((v) => v !== "All"))}: use All`);
  const manager = c.req.query("fieldManager") || (c.req.header("user-agent") ?? "").split("/")[0] || "unknown";
  if (manager.length > 128) return failure(422, "Invalid", "fieldManager: must be at most 128 characters");
  return { manager, dryRun: dryRun.length > 0 };
}

async function list(c: Ctx, namespace: string | undefined) {
  const kind = kindOf(c);
  if ("code" in kind) return status(c, kind);
  const selector = parseLabelSelector(c.req.query("labelSelector") ?? "");
  if ("error" in selector) return status(c, failure(400, "BadRequest", `labelSelector: ${selector.error}`));
  const fields = fieldSelector(c.req.query("fieldSelector"));
  if ("code" in fields) return status(c, fields);
  const ctx = resolveContext(c.env, c.req.url);
  const read = async () =>
    (await withAggregatedRules(c, [...builtins(kind), ...(await control(c.env).list(kind.kind, namespace, ctx))])).filter(
      (m) => selector(m.metadata.labels ?? {}) && fields(m),
    );
  const version = c.req.param("version")!;
  const table = wantsTable(c.req.header("accept"));
  const include = includeObjectOf(c.req.query("includeObject"));
  const shown = (items: Manifest[], rv: string) => (table ? toTable(kind.kind, items, include, rv) : null);
  if (c.req.query("watch") === "true" || c.req.query("watch") === "1") {
    const timeout = Math.min(Number(c.req.query("timeoutSeconds") ?? WATCH_MAX_SECONDS) || WATCH_MAX_SECONDS, WATCH_MAX_SECONDS);
    const body = watchStream({
      read,
      since: c.req.query("resourceVersion"),
      pollMs: WATCH_POLL_MS,
      untilMs: Date.now() + timeout * 1000,
      render: (m) => shown([m], m.metadata.resourceVersion ?? "") ?? m,
    });
    // Not compressed: a compressing proxy would hold the events back until its buffer fills.
    return new Response(body, { headers: { "content-type": "application/json", "cache-control": "no-cache", "content-encoding": "identity" } });
  }
  const items = await read();
  const rv = latestVersion(items);
  return c.json(shown(items, rv) ?? { apiVersion: `${kind.group}/${version}`, kind: `${kind.kind}List`, metadata: { resourceVersion: rv }, items });
}

/** Kubernetes serves `metadata.name` and `metadata.namespace` field selectors for custom resources. */
function fieldSelector(text: string | undefined): ((m: Manifest) => boolean) | KubeStatus {
  const tests: ((m: Manifest) => boolean)[] = [];
  for (const part of (text ?? "").split(",").filter((p) => p.trim() !== "")) {
    const m = /^\s*metadata\.(name|namespace)\s*(==|=|!=)\s*(\S*)\s*$/.exec(part);
    if (!m) return failure(400, "BadRequest", `fieldSelector: "${part}" is not supported: use metadata.name or metadata.namespace`);
    const [, field, op, value] = m;
    tests.push((o) => (o.metadata[field as "name" | "namespace"] === value) === (op !== "!="));
  }
  return (m) => tests.every((t) => t(m));
}

const latestVersion = (items: Manifest[]) => String(items.reduce((n, m) => Math.max(n, Number(m.metadata.resourceVersion ?? 0)), 0));

/** Store a decoded manifest: the one write path of POST, PUT and both PATCH kinds. */
async function write(c: Ctx, kind: KindInfo, body: ParsedManifest, mode: "put" | "post", options: WriteOptions) {
  const validation = fieldValidationOf(c.req.query("fieldValidation"));
  if (typeof validation !== "string") return status(c, validation);
  const decoded = decodeManifest(kind, c.req.param("version")!, body, validation);
  if ("code" in decoded) return status(c, decoded);
  for (const text of decoded.warnings) c.header("Warning", warningHeader(text), { append: true });
  const name = mode === "put" ? c.req.param("name") : undefined;
  const namespace = namespaceOf(c);
  if (kind.group === RBAC_GROUP) {
    const refused = readOnly(kind, (decoded.value as Manifest)?.metadata?.name) ?? (await escalation(c, kind, namespace, decoded.value as Manifest));
    if (refused) return status(c, refused);
  }
  const audit = options.dryRun ? undefined : changeEntry(c.req.raw);
  const r = await control(c.env).apply(kind.kind, namespace, decoded.value, mode, resolveContext(c.env, c.req.url), name, { ...options, audit });
  if (!options.dryRun) await forgetRoutes(); // brokers and webhook sources are routed: this isolate sees its own change at once
  if (!options.dryRun && kind.group === RBAC_GROUP) forgetRbac();
  return "object" in r ? c.json(r.object, r.code) : status(c, r.status);
}

/**
 * Kubernetes' escalation and bind rules for a write of an RBAC object (shared/rbac/escalation.ts), read
 * from the RBAC objects as they are now; a refusal is a 403 recorded in the audit trail.
 */
async function escalation(c: Ctx, kind: KindInfo, namespace: string, object: Manifest): Promise<KubeStatus | null> {
  forgetRbac();
  const user = userOf(c.req.raw);
  const previous =
    kind.kind === "Role" || kind.kind === "ClusterRole"
      ? await control(c.env).get(kind.kind, namespace, object.metadata?.name ?? "", resolveContext(c.env, c.req.url))
      : null;
  const why = escalationRefusal(await rbacSnapshot(c.env), user, { kind: kind.kind, namespace, object, previous } as unknown as RbacWrite);
  if (why === null) return null;
  const url = new URL(c.req.url);
  recordRefusal(auditEntry(user, requestAttributes(c.req.method, url.pathname, url.searchParams), url.pathname, 403));
  return forbidden(kind.group, kind.plural, object.metadata?.name, why);
}

async function create(c: Ctx, mode: "put" | "post") {
  const kind = kindOf(c);
  if ("code" in kind) return status(c, kind);
  const name = mode === "put" ? c.req.param("name") : undefined;
  if (name !== undefined && !isValidName(name)) return status(c, failure(400, "BadRequest", `invalid name ${name}`));
  const options = writeOptions(c);
  if ("code" in options) return status(c, options);
  const body = await readManifest(c.req.raw);
  if ("code" in body) return status(c, body);
  return write(c, kind, body, mode, options);
}

const MERGE_PATCH = "application/merge-patch+json";
const APPLY_PATCH = "application/apply-patch+yaml";

/**
 * `PATCH`: a merge patch of the stored object, or a server-side apply. Either is computed here from the
 * object as read, and stored only if it is still that version (409 otherwise, which kubectl retries).
 */
async function patch(c: Ctx) {
  const kind = kindOf(c);
  if ("code" in kind) return status(c, kind);
  const { name, plural } = c.req.param();
  const namespace = namespaceOf(c);
  const type = (c.req.header("content-type") ?? "").split(";")[0].trim().toLowerCase();
  if (type !== MERGE_PATCH && type !== APPLY_PATCH) {
    return status(
      c,
      failure(415, "UnsupportedMediaType", `the body of the request was in an unknown format - accepted media types include: ${MERGE_PATCH}, ${APPLY_PATCH}`),
    );
  }
  const options = writeOptions(c);
  if ("code" in options) return status(c, options);
  if (type === APPLY_PATCH && !c.req.query("fieldManager"))
    return status(c, failure(400, "BadRequest", "PATCH is not supported: fieldManager is required for apply patch"));
  const body = await readManifest(c.req.raw);
  if ("code" in body) return status(c, body);
  if (typeof body.value !== "object" || body.value === null || Array.isArray(body.value))
    return status(c, failure(400, "BadRequest", "the patch must be a JSON object"));
  const stored = await control(c.env).get(kind.kind, namespace, name, resolveContext(c.env, c.req.url));
  if (!stored && type === MERGE_PATCH) return status(c, objectNotFound(kind, name));
  const current = stored ? withoutStatus(stored) : null;
  const expect = stored?.metadata.resourceVersion ?? "";
  if (type === MERGE_PATCH) {
    const merged = mergePatch(current, body.value) as Record<string, unknown>;
    return write(c, kind, { value: merged, duplicates: body.duplicates }, "put", { ...options, expect });
  }
  const applied = body.value as Record<string, unknown>;
  const result = serverSideApply(
    current,
    applied,
    options.manager,
    String(applied.apiVersion ?? `${kind.group}/${c.req.param("version")}`),
    c.req.query("force") === "true",
    new Date().toISOString(),
  );
  if ("conflicts" in result) {
    const causes = result.conflicts.map((x) => ({ reason: "FieldManagerConflict", message: `conflict with "${x.manager}"`, field: x.field }));
    const message = `Apply failed with ${causes.length} conflict${causes.length > 1 ? "s" : ""}: ${result.conflicts.map((x) => `conflict with "${x.manager}": ${x.field}`).join("; ")}`;
    return c.json({ ...failure(409, "Conflict", message, { name, kind: plural }), details: { name, group: kind.group, kind: plural, causes } }, 409);
  }
  return write(c, kind, { value: result.object, duplicates: body.duplicates }, "put", { ...options, applied: true, expect: stored ? expect : undefined });
}

/** What a client writes back: the object without the status the router computes. */
function withoutStatus(m: Manifest): Record<string, unknown> {
  const { status: _, ...rest } = m;
  return rest;
}

management.get(CLUSTER_COLLECTION, (c) => list(c, undefined));
management.get(COLLECTION, (c) => list(c, c.req.param("namespace")));
for (const [collection, item] of [
  [COLLECTION, ITEM],
  [CLUSTER_COLLECTION, CLUSTER_ITEM],
]) {
  management.post(collection, (c) => create(c, "post"));
  management.put(item, (c) => create(c, "put"));
  management.patch(item, (c) => patch(c));
  management.get(item, (c) => getOne(c));
  management.delete(item, (c) => remove(c));
}

async function getOne(c: Ctx) {
  const kind = kindOf(c);
  if ("code" in kind) return status(c, kind);
  const name = c.req.param("name")!;
  const stored =
    builtins(kind).find((b) => b.metadata.name === name) ?? (await control(c.env).get(kind.kind, namespaceOf(c), name, resolveContext(c.env, c.req.url)));
  const m = stored && (await withAggregatedRules(c, [stored]))[0];
  if (!m) return status(c, objectNotFound(kind, name));
  return c.json(
    wantsTable(c.req.header("accept")) ? toTable(kind.kind, [m], includeObjectOf(c.req.query("includeObject")), m.metadata.resourceVersion ?? "") : m,
  );
}

async function remove(c: Ctx) {
  const kind = kindOf(c);
  if ("code" in kind) return status(c, kind);
  const { name, plural } = c.req.param() as { name: string; plural: string };
  const namespace = namespaceOf(c);
  const builtIn = readOnly(kind, name);
  if (builtIn) return status(c, builtIn);
  const options = writeOptions(c);
  if ("code" in options) return status(c, options);
  const ctx = resolveContext(c.env, c.req.url);
  const m = options.dryRun
    ? await control(c.env).get(kind.kind, namespace, name, ctx)
    : await control(c.env).delete(kind.kind, namespace, name, ctx, changeEntry(c.req.raw));
  if (!options.dryRun) await forgetRoutes();
  if (!options.dryRun && kind.group === RBAC_GROUP) forgetRbac();
  if (!m) return status(c, objectNotFound(kind, name));
  return c.json({
    apiVersion: "v1",
    kind: "Status",
    metadata: {},
    status: "Success",
    code: 200,
    details: { name, group: kind.group, kind: plural, uid: m.metadata.uid },
  });
}
