import { describe, expect, it } from "vitest";
import { groupList, resourceList } from "../../../shared/kube-api/discovery.ts";
import { parseLabelSelector } from "../../../shared/kube-api/label-selector.ts";
import { mergePatch } from "../../../shared/kube-api/merge-patch.ts";
import { groupVersionDocument, openApiRoot } from "../../../shared/kube-api/openapi.ts";
import { humanDuration, toTable, wantsTable } from "../../../shared/kube-api/table.ts";
import type { Manifest } from "../../../shared/resources/manifest.ts";

describe("merge patch (RFC 7386)", () => {
  it("merges objects, removes nulls, replaces arrays and scalars", () => {
    expect(mergePatch({ a: 1, b: { c: 2, d: 3 }, l: [1, 2] }, { b: { c: null, e: 4 }, l: [3], f: "x" })).toEqual({ a: 1, b: { d: 3, e: 4 }, l: [3], f: "x" });
    expect(mergePatch({ a: 1 }, "x")).toBe("x");
    expect(mergePatch(null, { a: { b: 1 } })).toEqual({ a: { b: 1 } });
  });
});

describe("label selectors", () => {
  const pick = (text: string, labels: Record<string, string>) => {
    const s = parseLabelSelector(text);
    if ("error" in s) throw new Error(s.error);
    return s(labels);
  };
  it("matches equality, inequality, sets and existence, all together", () => {
    const labels = { app: "orders", tier: "gold" };
    expect(pick("", labels)).toBe(true);
    expect(pick("app=orders,tier==gold", labels)).toBe(true);
    expect(pick("app!=orders", labels)).toBe(false);
    expect(pick("tier in (gold, silver),app", labels)).toBe(true);
    expect(pick("tier notin (gold)", labels)).toBe(false);
    expect(pick("!missing,app", labels)).toBe(true);
    expect(pick("missing", labels)).toBe(false);
  });
  it("names the part it cannot parse", () => {
    expect(parseLabelSelector("app=orders,=x")).toEqual({ error: 'unable to parse requirement: "=x"' });
  });
});

describe("discovery and OpenAPI", () => {
  it("lists every group with its versions, and each kind with its verbs and short names", () => {
    const eventing = groupList().groups.find((g) => g.name === "sources.knative.dev")!;
    expect(eventing.versions.map((v) => v.version)).toEqual(["v1", "v1beta1", "v1alpha1"]);
    const keda = resourceList("keda.sh", "v1alpha1")!;
    expect(keda.resources).toEqual([
      expect.objectContaining({ name: "scaledobjects", kind: "ScaledObject", shortNames: ["so"], verbs: expect.arrayContaining(["patch", "watch"]) }),
    ]);
    expect(resourceList("keda.sh", "v2")).toBeNull();
  });

  it("publishes each kind's schema and PATCH operations that take fieldValidation, as kubectl checks", () => {
    const doc = groupVersionDocument("eventing.knative.dev", "v1") as any;
    const schema = doc.components.schemas["dev.knative.eventing.v1.Trigger"];
    expect(schema["x-kubernetes-group-version-kind"]).toEqual([{ group: "eventing.knative.dev", version: "v1", kind: "Trigger" }]);
    expect(Object.keys(schema.properties.spec.properties)).toEqual(expect.arrayContaining(["broker", "subscriber", "filters", "delivery"]));
    const patch = doc.paths["/apis/eventing.knative.dev/v1/namespaces/{namespace}/triggers/{name}"].patch;
    expect(patch["x-kubernetes-group-version-kind"]).toEqual({ group: "eventing.knative.dev", version: "v1", kind: "Trigger" });
    expect(patch.parameters.map((p: any) => p.name)).toEqual(expect.arrayContaining(["fieldValidation", "fieldManager", "dryRun", "force"]));
    expect((openApiRoot() as any).paths["apis/eventing.knative.dev/v1"].serverRelativeURL).toMatch(
      /^\/openapi\/v3\/apis\/eventing\.knative\.dev\/v1\?hash=[0-9A-F]+$/,
    );
  });
});

describe("Table output", () => {
  const broker: Manifest = {
    apiVersion: "eventing.knative.dev/v1",
    kind: "Broker",
    metadata: { name: "default", namespace: "ns", creationTimestamp: "2026-12-05T00:00:00Z" },
    spec: {},
    status: { address: { url: "https://r/ns/default" }, conditions: [{ type: "Ready", status: "False", reason: "NotConfigured" }] },
  };
  it("has Knative's columns with the age as kubectl prints it", () => {
    const t = toTable("Broker", [broker], "Metadata", "7", Date.parse("2026-12-05T00:05:30Z"));
    expect(t.columnDefinitions.map((c) => c.name)).toEqual(["Name", "URL", "Age", "Ready", "Reason"]);
    expect(t.rows[0].cells).toEqual(["default", "https://r/ns/default", "5m30s", "False", "NotConfigured"]);
    expect(t.rows[0].object).toEqual({ kind: "PartialObjectMetadata", apiVersion: "meta.k8s.io/v1", metadata: broker.metadata });
  });
  it("prints ages as Kubernetes does", () => {
    expect([45, 150, 600, 7200, 30 * 3600, 3 * 86400 + 3600, 400 * 86400, 3 * 365 * 86400 + 86400].map((s) => humanDuration(s * 1000))).toEqual([
      "45s",
      "2m30s",
      "10m",
      "120m",
      "30h",
      "3d1h",
      "400d",
      "3y1d",
    ]);
  });
  it("answers a Table only to a client that asks for one", () => {
    expect(wantsTable("application/json;as=Table;v=v1;g=meta.k8s.io,application/json")).toBe(true);
    expect(wantsTable("application/json")).toBe(false);
  });
});
