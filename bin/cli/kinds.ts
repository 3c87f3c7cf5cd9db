/**
 * Kind names on the command line, as kubectl takes them: the Kind (`Trigger`), its singular
 * (`trigger`), its plural (`triggers`), or plural.group (`triggers.eventing.knative.dev`).
 */
import { KINDS, type KindInfo } from "../../shared/resources/kinds.ts";
import { UsageError } from "./args.ts";

export interface ResolvedKind {
  info: KindInfo;
  version: string;
}

export function resolveKind(name: string): ResolvedKind {
  const lower = name.toLowerCase();
  const info = KINDS.find((k) => [k.kind.toLowerCase(), k.plural, `${k.plural}.${k.group}`, `${k.kind.toLowerCase()}.${k.group}`].includes(lower));
  if (!info) throw new UsageError(`unknown resource type ${JSON.stringify(name)}; known: ${KINDS.map((k) => k.plural).join(", ")}`);
  return { info, version: info.versions[0] };
}

/** The served kind of a manifest's apiVersion and kind, or why there is none. */
export function kindOfManifest(apiVersion: unknown, kind: unknown): ResolvedKind | { foreign: boolean; why: string } {
  if (typeof apiVersion !== "string" || typeof kind !== "string") return { foreign: false, why: "apiVersion and kind must be strings" };
  const slash = apiVersion.lastIndexOf("/");
  const [group, version] = slash < 0 ? ["", apiVersion] : [apiVersion.slice(0, slash), apiVersion.slice(slash + 1)];
  const info = KINDS.find((k) => k.group === group && k.kind === kind);
  if (info?.versions.includes(version)) return { info, version };
  if (info) return { foreign: false, why: `${kind} is served as ${info.versions.map((v) => `${group}/${v}`).join(", ")}, not ${apiVersion}` };
  // A group this router serves with an unknown kind is a mistake; any other group belongs to the cluster.
  const served = KINDS.some((k) => k.group === group);
  return { foreign: !served, why: served ? `${group} has no kind ${kind}` : `${kind} (${apiVersion}) is not served by edge-eventing` };
}

export function collectionPath(k: ResolvedKind, namespace: string | null): string {
  const base = `/apis/${k.info.group}/${k.version}`;
  // A cluster-scoped kind (ClusterRole, ClusterRoleBinding) has no namespace in its path.
  return namespace === null || k.info.clusterScoped ? `${base}/${k.info.plural}` : `${base}/namespaces/${encodeURIComponent(namespace)}/${k.info.plural}`;
}

export function objectPath(k: ResolvedKind, namespace: string, name: string): string {
  return `${collectionPath(k, namespace)}/${encodeURIComponent(name)}`;
}

/** kubectl's `plural.group/name` reference used in command output. */
export const ref = (k: ResolvedKind, name: string) => `${k.info.kind.toLowerCase()}.${k.info.group}/${name}`;
