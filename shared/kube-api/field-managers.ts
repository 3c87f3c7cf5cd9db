/**
 * Field ownership as Kubernetes keeps it in `metadata.managedFields` (FieldsV1), for server-side apply
 * (`kubectl apply --server-side`) and for every other write. The set of a manager is the leaf fields it
 * set: under `spec`, and each key of `metadata.labels` and `metadata.annotations`. Lists are atomic, as
 * they are for custom resources without list-type markers.
 *
 * - An Apply by manager M sets the fields of its configuration. A field another manager owns with a
 *   different value is a conflict (409 naming each field), unless `force` takes it over. Fields M applied
 *   before and leaves out now are removed when no other manager owns them.
 * - Any other write (create, replace, merge patch) makes its manager own the fields it changed, and takes
 *   them from the others.
 */
import { defineOwn, isObject } from "./merge-patch.ts";

export interface ManagedFieldsEntry {
  manager: string;
  operation: "Apply" | "Update";
  apiVersion: string;
  time: string;
  fieldsType: "FieldsV1";
  fieldsV1: Record<string, unknown>;
}

type Path = string[];
type Obj = Record<string, unknown>;

/** The owned leaves of an object, as paths. */
export function leaves(object: Obj): Path[] {
  const out: Path[] = [];
  const metadata = isObject(object.metadata) ? object.metadata : {};
  for (const map of ["labels", "annotations"]) {
    if (isObject(metadata[map])) for (const key of Object.keys(metadata[map] as Obj)) out.push(["metadata", map, key]);
  }
  const walk = (value: unknown, path: Path) => {
    if (isObject(value) && Object.keys(value).length > 0) for (const [k, v] of Object.entries(value)) walk(v, [...path, k]);
    else out.push(path);
  };
  if (isObject(object.spec)) walk(object.spec, ["spec"]);
  return out;
}

const key = (p: Path) => JSON.stringify(p);
/** Own members only, and new members defined as data, so that no key (`__proto__` included) reaches a prototype. */
const get = (o: unknown, p: Path): unknown => p.reduce<unknown>((v, k) => (isObject(v) && Object.hasOwn(v, k) ? v[k] : undefined), o);
const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

function set(o: Obj, p: Path, value: unknown): void {
  let at = o;
  for (const k of p.slice(0, -1)) {
    if (!isObject(get(at, [k]))) defineOwn(at, k, {});
    at = at[k] as Obj;
  }
  defineOwn(at, p[p.length - 1], value);
}

/** Removes the field, and the objects it leaves empty below the top level (`spec` itself stays). */
function remove(o: Obj, p: Path, depth = 0): void {
  const [head, ...rest] = p;
  if (!Object.hasOwn(o, head)) return;
  if (rest.length === 0) {
    delete o[head];
    return;
  }
  const child = o[head];
  if (!isObject(child)) return;
  remove(child, rest, depth + 1);
  if (depth > 0 && Object.keys(child).length === 0) delete o[head];
}

/** FieldsV1 (`{"f:spec": {"f:broker": {}}}`) of a set of paths, and back. */
export function toFieldsV1(paths: Path[]): Record<string, unknown> {
  const root: Obj = {};
  for (const p of paths) {
    let at = root;
    for (const k of p) {
      at[`f:${k}`] ??= {};
      at = at[`f:${k}`] as Obj;
    }
  }
  return root;
}

export function fromFieldsV1(fields: unknown, prefix: Path = []): Path[] {
  if (!isObject(fields)) return [];
  const out: Path[] = [];
  for (const [k, v] of Object.entries(fields)) {
    if (!k.startsWith("f:")) continue;
    const p = [...prefix, k.slice(2)];
    const below = fromFieldsV1(v, p);
    if (below.length === 0) out.push(p);
    else out.push(...below);
  }
  return out;
}

export interface Conflict {
  field: string;
  manager: string;
}

/** `.spec.subscriber.uri`, as the API server names a conflicting field. */
export const fieldName = (p: Path) => p.map((k) => (/^[A-Za-z_][\w-]*$/.test(k) ? `.${k}` : `[${JSON.stringify(k)}]`)).join("");

