/**
 * OpenAPI v3 as the Kubernetes API server publishes it (`/openapi/v3` and one document per group
 * version), generated from the same schemas the strict field validation walks (shared/resources/
 * schemas.ts). kubectl reads it to explain fields and to learn that the server validates fields itself
 * (the `fieldValidation` parameter of each PATCH operation), so `kubectl apply` sends
 * `?fieldValidation=Strict` and shows the server's refusal of a misspelled field.
 */
import { fnv1a64 } from "../partitions.ts";
import { KINDS, type KindInfo } from "../resources/kinds.ts";
import type { Schema } from "../resources/schema.ts";
import { schemaOf } from "../resources/schemas.ts";
import { groupVersions } from "./discovery.ts";

type Json = Record<string, unknown>;

/** `eventing.knative.dev`, `v1`, `Broker` -> `dev.knative.eventing.v1.Broker`, Kubernetes' naming. */
export function definitionName(group: string, version: string, kind: string): string {
  return [...group.split(".").reverse(), version, kind].join(".");
}

/**
 * A schema in OpenAPI form. A schema that contains itself (Knative's nested `all`/`any`/`not` filters) is
 * cut at the repetition to a free-form object, as Knative's own CRD publishes filters.
 */
function toOpenApi(s: Schema, open: Set<Schema> = new Set()): Json {
  const doc: Json = s.description ? { description: s.description } : {};
  if (open.has(s)) return { ...doc, type: "object", "x-kubernetes-preserve-unknown-fields": true };
  const inner = new Set(open).add(s);
  const of = (child: Schema) => toOpenApi(child, inner);
  if ("anyOf" in s) return { ...doc, anyOf: s.anyOf.map(of) };
  if (s.type === "array") return { ...doc, type: "array", items: of(s.items) };
  if (s.type !== "object") return { ...doc, type: s.type };
  return {
    ...doc,
    type: "object",
    ...(s.properties ? { properties: Object.fromEntries(Object.entries(s.properties).map(([k, v]) => [k, of(v)])) } : {}),
    ...(s.additionalProperties ? { additionalProperties: of(s.additionalProperties) } : {}),
    ...(s.preserveUnknownFields ? { "x-kubernetes-preserve-unknown-fields": true } : {}),
  };
}

const query = (name: string, description: string) => ({ name, in: "query", description, schema: { type: "string" }, uniqueItems: true });
const WRITE_PARAMETERS = [
  query("dryRun", "All: validate and answer, store nothing"),
  query("fieldManager", "the manager of the fields this request sets (server-side apply)"),
  query("fieldValidation", "Strict (default), Warn or Ignore: what to do with unknown or duplicated fields"),
];
const PATCH_PARAMETERS = [
  ...WRITE_PARAMETERS,
  { name: "force", in: "query", description: "server-side apply: take fields owned by other managers", schema: { type: "boolean" }, uniqueItems: true },
];

function paths(k: KindInfo, version: string): Json {
  const gvk = { "x-kubernetes-group-version-kind": { group: k.group, version, kind: k.kind } };
  const ref = { $ref: `#/components/schemas/${definitionName(k.group, version, k.kind)}` };
  const body = { content: { "application/json": { schema: ref }, "application/yaml": { schema: ref } } };
  const ok = { 200: { description: "OK", content: { "application/json": { schema: ref } } } };
  const op = (action: string, extra: Json = {}) => ({ ...gvk, "x-kubernetes-action": action, operationId: `${action}${k.kind}`, responses: ok, ...extra });
  const base = `/apis/${k.group}/${version}/${k.clusterScoped ? "" : "namespaces/{namespace}/"}${k.plural}`;
  const pathParams = (withName: boolean) => [
    ...(k.clusterScoped ? [] : [{ name: "namespace", in: "path", required: true, schema: { type: "string" } }]),
    ...(withName ? [{ name: "name", in: "path", required: true, schema: { type: "string" } }] : []),
  ];
  return {
    [base]: {
      parameters: pathParams(false),
      get: op("list", { parameters: [query("labelSelector", "a Kubernetes label selector"), query("watch", "stream changes")] }),
      post: op("post", { requestBody: body, parameters: WRITE_PARAMETERS }),
    },
    [`${base}/{name}`]: {
      parameters: pathParams(true),
      get: op("get"),
      put: op("put", { requestBody: body, parameters: WRITE_PARAMETERS }),
      patch: op("patch", {
        parameters: PATCH_PARAMETERS,
        requestBody: {
          content: { "application/merge-patch+json": { schema: { type: "object" } }, "application/apply-patch+yaml": { schema: { type: "object" } } },
        },
      }),
      delete: op("delete", { parameters: [query("dryRun", "All: answer, delete nothing")] }),
    },
  };
}

/** The OpenAPI document of one group version, or null when the router serves nothing there. */
export function groupVersionDocument(group: string, version: string): Json | null {
  const kinds = KINDS.filter((k) => k.group === group && k.versions.includes(version));
  if (kinds.length === 0) return null;
  return {
    openapi: "3.0.0",
    info: { title: "edge-eventing", version: `${group}/${version}` },
    paths: Object.assign({}, ...kinds.map((k) => paths(k, version))),
    components: {
      schemas: Object.fromEntries(
        kinds.map((k) => [
          definitionName(group, version, k.kind),
          { ...toOpenApi(schemaOf(k.kind, version)), "x-kubernetes-group-version-kind": [{ group, version, kind: k.kind }] },
        ]),
      ),
    },
  };
}

/** `/openapi/v3`: where each group version's document is, with a hash that changes with its content. */
export function openApiRoot(): Json {
  const entries = groupVersions().flatMap((gv) => {
    const [group, version] = gv.split("/");
    const doc = groupVersionDocument(group, version);
    if (!doc) return []; // reviews only: nothing to apply
    const hash = fnv1a64(JSON.stringify(doc)).toString(16).toUpperCase();
    return [[`apis/${gv}`, { serverRelativeURL: `/openapi/v3/apis/${gv}?hash=${hash}` }]];
  });
  return { paths: Object.fromEntries(entries) };
}
