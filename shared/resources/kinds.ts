/** The resource kinds the management API serves, by group, version and plural (API.md §3 Resources). */
import type { FieldError } from "../delivery/policy.ts";
import { validateBroker, validateTrigger } from "./eventing.ts";
import type { Manifest } from "./manifest.ts";

export interface KindInfo {
  group: string;
  versions: string[];
  kind: string;
  plural: string;
  validate(m: Manifest): FieldError[];
}

export const KINDS: KindInfo[] = [
  { group: "eventing.knative.dev", versions: ["v1"], kind: "Broker", plural: "brokers", validate: validateBroker },
  { group: "eventing.knative.dev", versions: ["v1"], kind: "Trigger", plural: "triggers", validate: (m) => validateTrigger(m as never) },
];

export function findKind(group: string, version: string, plural: string): KindInfo | undefined {
  return KINDS.find((k) => k.group === group && k.plural === plural && k.versions.includes(version));
}

export function kindByName(kind: string): KindInfo | undefined {
  return KINDS.find((k) => k.kind === kind);
}

export function apiVersions(info: KindInfo): string[] {
  return info.versions.map((v) => `${info.group}/${v}`);
}
