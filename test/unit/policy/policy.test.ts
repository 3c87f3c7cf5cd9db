import { describe, expect, it } from "vitest";
import { admit, subMatches } from "../../../shared/policy/admit.ts";
import { appliesTo, audienceOf, type EventPolicySpec, listedIssuers, policyRule, selectorMatches, validateEventPolicy } from "../../../shared/policy/spec.ts";
import { policyStatus } from "../../../shared/policy/status.ts";
import type { Manifest } from "../../../shared/resources/manifest.ts";
import type { CloudEvent } from "../../../shared/cloudevents/event.ts";

const SOURCES = [
  { kind: "KafkaSource", group: "sources.knative.dev" },
  { kind: "PingSource", group: "sources.knative.dev" },
];
const policy = (spec: EventPolicySpec, name = "p", namespace = "ns"): Manifest<EventPolicySpec> => ({
  apiVersion: "eventing.knative.dev/v1alpha1",
  kind: "EventPolicy",
  metadata: { name, namespace },
  spec,
});
const brokerMeta = (name: string, labels: Record<string, string> = {}, namespace = "ns", kind = "Broker") => ({ kind, metadata: { name, namespace, labels } });
const event = (type: string, source = "/s"): CloudEvent => ({ attributes: { specversion: "1.0", id: "1", source, type } });

describe("validation", () => {
  it("accepts Knative's example policy", () => {
    const spec: EventPolicySpec = {
      to: [
        { ref: { apiVersion: "eventing.knative.dev/v1", kind: "Broker", name: "b" } },
        { selector: { apiVersion: "eventing.knative.dev/v1", kind: "Broker", matchLabels: { a: "b" }, matchExpressions: [{ key: "k", operator: "Exists" }] } },
      ],
      from: [
        { ref: { apiVersion: "sources.knative.dev/v1", kind: "PingSource", name: "ping", namespace: "other" } },
        { sub: "system:serviceaccount:default:trusted-app" },
        { sub: "system:serviceaccount:default:other-*" },
      ],
      filters: [{ cesql: "type IN ('order.created', 'order.updated')" }, { exact: { type: "com.github.push" } }],
    };
    expect(validateEventPolicy(policy(spec), SOURCES)).toEqual([]);
  });

  it("names every bad field", () => {
    const causes = validateEventPolicy(
      policy({
        to: [
          { ref: { kind: "Channel", name: "c" } },
          { ref: { kind: "Broker", name: "b", namespace: "elsewhere" } },
          {} as never,
          { selector: { matchExpressions: [{ key: "k", operator: "In" }] } },
        ],
        from: [
          { sub: "a*b" },
          { ref: { apiVersion: "sources.knative.dev/v1", kind: "ApiServerSource", name: "x" } },
          { ref: { apiVersion: "example.com/v1", kind: "KafkaSource", name: "k" } },
          { sub: "" },
          { sub: "s", issuer: "http://issuer.example" },
          { ref: { kind: "PingSource", name: "p" }, issuer: "https://issuer.example" },
        ],
        filters: [{ cesql: "type =" }],
      }),
      SOURCES,
    ).map((c) => c.field);
    expect(causes).toEqual([
      "spec.to[0].ref.kind",
      "spec.to[1].ref.namespace",
      "spec.to[2]",
      "spec.to[3].selector.matchExpressions[0].values",
      "spec.from[0].sub",
      "spec.from[1].ref.kind",
      "spec.from[2].ref.kind",
      "spec.from[3].sub",
      "spec.from[4].issuer",
      "spec.from[5].issuer",
      "spec.filters[0].cesql",
    ]);
    expect(validateEventPolicy(policy({}), SOURCES)).toEqual([{ field: "spec.from", message: expect.stringContaining("at least one sender") }]);
  });
});