interface Owned {
  entry: ManagedFieldsEntry;
  paths: Map<string, Path>;
}

function owners(entries: ManagedFieldsEntry[] | undefined): Owned[] {
  return (entries ?? []).map((entry) => ({ entry, paths: new Map(fromFieldsV1(entry.fieldsV1).map((p) => [key(p), p])) }));
}

function entries(list: Owned[]): ManagedFieldsEntry[] {
  return list.filter((o) => o.paths.size > 0).map((o) => ({ ...o.entry, fieldsV1: toFieldsV1([...o.paths.values()]) }));
}

/**
 * A server-side apply of `applied` by `manager` onto `current` (null: create). Returns the object to store
 * (its managedFields updated) or the conflicts.
 */
export function serverSideApply(
  currentObject: object | null,
  applied: Obj,
  manager: string,
  apiVersion: string,
  force: boolean,
  now: string,
): { object: Obj } | { conflicts: Conflict[] } {
  const current = currentObject as Obj | null;
  const list = owners((current?.metadata as { managedFields?: ManagedFieldsEntry[] } | undefined)?.managedFields);
  const mine = list.find((o) => o.entry.manager === manager && o.entry.operation === "Apply");
  const wanted = leaves(applied);
  const conflicts: Conflict[] = [];
  for (const p of wanted) {
    if (current === null || same(get(current, p), get(applied, p))) continue;
    for (const other of list) {
      if (other === mine || !other.paths.has(key(p))) continue;
      if (force) other.paths.delete(key(p));
      else conflicts.push({ field: fieldName(p), manager: other.entry.manager });
    }
  }
  if (conflicts.length > 0) return { conflicts };

  const meta = (isObject(applied.metadata) ? applied.metadata : {}) as Obj;
  const object: Obj = structuredClone(current ?? { metadata: { name: meta.name, namespace: meta.namespace }, spec: {} });
  object.apiVersion = applied.apiVersion;
  object.kind = applied.kind;
  const wantedKeys = new Set(wanted.map(key));
  for (const [k, p] of mine?.paths ?? []) {
    if (!wantedKeys.has(k) && !list.some((o) => o !== mine && o.paths.has(k))) remove(object, p);
  }
  for (const p of wanted) set(object, p, structuredClone(get(applied, p)));
  const others = list.filter((o) => o !== mine);
  const own: Owned = {
    entry: { manager, operation: "Apply", apiVersion, time: now, fieldsType: "FieldsV1", fieldsV1: {} },
    paths: new Map(wanted.map((p) => [key(p), p])),
  };
  (object.metadata as Obj).managedFields = entries([...others, own]);
  return { object };
}

/** Ownership after a write that is not an apply: `manager` owns what it changed from `before` to `after`. */
export function recordUpdate(beforeObject: object | null, afterObject: object, manager: string, apiVersion: string, now: string): ManagedFieldsEntry[] {
  const before = beforeObject as Obj | null;
  const after = afterObject as Obj;
  const list = owners((before?.metadata as { managedFields?: ManagedFieldsEntry[] } | undefined)?.managedFields);
  const present = new Set(leaves(after).map(key));
  const changed = leaves(after).filter((p) => before === null || !same(get(before, p), get(after, p)));
  for (const o of list) {
    for (const [k] of o.paths) if (!present.has(k)) o.paths.delete(k); // removed by this write
    for (const p of changed) if (o.entry.manager !== manager || o.entry.operation !== "Update") o.paths.delete(key(p));
  }
  let mine = list.find((o) => o.entry.manager === manager && o.entry.operation === "Update");
  if (!mine && changed.length > 0) {
    mine = { entry: { manager, operation: "Update", apiVersion, time: now, fieldsType: "FieldsV1", fieldsV1: {} }, paths: new Map() };
    list.push(mine);
  }
  if (mine && changed.length > 0) {
    mine.entry = { ...mine.entry, time: now, apiVersion };
    for (const p of changed) mine.paths.set(key(p), p);
  }
  return entries(list);
}
