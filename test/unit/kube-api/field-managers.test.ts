import { describe, expect, it } from "vitest";
import { fromFieldsV1, leaves, recordUpdate, serverSideApply, toFieldsV1 } from "../../../shared/kube-api/field-managers.ts";
import { mergePatch } from "../../../shared/kube-api/merge-patch.ts";

const NOW = "2026-12-05T00:00:00Z";
const trigger = (uri: string, extra: Record<string, unknown> = {}) => ({
  apiVersion: "eventing.knative.dev/v1",
  kind: "Trigger",
  metadata: { name: "t", namespace: "ns", labels: { app: "a" } },
  spec: { broker: "default", subscriber: { uri }, ...extra },
});

describe("field ownership (managedFields)", () => {
  it("lists the leaves a manager can own: spec fields, label and annotation keys; lists are atomic", () => {
    expect(leaves(trigger("u", { filters: [{ exact: { type: "x" } }] }))).toEqual([
      ["metadata", "labels", "app"],
      ["spec", "broker"],
      ["spec", "subscriber", "uri"],
      ["spec", "filters"],
    ]);
    const paths = leaves(trigger("u"));
    expect(fromFieldsV1(toFieldsV1(paths))).toEqual(paths);
    expect(toFieldsV1([["spec", "subscriber", "uri"]])).toEqual({ "f:spec": { "f:subscriber": { "f:uri": {} } } });
  });

  it("a create owns every field; an update owns what it changed and takes it from the others", () => {
    const created = recordUpdate(null, trigger("u1"), "kubectl-create", "eventing.knative.dev/v1", NOW);
    expect(created).toHaveLength(1);
    expect(fromFieldsV1(created[0].fieldsV1)).toHaveLength(3);
    const before = { ...trigger("u1"), metadata: { ...trigger("u1").metadata, managedFields: created } };
    const updated = recordUpdate(before, trigger("u2"), "kubectl-edit", "eventing.knative.dev/v1", NOW);
    expect(updated.map((e) => [e.manager, fromFieldsV1(e.fieldsV1)])).toEqual([
      [
        "kubectl-create",
        [
          ["metadata", "labels", "app"],
          ["spec", "broker"],
        ],
      ],
      ["kubectl-edit", [["spec", "subscriber", "uri"]]],
    ]);
  });

  it("server-side apply: a field another manager set to another value is a conflict, unless forced", () => {
    const owned = recordUpdate(null, trigger("u1"), "kubectl-client-side-apply", "eventing.knative.dev/v1", NOW);
    const current = { ...trigger("u1"), metadata: { ...trigger("u1").metadata, managedFields: owned } };
    expect(serverSideApply(current, trigger("u2"), "kubectl", "eventing.knative.dev/v1", false, NOW)).toEqual({
      conflicts: [{ field: ".spec.subscriber.uri", manager: "kubectl-client-side-apply" }],
    });
    // The same values co-own without conflict.
    expect("object" in serverSideApply(current, trigger("u1"), "kubectl", "eventing.knative.dev/v1", false, NOW)).toBe(true);
    const forced = serverSideApply(current, trigger("u2"), "kubectl", "eventing.knative.dev/v1", true, NOW);
    if (!("object" in forced)) throw new Error("forced apply conflicted");
    expect((forced.object.spec as any).subscriber.uri).toBe("u2");
    const managers = (forced.object.metadata as any).managedFields.map((e: any) => [e.manager, e.operation, fromFieldsV1(e.fieldsV1).map((p) => p.join("."))]);
    expect(managers).toEqual([
      ["kubectl-client-side-apply", "Update", ["metadata.labels.app", "spec.broker"]],
      ["kubectl", "Apply", ["metadata.labels.app", "spec.broker", "spec.subscriber.uri"]],
    ]);
  });

  it("server-side apply removes what the manager applied before and leaves out now, unless another owns it", () => {
    const first = serverSideApply(null, trigger("u", { delivery: { retry: 3 } }), "ci", "eventing.knative.dev/v1", false, NOW);
    if (!("object" in first)) throw new Error("create conflicted");
    expect(first.object.metadata).toMatchObject({ name: "t", namespace: "ns" });
    const second = serverSideApply(first.object, trigger("u"), "ci", "eventing.knative.dev/v1", false, NOW);
    if (!("object" in second)) throw new Error("re-apply conflicted");
    expect(second.object.spec).toEqual({ broker: "default", subscriber: { uri: "u" } });
  });
});

describe("prototype keys that reach a merge", () => {
  // The body parser refuses them (shared/resources/manifest.ts); these merges must stay harmless without it.
  const polluted = () => Object.keys(Object.prototype).length > 0 || ({} as Record<string, unknown>).error !== undefined;

  it("stay data in a server-side apply", () => {
    const applied = JSON.parse(
      '{"apiVersion": "eventing.knative.dev/v1", "kind": "Trigger", "metadata": {"name": "t"}, "spec": {"__proto__": {"error": 1}, "constructor": {"prototype": {"error": 2}}}}',
    );
    const r = serverSideApply(trigger("u"), applied, "x", "eventing.knative.dev/v1", false, NOW);
    expect(polluted()).toBe(false);
    const spec = (r as { object: { spec: Record<string, unknown> } }).object.spec;
    // biome-ignore lint/suspicious/noProto: reads the member named __proto__ that the manifest carried
    expect(Object.hasOwn(spec, "__proto__") && JSON.stringify(spec.__proto__)).toBe('{"error":1}');
    expect(JSON.stringify(spec.constructor)).toBe('{"prototype":{"error":2}}');
  });

  it("stay data in a merge patch", () => {
    const merged = mergePatch({ spec: { a: 1 } }, JSON.parse('{"spec": {"__proto__": {"error": 1}}, "__proto__": {"error": 3}}')) as Record<
      string,
      Record<string, unknown>
    >;
    expect(polluted()).toBe(false);
    expect(JSON.stringify(merged)).toBe('{"spec":{"a":1,"__proto__":{"error":1}},"__proto__":{"error":3}}');
  });
});