describe("which brokers a policy applies to", () => {
  it("by ref, by selector, every broker of the namespace without to, never another namespace", () => {
    expect(appliesTo(policy({ to: [{ ref: { kind: "Broker", name: "b" } }] }), brokerMeta("b"))).toBe(true);
    expect(appliesTo(policy({ to: [{ ref: { kind: "Broker", name: "b" } }] }), brokerMeta("c"))).toBe(false);
    expect(appliesTo(policy({ to: [{ selector: { matchLabels: { team: "ci" } } }] }), brokerMeta("c", { team: "ci" }))).toBe(true);
    expect(appliesTo(policy({ to: [{ selector: { matchLabels: { team: "ci" } } }] }), brokerMeta("c", { team: "ops" }))).toBe(false);
    expect(appliesTo(policy({}), brokerMeta("any"))).toBe(true);
    expect(appliesTo(policy({}), brokerMeta("any", {}, "other"))).toBe(false);
  });

  it("applies to EventTransforms, Sequences and Parallels as to brokers: by kind and name, by selector, or all", () => {
    const seq = (name: string, labels: Record<string, string> = {}) => brokerMeta(name, labels, "ns", "Sequence");
    expect(appliesTo(policy({ to: [{ ref: { apiVersion: "flows.knative.dev/v1", kind: "Sequence", name: "s" } }] }), seq("s"))).toBe(true);
    expect(appliesTo(policy({ to: [{ ref: { kind: "Broker", name: "s" } }] }), seq("s"))).toBe(false);
    expect(appliesTo(policy({ to: [{ selector: { kind: "Broker", matchLabels: { team: "ci" } } }] }), seq("s", { team: "ci" }))).toBe(false);
    expect(appliesTo(policy({ to: [{ selector: { matchLabels: { team: "ci" } } }] }), seq("s", { team: "ci" }))).toBe(true);
    expect(appliesTo(policy({}), brokerMeta("t", {}, "ns", "EventTransform"))).toBe(true);
    const to = [
      { ref: { apiVersion: "eventing.knative.dev/v1alpha1", kind: "EventTransform", name: "t" } },
      { ref: { apiVersion: "flows.knative.dev/v1", kind: "Parallel", name: "p" } },
      { ref: { apiVersion: "eventing.knative.dev/v1", kind: "Sequence", name: "s" } },
    ];
    expect(validateEventPolicy(policy({ to, from: [{ sub: "x" }] }), SOURCES)).toEqual([
      { field: "spec.to[2].ref.kind", message: expect.stringContaining("Broker, EventTransform, Sequence, Parallel") },
    ]);
  });

  it("applies to RequestReplies and JobSinks, named with their own groups, and to no kind that takes no events", () => {
    const rr = brokerMeta("ask", {}, "ns", "RequestReply");
    const js = brokerMeta("jobs", {}, "ns", "JobSink");
    expect(appliesTo(policy({ to: [{ ref: { apiVersion: "eventing.knative.dev/v1alpha1", kind: "RequestReply", name: "ask" } }] }), rr)).toBe(true);
    expect(appliesTo(policy({ to: [{ ref: { kind: "Broker", name: "ask" } }] }), rr)).toBe(false);
    expect(appliesTo(policy({ to: [{ selector: { kind: "JobSink", matchLabels: {} } }] }), js)).toBe(true);
    expect(appliesTo(policy({}), js)).toBe(true);
    expect(appliesTo(policy({}), brokerMeta("so", {}, "ns", "ScaledObject"))).toBe(false);
    const to = [
      { ref: { apiVersion: "eventing.knative.dev/v1alpha1", kind: "RequestReply", name: "ask" } },
      { ref: { apiVersion: "sinks.knative.dev/v1alpha1", kind: "JobSink", name: "jobs" } },
      { ref: { apiVersion: "eventing.knative.dev/v1alpha1", kind: "JobSink", name: "jobs" } },
    ];
    expect(validateEventPolicy(policy({ to, from: [{ sub: "x" }] }), SOURCES).map((c) => c.field)).toEqual(["spec.to[2].ref.kind"]);
  });

  it("evaluates label selector expressions as Kubernetes does", () => {
    const labels = { env: "prod", tier: "web" };
    expect(selectorMatches({ matchExpressions: [{ key: "env", operator: "In", values: ["prod", "stage"] }] }, labels)).toBe(true);
    expect(selectorMatches({ matchExpressions: [{ key: "env", operator: "NotIn", values: ["prod"] }] }, labels)).toBe(false);
    expect(selectorMatches({ matchExpressions: [{ key: "missing", operator: "NotIn", values: ["x"] }] }, labels)).toBe(true);
    expect(
      selectorMatches(
        {
          matchExpressions: [
            { key: "tier", operator: "Exists" },
            { key: "gpu", operator: "DoesNotExist" },
          ],
        },
        labels,
      ),
    ).toBe(true);
    expect(selectorMatches({ matchLabels: { env: "prod" }, matchExpressions: [{ key: "tier", operator: "DoesNotExist" }] }, labels)).toBe(false);
  });

  it("gives Knative's audience and reads OIDC_ISSUERS", () => {
    expect(audienceOf("Broker", "team-a", "default")).toBe("eventing.knative.dev/broker/team-a/default");
    expect(audienceOf("Sequence", "team-a", "flow")).toBe("flows.knative.dev/sequence/team-a/flow");
    expect(audienceOf("EventTransform", "team-a", "t")).toBe("eventing.knative.dev/eventtransform/team-a/t");
    expect(audienceOf("RequestReply", "team-a", "ask")).toBe("eventing.knative.dev/requestreply/team-a/ask");
    expect(audienceOf("JobSink", "team-a", "jobs")).toBe("sinks.knative.dev/jobsink/team-a/jobs");
    expect(listedIssuers(" https://a.example , ,https://token.actions.githubusercontent.com")).toEqual([
      "https://a.example",
      "https://token.actions.githubusercontent.com",
    ]);
    expect(listedIssuers(undefined)).toEqual([]);
  });
});

