/** The manifest schemas and their walk: unknown fields with hints, types, pruning, and the three fieldValidation modes. */
import { describe, expect, it } from "vitest";
import { decodeManifest, fieldValidationOf, warningHeader } from "../../../shared/resources/field-validation.ts";
import { KINDS, kindByName } from "../../../shared/resources/kinds.ts";
import { checkSchema, closest } from "../../../shared/resources/schema.ts";
import { schemaOf } from "../../../shared/resources/schemas.ts";

const trigger = (spec: Record<string, unknown>, metadata: Record<string, unknown> = {}) => ({
  apiVersion: "eventing.knative.dev/v1",
  kind: "Trigger",
  metadata: { name: "t", ...metadata },
  spec,
});
const triggerSchema = schemaOf("Trigger", "v1");

describe("schema walk", () => {
  it("names each unknown field with the closest known sibling", () => {
    const found = checkSchema(
      trigger({ broker: "b", subscribr: { uri: "https://x" }, deliverry: {}, delivery: { retries: 3, backofDelay: "PT1S" }, zzz: 1 }),
      triggerSchema,
    );
    expect(found.unknown).toEqual([
      { field: "spec.subscribr", hint: "subscriber" },
      { field: "spec.deliverry", hint: "delivery" },
      { field: "spec.delivery.retries", hint: "retry" },
      { field: "spec.delivery.backofDelay", hint: "backoffDelay" },
      { field: "spec.zzz" },
    ]);
    expect(found.invalid).toEqual([]);
  });

  it("prunes unknown fields and keeps what the schema knows or preserves", () => {
    const given = trigger(
      { broker: "b", subscriber: { uri: "https://x", extra: 1 }, filters: [{ exact: { type: "a", anything: "b" } }] },
      { annotations: { "any/key": "v" }, labels: { app: "x" } },
    );
    const found = checkSchema({ ...given, status: { conditions: [{ type: "Ready" }] }, junk: true }, triggerSchema);
    expect(found.unknown.map((u) => u.field)).toEqual(["spec.subscriber.extra", "junk"]);
    expect(found.pruned).toEqual({ ...given, spec: { ...given.spec, subscriber: { uri: "https://x" } }, status: { conditions: [{ type: "Ready" }] } });
  });

  it("drops null fields and map values as omitted; a null list item is of the wrong type", () => {
    const found = checkSchema(trigger({ broker: "b", delivery: null, filters: [null] }, { annotations: { a: null, b: "x" } }), triggerSchema);
    expect(found.pruned).toEqual(trigger({ broker: "b", filters: [null] }, { annotations: { b: "x" } }));
    expect(found.invalid).toEqual([{ field: "spec.filters[0]", message: "must be of type object" }]);
  });

  it("keeps a map key named __proto__ as data", () => {
    const pruned = checkSchema(JSON.parse('{"metadata": {"annotations": {"__proto__": "x"}}}'), triggerSchema).pruned as { metadata: { annotations: object } };
    expect(Object.getOwnPropertyDescriptor(pruned.metadata.annotations, "__proto__")?.value).toBe("x");
    expect(JSON.stringify(pruned)).toBe('{"metadata":{"annotations":{"__proto__":"x"}}}');
  });

  it("walks nested filters (all, any, not) as deep as they go", () => {
    const found = checkSchema(trigger({ broker: "b", filters: [{ all: [{ not: { any: [{ exacct: { type: "x" } }] } }] }] }), triggerSchema);
    expect(found.unknown).toEqual([{ field: "spec.filters[0].all[0].not.any[0].exacct", hint: "exact" }]);
  });

  it("reports values of the wrong type, with the map's and list's own paths", () => {
    const found = checkSchema(
      trigger({ broker: 1, delivery: { retry: "3" }, filters: { exact: {} }, filter: { attributes: { type: 5 } } }, { annotations: { n: 1 } }),
      triggerSchema,
    );
    expect(found.invalid).toEqual([
      { field: "metadata.annotations.n", message: "must be of type string" },
      { field: "spec.broker", message: "must be of type string" },
      { field: "spec.delivery.retry", message: "must be of type integer" },
      { field: "spec.filters", message: "must be of type array" },
      { field: "spec.filter.attributes.type", message: "must be of type string" },
    ]);
  });

  it("takes v1alpha1 KafkaSource's comma-separated strings, and only lists from v1beta1 on", () => {
    const spec = { bootstrapServers: "broker-1:9092,broker-2:9092", topics: "demo", serviceAccountName: "sa" };
    const v1alpha1 = checkSchema({ spec }, schemaOf("KafkaSource", "v1alpha1"));
    expect([v1alpha1.invalid, v1alpha1.unknown]).toEqual([[], []]);
    expect(checkSchema({ spec: { topics: ["a", "b"] } }, schemaOf("KafkaSource", "v1alpha1")).invalid).toEqual([]);
    const v1beta1 = checkSchema({ spec }, schemaOf("KafkaSource", "v1beta1"));
    expect(v1beta1.invalid).toEqual([
      { field: "spec.bootstrapServers", message: "must be of type array" },
      { field: "spec.topics", message: "must be of type array" },
    ]);
    expect(v1beta1.unknown).toEqual([{ field: "spec.serviceAccountName" }]);
    expect(checkSchema({ spec: { topics: 3 } }, schemaOf("KafkaSource", "v1alpha1")).invalid).toEqual([
      { field: "spec.topics", message: "must be of type string or array" },
    ]);
  });

  it("has a schema for every kind the management API serves, in every version", () => {
    // The RBAC kinds hold their content at the top level (their `body`), not under spec.
    for (const k of KINDS)
      for (const v of k.versions) for (const f of k.body ?? ["spec"]) expect(schemaOf(k.kind, v).properties?.[f], `${k.kind} ${v} ${f}`).toBeDefined();
  });

  it("hints only at near names", () => {
    expect(closest("subscribr", ["broker", "subscriber", "delivery"])).toBe("subscriber");
    expect(closest("foo", ["uri", "ref"])).toBeUndefined();
    expect(closest("Delivery", ["delivery"])).toBe("delivery");
  });
});

