/** The audit trail's pure parts (shared/audit/trail.ts): entries, aggregation keys, the query and its cursor. */
import { describe, expect, it } from "vitest";
import { auditEntry, auditItem, bucketOf, encodeAuditCursor, parseAuditQuery, REFUSAL_BUCKET_MS, refusalKey } from "../../../shared/audit/trail.ts";

const bob = { name: "https://idp#bob", groups: ["system:authenticated"] };

describe("audit trail", () => {
  it("keeps the request's user, verb and object; refusals of one object aggregate whatever their groups", () => {
    const e = auditEntry(
      bob,
      { verb: "delete", apiGroup: "eventing.knative.dev", resource: "triggers", namespace: "ns", name: "t" },
      "/apis/eventing.knative.dev/v1/namespaces/ns/triggers/t",
      403,
    );
    expect(e).toEqual({
      user: bob.name,
      groups: bob.groups,
      verb: "delete",
      uri: "/apis/eventing.knative.dev/v1/namespaces/ns/triggers/t",
      objectRef: { apiGroup: "eventing.knative.dev", resource: "triggers", namespace: "ns", name: "t" },
      code: 403,
    });
    expect(refusalKey({ ...e, groups: [] })).toBe(refusalKey(e));
    expect(refusalKey({ ...e, objectRef: { ...e.objectRef!, name: "u" } })).not.toBe(refusalKey(e));
    const path = auditEntry(bob, { verb: "get", path: "/metrics" }, "/metrics", 403);
    expect(path.objectRef).toBeUndefined();
    expect(refusalKey(path)).toContain("/metrics");
  });

  it("buckets refusals by REFUSAL_BUCKET_MS", () => {
    expect(bucketOf(REFUSAL_BUCKET_MS * 3 + 5)).toBe(REFUSAL_BUCKET_MS * 3);
  });

  it("parses the query, naming every bad parameter", () => {
    expect(parseAuditQuery(new URLSearchParams("user=u&namespace=ns&since=2026-01-02T03:04:05Z&limit=5"))).toEqual({
      query: { user: "u", namespace: "ns", since: Date.parse("2026-01-02T03:04:05Z") },
      limit: 5,
    });
    expect(parseAuditQuery(new URLSearchParams("until=today&limit=5000&continue=@@"))).toEqual({
      causes: [
        { field: "until", message: 'must be an RFC 3339 timestamp such as 2026-01-02T15:04:05Z (got "today")' },
        { field: "limit", message: "must be an integer from 1 to 1000" },
        { field: "continue", message: "is not a token this API returned" },
      ],
    });
    const cursor = { at: 12, key: "c0000000000000007" };
    expect(parseAuditQuery(new URLSearchParams({ continue: encodeAuditCursor(cursor) }))).toMatchObject({ cursor });
  });

  it("shows a change and an aggregated refusal as audit.k8s.io events do", () => {
    const entry = { user: "u", groups: [], verb: "update", uri: "/x", objectRef: { apiGroup: "g", resource: "r", namespace: "ns", name: "n" }, code: 201 };
    expect(auditItem({ key: "c0000000000000042", at: 0, last: 0, count: 1, entry })).toMatchObject({
      metadata: { name: "change-42", namespace: "ns" },
      verb: "update",
      user: { username: "u" },
      responseStatus: { code: 201 },
    });
    const refusal = auditItem({ key: "r0[x]", at: 0, last: 60_000, count: 9, entry: { ...entry, code: 403 } });
    expect(refusal).toMatchObject({ count: 9, lastTimestamp: "1970-01-01T00:01:00.000Z", responseStatus: { code: 403 } });
  });
});