describe("admission", () => {
  const ISS = "https://issuer.example";
  /** A verified token of the only trusted issuer. */
  const tok = (sub: string) => ({ sub, iss: ISS, onlyIssuer: true });
  const ci = policyRule(
    policy({ from: [{ sub: "repo:org/app:ref:refs/heads/main" }, { sub: "repo:org/infra:*" }], filters: [{ prefix: { type: "com.example." } }] }, "ci"),
  );
  const kafka = policyRule(policy({ from: [{ ref: { kind: "KafkaSource", name: "orders" } }] }, "kafka"));

  it("matches a sub exactly, or by the prefix before a final *", () => {
    expect(subMatches("repo:org/infra:*", "repo:org/infra:ref:refs/heads/x")).toBe(true);
    expect(subMatches("repo:org/infra:*", "repo:org/infrastructure:ref")).toBe(false);
    expect(subMatches("*", "anyone")).toBe(true);
    expect(subMatches("exact", "exact-not")).toBe(false);
  });

  it("allows a named sender whose events pass the filters; refuses other senders and events", () => {
    expect(admit([ci], tok("repo:org/app:ref:refs/heads/main"), [event("com.example.push")])).toEqual({ allowed: true });
    expect(admit([ci], tok("repo:org/app:ref:refs/heads/dev"), [event("com.example.push")])).toMatchObject({ allowed: false, reason: "sender_not_allowed" });
    expect(admit([ci], tok("repo:org/infra:x"), [event("org.other")])).toMatchObject({ allowed: false, reason: "event_not_allowed" });
  });

  it("refuses a batch whole when one event is refused, naming it", () => {
    const r = admit([ci], tok("repo:org/infra:x"), [event("com.example.a"), event("org.other"), event("com.example.b")]);
    expect(r).toMatchObject({ allowed: false, reason: "event_not_allowed", index: 1 });
  });

  it("lets each event pass by any policy that allows the sender (policies add up)", () => {
    const other = policyRule(policy({ from: [{ sub: "repo:org/infra:*" }], filters: [{ exact: { type: "org.other" } }] }, "other"));
    expect(admit([ci, other], tok("repo:org/infra:x"), [event("com.example.a"), event("org.other")])).toEqual({ allowed: true });
  });

  it("ties a sub to the issuer that signs it: with several trusted issuers, a sub names a sender only with its issuer", () => {
    const github = "https://token.actions.githubusercontent.com";
    const tied = policyRule(policy({ from: [{ sub: "repo:org/app:*", issuer: github }] }, "tied"));
    const bare = policyRule(policy({ from: [{ sub: "repo:org/app:*" }] }, "bare"));
    const ok = [event("t")];
    expect(admit([tied], { sub: "repo:org/app:main", iss: github, onlyIssuer: false }, ok)).toEqual({ allowed: true });
    // The same sub from another trusted issuer (one that lets anyone choose their sub) names no one.
    expect(admit([tied], { sub: "repo:org/app:main", iss: "https://dex.example", onlyIssuer: false }, ok)).toMatchObject({ reason: "sender_not_allowed" });
    expect(admit([bare], { sub: "repo:org/app:main", iss: github, onlyIssuer: false }, ok)).toMatchObject({ reason: "sender_not_allowed" });
    // One trusted issuer: Knative's policies, without issuer, work as written.
    expect(admit([bare], { sub: "repo:org/app:main", iss: github, onlyIssuer: true }, ok)).toEqual({ allowed: true });
  });

  it("identifies a source by kind, namespace and name (the policy's namespace by default)", () => {
    expect(admit([kafka], { source: { kind: "KafkaSource", namespace: "ns", name: "orders" } }, [event("t")])).toEqual({ allowed: true });
    expect(admit([kafka], { source: { kind: "KafkaSource", namespace: "other", name: "orders" } }, [event("t")])).toMatchObject({
      reason: "sender_not_allowed",
    });
    expect(admit([kafka], { source: { kind: "PingSource", namespace: "ns", name: "orders" } }, [event("t")])).toMatchObject({ reason: "sender_not_allowed" });
    // A token's sub never passes as a source, whatever it says.
    expect(admit([kafka], tok("KafkaSource ns/orders"), [event("t")])).toMatchObject({ reason: "sender_not_allowed" });
  });
});

