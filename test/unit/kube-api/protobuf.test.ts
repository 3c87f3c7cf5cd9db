/**
 * Kubernetes' protobuf bodies as kubectl's typed clients send them (shared/kube-api/protobuf.ts): the
 * `k8s\0` envelope around runtime.Unknown, decoded to the JSON shape by k8s.io/api's field numbers.
 * The bytes are built here field by field; test/e2e/rbac.test.ts sends the real kubectl's.
 */
import { describe, expect, it } from "vitest";
import { decodeKubeProtobuf } from "../../../shared/kube-api/protobuf.ts";

const varint = (n: number): number[] => (n < 0x80 ? [n] : [(n & 0x7f) | 0x80, ...varint(Math.floor(n / 128))]);
const bytesOf = (field: number, payload: number[]) => [...varint((field << 3) | 2), ...varint(payload.length), ...payload];
const str = (field: number, value: string) => bytesOf(field, [...new TextEncoder().encode(value)]);
const envelope = (apiVersion: string, kind: string, raw: number[]) =>
  new Uint8Array([
    0x6b,
    0x38,
    0x73,
    0x00,
    ...bytesOf(1, [...str(1, apiVersion), ...str(2, kind)]),
    ...bytesOf(2, raw),
    ...str(4, "application/vnd.kubernetes.protobuf"),
  ]);

describe("Kubernetes protobuf bodies", () => {
  it("decodes a SelfSubjectAccessReview's resource attributes", () => {
    const attrs = [...str(1, "shop"), ...str(2, "create"), ...str(3, "eventing.knative.dev"), ...str(5, "triggers"), ...str(6, "")];
    const body = envelope("authorization.k8s.io/v1", "SelfSubjectAccessReview", [...bytesOf(1, []), ...bytesOf(2, bytesOf(1, attrs))]);
    expect(decodeKubeProtobuf(body)).toEqual({
      value: {
        apiVersion: "authorization.k8s.io/v1",
        kind: "SelfSubjectAccessReview",
        metadata: {},
        spec: { resourceAttributes: { namespace: "shop", verb: "create", group: "eventing.knative.dev", resource: "triggers", subresource: "" } },
      },
    });
  });

  it("decodes a RoleBinding with its subjects, roleRef and labels (a map), skipping fields it does not know", () => {
    const label = bytesOf(11, [...str(1, "team"), ...str(2, "shop")]);
    const meta = [...str(1, "devs-edit"), ...str(3, "shop"), ...label, ...bytesOf(8, [8, 1])];
    const subject = [...str(1, "Group"), ...str(2, "rbac.authorization.k8s.io"), ...str(3, "shop-devs")];
    const ref = [...str(1, "rbac.authorization.k8s.io"), ...str(2, "ClusterRole"), ...str(3, "edit")];
    const body = envelope("rbac.authorization.k8s.io/v1", "RoleBinding", [
      ...bytesOf(1, meta),
      ...bytesOf(2, subject),
      ...bytesOf(2, subject),
      ...bytesOf(3, ref),
    ]);
    const decoded = decodeKubeProtobuf(body);
    expect(decoded).toEqual({
      value: {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "RoleBinding",
        metadata: { name: "devs-edit", namespace: "shop", labels: { team: "shop" } },
        subjects: [
          { kind: "Group", apiGroup: "rbac.authorization.k8s.io", name: "shop-devs" },
          { kind: "Group", apiGroup: "rbac.authorization.k8s.io", name: "shop-devs" },
        ],
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "edit" },
      },
    });
  });

  it("refuses what it cannot read: no prefix, another kind, a truncated field", () => {
    expect(decodeKubeProtobuf(new Uint8Array([1, 2, 3, 4]))).toEqual({ error: "protobuf body without the k8s\\0 prefix" });
    expect(decodeKubeProtobuf(envelope("v1", "Pod", []))).toMatchObject({ error: expect.stringContaining("not v1/Pod: send JSON") });
    const cut = envelope("rbac.authorization.k8s.io/v1", "Role", bytesOf(1, str(1, "r")));
    expect(decodeKubeProtobuf(cut.subarray(0, cut.length - 40))).toMatchObject({ error: expect.stringContaining("cannot be read") });
  });
});
