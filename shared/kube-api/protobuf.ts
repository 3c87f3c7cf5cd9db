/**
 * Kubernetes' protobuf encoding of the built-in kinds the router takes (the self reviews and RBAC's), as
 * kubectl's typed clients send them (`Content-Type: application/vnd.kubernetes.protobuf`): the magic
 * `k8s\0`, then a runtime.Unknown {1: TypeMeta {1: apiVersion, 2: kind}, 2: raw}, raw being the object in
 * the field numbers of k8s.io/api's generated.proto. Decoded to the JSON shape, then handled as JSON is;
 * answers stay JSON, which every client accepts. Fields the router has no use for are skipped.
 */

export const PROTOBUF = "application/vnd.kubernetes.protobuf";

type Field = { name: string; type: "string" | "int" | "bool" | Message | "map"; repeated?: boolean };
type Message = { [field: number]: Field };

const s = (name: string, repeated = false): Field => ({ name, type: "string", repeated });
const m = (name: string, type: Message, repeated = false): Field => ({ name, type, repeated });

const OBJECT_META: Message = {
  1: s("name"),
  2: s("generateName"),
  3: s("namespace"),
  5: s("uid"),
  6: s("resourceVersion"),
  7: { name: "generation", type: "int" },
  11: { name: "labels", type: "map" },
  12: { name: "annotations", type: "map" },
};
const POLICY_RULE: Message = {
  1: s("verbs", true),
  2: s("apiGroups", true),
  3: s("resources", true),
  4: s("resourceNames", true),
  5: s("nonResourceURLs", true),
};
const LABEL_SELECTOR: Message = {
  1: { name: "matchLabels", type: "map" },
  2: m("matchExpressions", { 1: s("key"), 2: s("operator"), 3: s("values", true) }, true),
};
const SUBJECT: Message = { 1: s("kind"), 2: s("apiGroup"), 3: s("name"), 4: s("namespace") };
const ROLE_REF: Message = { 1: s("apiGroup"), 2: s("kind"), 3: s("name") };
const BINDING: Message = { 1: m("metadata", OBJECT_META), 2: m("subjects", SUBJECT, true), 3: m("roleRef", ROLE_REF) };

/** The kinds by `apiVersion/kind`. */
const KINDS: Record<string, Message> = {
  "authorization.k8s.io/v1/SelfSubjectAccessReview": {
    1: m("metadata", OBJECT_META),
    2: m("spec", {
      1: m("resourceAttributes", { 1: s("namespace"), 2: s("verb"), 3: s("group"), 4: s("version"), 5: s("resource"), 6: s("subresource"), 7: s("name") }),
      2: m("nonResourceAttributes", { 1: s("path"), 2: s("verb") }),
    }),
  },
  "authorization.k8s.io/v1/SelfSubjectRulesReview": { 1: m("metadata", OBJECT_META), 2: m("spec", { 1: s("namespace") }) },
  "authentication.k8s.io/v1/SelfSubjectReview": { 1: m("metadata", OBJECT_META) },
  "rbac.authorization.k8s.io/v1/Role": { 1: m("metadata", OBJECT_META), 2: m("rules", POLICY_RULE, true) },
  "rbac.authorization.k8s.io/v1/ClusterRole": {
    1: m("metadata", OBJECT_META),
    2: m("rules", POLICY_RULE, true),
    3: m("aggregationRule", { 1: m("clusterRoleSelectors", LABEL_SELECTOR, true) }),
  },
  "rbac.authorization.k8s.io/v1/RoleBinding": BINDING,
  "rbac.authorization.k8s.io/v1/ClusterRoleBinding": BINDING,
};

class Reader {
  pos = 0;
  readonly bytes: Uint8Array;
  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
  }
  get done() {
    return this.pos >= this.bytes.length;
  }
  varint(): number {
    let value = 0;
    let scale = 1;
    for (;;) {
      if (this.pos >= this.bytes.length) throw new Error("truncated varint");
      const b = this.bytes[this.pos++];
      value += (b & 0x7f) * scale;
      if (b < 0x80) return value;
      scale *= 128;
      if (scale > 2 ** 63) throw new Error("varint too long");
    }
  }
  chunk(): Uint8Array {
    const n = this.varint();
    if (this.pos + n > this.bytes.length) throw new Error("truncated field");
    const out = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 2) this.chunk();
    else if (wire === 1) this.pos += 8;
    else if (wire === 5) this.pos += 4;
    else throw new Error(`unsupported wire type ${wire}`);
  }
}

const text = (b: Uint8Array) => new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(b);

function decodeMessage(bytes: Uint8Array, schema: Message): Record<string, unknown> {
  const r = new Reader(bytes);
  const out: Record<string, unknown> = {};
  while (!r.done) {
    const tag = r.varint();
    const field = schema[Math.floor(tag / 8)];
    const wire = tag % 8;
    if (!field) {
      r.skip(wire);
      continue;
    }
    let value: unknown;
    if (field.type === "int" || field.type === "bool") {
      const n = r.varint();
      value = field.type === "bool" ? n !== 0 : n;
    } else if (field.type === "string") value = text(r.chunk());
    else if (field.type === "map") {
      const entry = decodeMessage(r.chunk(), { 1: s("key"), 2: s("value") });
      out[field.name] = { ...(out[field.name] as Record<string, string>), [String(entry.key ?? "")]: String(entry.value ?? "") };
      continue;
    } else value = decodeMessage(r.chunk(), field.type);
    if (field.repeated) out[field.name] = [...((out[field.name] as unknown[]) ?? []), value];
    else out[field.name] = value;
  }
  return out;
}

/** The object a protobuf body holds, in its JSON shape, or why it cannot be read. */
export function decodeKubeProtobuf(bytes: Uint8Array): { value: Record<string, unknown> } | { error: string } {
  if (bytes.length < 4 || bytes[0] !== 0x6b || bytes[1] !== 0x38 || bytes[2] !== 0x73 || bytes[3] !== 0)
    return { error: "protobuf body without the k8s\\0 prefix" };
  try {
    const unknown = decodeMessage(bytes.subarray(4), { 1: m("typeMeta", { 1: s("apiVersion"), 2: s("kind") }) });
    const { apiVersion = "", kind = "" } = (unknown.typeMeta ?? {}) as { apiVersion?: string; kind?: string };
    const schema = KINDS[`${apiVersion}/${kind}`];
    if (!schema) return { error: `protobuf is taken for ${Object.keys(KINDS).join(", ")}, not ${apiVersion}/${kind}: send JSON` };
    const raw = new Reader(bytes.subarray(4));
    let object: Uint8Array | null = null;
    while (!raw.done) {
      const tag = raw.varint();
      if (tag === (2 << 3) + 2) object = raw.chunk();
      else raw.skip(tag % 8);
    }
    return { value: { apiVersion, kind, ...decodeMessage(object ?? new Uint8Array(), schema) } };
  } catch (e) {
    return { error: `the protobuf body cannot be read: ${(e as Error).message}` };
  }
}