describe("status", () => {
  it("is Ready when every source ref exists and an issuer is configured for subs", () => {
    const spec: EventPolicySpec = { from: [{ sub: "a" }, { ref: { kind: "KafkaSource", name: "k" } }] };
    const one = ["https://a.example"];
    expect(policyStatus(spec, () => true, one).conditions[0]).toMatchObject({ type: "Ready", status: "True" });
    expect(policyStatus(spec, () => false, one).conditions[0]).toMatchObject({
      type: "Ready",
      status: "False",
      reason: "SourceNotFound",
      message: expect.stringContaining("KafkaSource k"),
    });
    expect(policyStatus(spec, () => true, []).conditions[0]).toMatchObject({ status: "False", reason: "NoOIDCIssuers" });
    expect(policyStatus({ from: [{ ref: { kind: "KafkaSource", name: "k" } }] }, () => true, []).conditions[0]).toMatchObject({ status: "True" });
  });

  it("says when a sub names no one: several issuers and no issuer given, or an issuer OIDC_ISSUERS does not list", () => {
    const two = ["https://a.example", "https://b.example"];
    expect(policyStatus({ from: [{ sub: "x" }] }, () => true, two).conditions[0]).toMatchObject({
      status: "False",
      reason: "IssuerRequired",
      message: expect.stringContaining('"x"'),
    });
    expect(policyStatus({ from: [{ sub: "x", issuer: "https://b.example" }] }, () => true, two).conditions[0]).toMatchObject({ status: "True" });
    expect(policyStatus({ from: [{ sub: "x", issuer: "https://c.example" }] }, () => true, two).conditions[0]).toMatchObject({
      status: "False",
      reason: "UnknownIssuer",
    });
  });
});