describe("field validation modes", () => {
  const info = kindByName("Trigger")!;
  const body = (value: unknown, duplicates: string[] = []) => ({ value, duplicates });
  const typo = trigger({ broker: "b", subscriber: { uri: "https://x" }, deliverry: { retry: 1 } });

  it("Strict (the default) refuses unknown and duplicated fields with a 400 naming each, as kube-apiserver words it", () => {
    expect(fieldValidationOf(undefined)).toBe("Strict");
    const s = decodeManifest(info, "v1", body(typo, ["spec.broker"]), "Strict");
    expect(s).toMatchObject({
      kind: "Status",
      code: 400,
      reason: "BadRequest",
      message:
        'Trigger in version "v1" cannot be handled as a Trigger: strict decoding error: duplicate field "spec.broker", unknown field "spec.deliverry" (did you mean "delivery"?)',
      details: {
        name: "t",
        kind: "triggers",
        causes: [
          { field: "spec.broker", message: "duplicate field" },
          { field: "spec.deliverry", message: 'unknown field (did you mean "delivery"?)' },
        ],
      },
    });
  });

  it("Warn accepts without the unknown fields and returns Kubernetes' warnings; Ignore drops them silently", () => {
    const pruned = trigger({ broker: "b", subscriber: { uri: "https://x" } });
    expect(decodeManifest(info, "v1", body(typo, ["spec.broker"]), "Warn")).toEqual({
      value: pruned,
      warnings: ['duplicate field "spec.broker"', 'unknown field "spec.deliverry" (did you mean "delivery"?)'],
    });
    expect(decodeManifest(info, "v1", body(typo), "Ignore")).toEqual({ value: pruned, warnings: [] });
    expect(warningHeader('unknown field "spec.x"')).toBe('299 - "unknown field \\"spec.x\\""');
  });

  it("refuses wrong types with 422 Invalid in every mode, and an unknown mode with 400", () => {
    for (const mode of ["Strict", "Warn", "Ignore"] as const) {
      expect(decodeManifest(info, "v1", body(trigger({ broker: "b", delivery: { retry: "3" } })), mode)).toMatchObject({
        code: 422,
        reason: "Invalid",
        details: { causes: [{ field: "spec.delivery.retry" }] },
      });
    }
    expect(fieldValidationOf("strict")).toMatchObject({ code: 400, reason: "BadRequest" });
  });
});
