/**
 * Kubernetes RBAC as the router evaluates it (shared/rbac), with the cases of k8s.io/kubernetes'
 * authorizer and escalation tests: rule matching (groups, resources, subresources, names, non-resource
 * URLs), bindings (RoleBinding to a ClusterRole scoped to its namespace, groups, service accounts),
 * aggregation of the built-in admin/edit/view, escalation and bind checks, and request attributes.
 */
import { describe, expect, it } from "vitest";
import {
  authorize,
  type BindingObject,
  forbiddenMessage,
  type RbacSnapshot,
  type RoleObject,
  rulesFor,
  type UserInfo,
} from "../../../shared/rbac/authorizer.ts";
import { AGGREGATE_LABEL, withBuiltins } from "../../../shared/rbac/builtin.ts";
import { escalationRefusal } from "../../../shared/rbac/escalation.ts";
import { requestAttributes } from "../../../shared/rbac/request.ts";
import { type Attributes, compactString, covers, ruleAllows } from "../../../shared/rbac/rules.ts";
import { validateBinding, validateRole } from "../../../shared/rbac/validate.ts";
import type { Manifest } from "../../../shared/resources/manifest.ts";

const G = "rbac.authorization.k8s.io";
const EV = "eventing.knative.dev";
const alice: UserInfo = { name: "https://idp#alice", groups: ["app-team", "system:authenticated"] };
const bob: UserInfo = { name: "https://idp#bob", groups: ["system:authenticated"] };
const admin: UserInfo = { name: "edge-eventing:admin", groups: ["system:masters", "system:authenticated"] };

const role = (namespace: string, name: string, rules: RoleObject["rules"]): RoleObject => ({ metadata: { name, namespace }, rules });
const clusterRole = (name: string, rules: RoleObject["rules"], labels?: Record<string, string>): RoleObject => ({ metadata: { name, labels }, rules });
const bindingTo = (namespace: string, name: string, kind: "Role" | "ClusterRole", roleName: string, subjects: BindingObject["subjects"]): BindingObject => ({
  metadata: { name, namespace },
  roleRef: { apiGroup: G, kind, name: roleName },
  subjects,
});
const user = (name: string) => ({ kind: "User" as const, apiGroup: G, name });
const res = (verb: string, resource: string, namespace?: string, extra: Partial<Extract<Attributes, { resource: string }>> = {}): Attributes => ({
  verb,
  apiGroup: EV,
  resource,
  namespace,
  ...extra,
});

const empty: RbacSnapshot = { roles: [], clusterRoles: [], roleBindings: [], clusterRoleBindings: [] };

describe("rule matching", () => {
  it("matches verbs, groups and resources, with * for each", () => {
    const rule = { apiGroups: [EV], resources: ["triggers"], verbs: ["get", "list"] };
    expect(ruleAllows(res("list", "triggers", "a"), rule)).toBe(true);
    expect(ruleAllows(res("create", "triggers", "a"), rule)).toBe(false);
    expect(ruleAllows(res("list", "brokers", "a"), rule)).toBe(false);
    expect(ruleAllows({ ...res("list", "triggers", "a"), apiGroup: "flows.knative.dev" }, rule)).toBe(false);
    expect(ruleAllows(res("delete", "brokers", "a"), { apiGroups: ["*"], resources: ["*"], verbs: ["*"] })).toBe(true);
  });

  it("subresources need their own name, or */sub; a resource rule does not reach its subresources", () => {
    const history = res("get", "brokers", "a", { name: "b", subresource: "events" });
    expect(ruleAllows(history, { apiGroups: [EV], resources: ["brokers"], verbs: ["get"] })).toBe(false);
    expect(ruleAllows(history, { apiGroups: [EV], resources: ["brokers/events"], verbs: ["get"] })).toBe(true);
    expect(ruleAllows(history, { apiGroups: [EV], resources: ["*/events"], verbs: ["get"] })).toBe(true);
    expect(ruleAllows(history, { apiGroups: [EV], resources: ["*/metrics"], verbs: ["get"] })).toBe(false);
  });

  it("resourceNames restrict to those names (a list has no name, so it is not allowed)", () => {
    const rule = { apiGroups: [EV], resources: ["triggers"], resourceNames: ["orders"], verbs: ["get", "list"] };
    expect(ruleAllows(res("get", "triggers", "a", { name: "orders" }), rule)).toBe(true);
    expect(ruleAllows(res("get", "triggers", "a", { name: "billing" }), rule)).toBe(false);
    expect(ruleAllows(res("list", "triggers", "a"), rule)).toBe(false);
  });

  it("non-resource URLs match exactly or by a trailing * prefix", () => {
    expect(ruleAllows({ verb: "get", path: "/metrics" }, { nonResourceURLs: ["/metrics"], verbs: ["get"] })).toBe(true);
    expect(ruleAllows({ verb: "get", path: "/apis/x/v1" }, { nonResourceURLs: ["/apis/*"], verbs: ["get"] })).toBe(true);
    expect(ruleAllows({ verb: "get", path: "/metricsx" }, { nonResourceURLs: ["/metrics"], verbs: ["get"] })).toBe(false);
    expect(ruleAllows({ verb: "get", path: "/metrics" }, { apiGroups: ["*"], resources: ["*"], verbs: ["*"] })).toBe(false);
  });
});

describe("bindings", () => {
  const snapshot: RbacSnapshot = withBuiltins({
    ...empty,
    roles: [role("team-a", "trigger-editor", [{ apiGroups: [EV], resources: ["triggers"], verbs: ["*"] }])],
    roleBindings: [
      bindingTo("team-a", "alice-triggers", "Role", "trigger-editor", [user(alice.name)]),
      bindingTo("team-b", "app-team-view", "ClusterRole", "view", [{ kind: "Group", apiGroup: G, name: "app-team" }]),
      bindingTo("team-c", "sa", "ClusterRole", "edit", [{ kind: "ServiceAccount", name: "deployer" }]),
    ],
  });

  it("a Role's rules hold in its binding's namespace only", () => {
    expect(authorize(snapshot, alice, res("create", "triggers", "team-a"))).toBe(true);
    expect(authorize(snapshot, alice, res("create", "triggers", "team-b"))).toBe(false);
    expect(authorize(snapshot, alice, res("create", "brokers", "team-a"))).toBe(false);
    expect(authorize(snapshot, bob, res("create", "triggers", "team-a"))).toBe(false);
  });

  it("a RoleBinding to a ClusterRole grants it in that namespace only; groups bind", () => {
    expect(authorize(snapshot, alice, res("list", "brokers", "team-b"))).toBe(true);
    expect(authorize(snapshot, alice, res("list", "brokers", "team-c"))).toBe(false);
    expect(authorize(snapshot, alice, res("list", "brokers"))).toBe(false); // every namespace: cluster scope
    expect(authorize(snapshot, alice, res("delete", "brokers", "team-b", { name: "x" }))).toBe(false);
  });

  it("a ServiceAccount subject without a namespace is the binding's namespace's", () => {
    expect(authorize(snapshot, { name: "system:serviceaccount:team-c:deployer", groups: [] }, res("create", "brokers", "team-c"))).toBe(true);
    expect(authorize(snapshot, { name: "system:serviceaccount:team-b:deployer", groups: [] }, res("create", "brokers", "team-c"))).toBe(false);
  });

  it("system:masters holds everything through the built-in cluster-admin binding", () => {
    expect(authorize(snapshot, admin, res("delete", "brokers", "any", { name: "x" }))).toBe(true);
    expect(authorize(snapshot, admin, { verb: "get", path: "/metrics" })).toBe(true);
  });

  it("every authenticated user may discover and review itself; /metrics needs a binding", () => {
    expect(authorize(snapshot, bob, { verb: "get", path: "/apis/eventing.knative.dev/v1" })).toBe(true);
    expect(authorize(snapshot, bob, { verb: "create", apiGroup: "authorization.k8s.io", resource: "selfsubjectaccessreviews" })).toBe(true);
    expect(authorize(snapshot, bob, { verb: "get", path: "/metrics" })).toBe(false);
  });

  it("words a refusal as the API server", () => {
    expect(forbiddenMessage(bob, res("list", "triggers", "ns"))).toBe(
      'User "https://idp#bob" cannot list resource "triggers" in API group "eventing.knative.dev" in the namespace "ns"',
    );
    expect(forbiddenMessage(bob, res("get", "brokers", "ns", { name: "b", subresource: "events" }))).toBe(
      'User "https://idp#bob" cannot get resource "brokers/events" in API group "eventing.knative.dev" in the namespace "ns"',
    );
    expect(forbiddenMessage(bob, { verb: "list", apiGroup: G, resource: "clusterroles" })).toBe(
      'User "https://idp#bob" cannot list resource "clusterroles" in API group "rbac.authorization.k8s.io" at the cluster scope',
    );
    expect(forbiddenMessage(bob, { verb: "get", path: "/metrics" })).toBe('User "https://idp#bob" cannot get path "/metrics"');
  });
});

describe("built-in roles and aggregation", () => {
  const snapshot = withBuiltins(empty);
  const holds = (roleName: string, a: Attributes) =>
    authorize(
      {
        ...snapshot,
        clusterRoleBindings: [
          ...snapshot.clusterRoleBindings,
          { metadata: { name: "t" }, roleRef: { apiGroup: G, kind: "ClusterRole", name: roleName }, subjects: [user("u")] },
        ],
      },
      { name: "u", groups: [] },
      a,
    );

  it("view reads every router kind and the broker's history, and writes nothing", () => {
    for (const r of ["brokers", "triggers", "eventpolicies", "replays"])
      expect(holds("view", { ...res("list", r, "ns"), apiGroup: r === "replays" ? "edge-eventing.dev" : EV })).toBe(true);
    expect(holds("view", { verb: "watch", apiGroup: "sources.knative.dev", resource: "pingsources", namespace: "ns" })).toBe(true);
    expect(holds("view", res("get", "brokers", "ns", { name: "b", subresource: "events" }))).toBe(true);
    expect(holds("view", res("create", "triggers", "ns"))).toBe(false);
    expect(holds("view", { verb: "list", apiGroup: G, resource: "roles", namespace: "ns" })).toBe(false);
  });

  it("edit ⊇ view and writes the router's kinds but not RBAC; admin ⊇ edit and writes Roles and RoleBindings", () => {
    expect(holds("edit", res("list", "triggers", "ns"))).toBe(true);
    expect(holds("edit", res("delete", "triggers", "ns", { name: "t" }))).toBe(true);
    expect(holds("edit", res("create", "brokers", "ns", { name: "b", subresource: "deadletters" }))).toBe(true);
    expect(holds("edit", { verb: "create", apiGroup: G, resource: "rolebindings", namespace: "ns" })).toBe(false);
    expect(holds("admin", { verb: "create", apiGroup: G, resource: "rolebindings", namespace: "ns" })).toBe(true);
    expect(holds("admin", res("patch", "triggers", "ns", { name: "t" }))).toBe(true);
    expect(holds("admin", { verb: "list", apiGroup: "edge-eventing.dev", resource: "auditevents", namespace: "ns" })).toBe(true);
  });

  it("a ClusterRole labelled aggregate-to-view extends view, edit and admin", () => {
    const extra = clusterRole("read-jobs", [{ apiGroups: ["batch"], resources: ["jobs"], verbs: ["get"] }], { [AGGREGATE_LABEL("view")]: "true" });
    const s = withBuiltins({ ...empty, clusterRoles: [extra] });
    for (const name of ["view", "edit", "admin"]) {
      expect(
        rulesFor(
          { ...s, clusterRoleBindings: [{ metadata: { name: "b" }, roleRef: { apiGroup: G, kind: "ClusterRole", name }, subjects: [user("u")] }] },
          { name: "u", groups: [] },
          "",
        ).some((r) => r.resources?.includes("jobs")),
      ).toBe(true);
    }
  });
});

describe("escalation and bind", () => {
  const base: RbacSnapshot = withBuiltins({
    ...empty,
    roleBindings: [bindingTo("team-a", "alice-admin", "ClusterRole", "admin", [user(alice.name)])],
  });

  it("a namespace admin may bind edit or view there, not cluster-admin, and not elsewhere", () => {
    const bind = (roleName: string, ns = "team-a") =>
      escalationRefusal(base, alice, { kind: "RoleBinding", namespace: ns, object: bindingTo(ns, "x", "ClusterRole", roleName, [user(bob.name)]) });
    expect(bind("edit")).toBeNull();
    expect(bind("view")).toBeNull();
    expect(bind("cluster-admin")).toMatch(
      /^user "https:\/\/idp#alice" \(groups=\["app-team" "system:authenticated"\]\) is attempting to grant RBAC permissions not currently held:\n\{APIGroups:\["\*"\], Resources:\["\*"\], Verbs:\["\*"\]\}/,
    );
    expect(bind("edit", "team-b")).not.toBeNull();
  });

  it("no self-escalation: a Role with more than one holds is refused, the `escalate` verb lifts that", () => {
    const wide = role("team-a", "wide", [{ apiGroups: [G], resources: ["clusterroles"], verbs: ["*"] }]);
    expect(escalationRefusal(base, alice, { kind: "Role", namespace: "team-a", object: wide })).toContain('Resources:["clusterroles"]');
    expect(
      escalationRefusal(base, alice, {
        kind: "Role",
        namespace: "team-a",
        object: role("team-a", "narrow", [{ apiGroups: [EV], resources: ["triggers"], verbs: ["get"] }]),
      }),
    ).toBeNull();
    const escalator: RbacSnapshot = {
      ...base,
      roles: [role("team-a", "esc", [{ apiGroups: [G], resources: ["roles"], verbs: ["escalate"] }])],
      roleBindings: [...base.roleBindings, bindingTo("team-a", "e", "Role", "esc", [user(alice.name)])],
    };
    expect(escalationRefusal(escalator, alice, { kind: "Role", namespace: "team-a", object: wide })).toBeNull();
  });

  it("an update that keeps a role's rules is not checked; one that changes them is", () => {
    const wide = role("team-a", "wide", [{ apiGroups: ["*"], resources: ["*"], verbs: ["*"] }]);
    const relabelled = { ...wide, metadata: { ...wide.metadata, labels: { team: "a" } } };
    expect(escalationRefusal(base, alice, { kind: "Role", namespace: "team-a", object: relabelled, previous: wide })).toBeNull();
    expect(escalationRefusal(base, alice, { kind: "Role", namespace: "team-a", object: wide, previous: role("team-a", "wide", []) })).not.toBeNull();
  });

  it("the `bind` verb on a role lets one bind it without holding it", () => {
    const binder: RbacSnapshot = {
      ...base,
      clusterRoleBindings: [
        ...base.clusterRoleBindings,
        { metadata: { name: "b" }, roleRef: { apiGroup: G, kind: "ClusterRole", name: "binder" }, subjects: [user(bob.name)] },
      ],
      clusterRoles: [...base.clusterRoles, clusterRole("binder", [{ apiGroups: [G], resources: ["clusterroles"], verbs: ["bind"], resourceNames: ["edit"] }])],
    };
    expect(
      escalationRefusal(binder, bob, { kind: "RoleBinding", namespace: "x", object: bindingTo("x", "b", "ClusterRole", "edit", [user(bob.name)]) }),
    ).toBeNull();
    expect(
      escalationRefusal(binder, bob, { kind: "RoleBinding", namespace: "x", object: bindingTo("x", "b", "ClusterRole", "admin", [user(bob.name)]) }),
    ).not.toBeNull();
  });

  it("an aggregationRule needs cluster-admin; system:masters may grant anything", () => {
    const agg: RoleObject = { metadata: { name: "agg" }, aggregationRule: { clusterRoleSelectors: [{ matchLabels: { a: "b" } }] } };
    expect(escalationRefusal(base, alice, { kind: "ClusterRole", namespace: "", object: agg })).toBe(
      "must have cluster-admin privileges to use the aggregationRule",
    );
    expect(escalationRefusal(base, admin, { kind: "ClusterRole", namespace: "", object: agg })).toBeNull();
  });

  it("covers splits rules per verb, group, resource and name", () => {
    const owner = [
      { apiGroups: [EV], resources: ["triggers"], verbs: ["get"], resourceNames: ["a"] },
      { apiGroups: [EV], resources: ["*/events"], verbs: ["get"] },
    ];
    expect(covers(owner, [{ apiGroups: [EV], resources: ["triggers"], verbs: ["get"], resourceNames: ["a"] }]).covered).toBe(true);
    expect(covers(owner, [{ apiGroups: [EV], resources: ["triggers"], verbs: ["get"] }]).covered).toBe(false);
    expect(covers(owner, [{ apiGroups: [EV], resources: ["brokers/events"], verbs: ["get"] }]).covered).toBe(true);
    const r = covers(owner, [{ apiGroups: [EV], resources: ["triggers", "brokers"], verbs: ["get", "list"], resourceNames: ["a"] }]);
    expect(r.missing.map(compactString)).toEqual([
      '{APIGroups:["eventing.knative.dev"], Resources:["triggers"], ResourceNames:["a"], Verbs:["list"]}',
      '{APIGroups:["eventing.knative.dev"], Resources:["brokers"], ResourceNames:["a"], Verbs:["get"]}',
      '{APIGroups:["eventing.knative.dev"], Resources:["brokers"], ResourceNames:["a"], Verbs:["list"]}',
    ]);
  });
});

describe("request attributes", () => {
  const q = (s = "") => new URLSearchParams(s);
  it("reads verbs, namespaces, names and subresources from the path, as RequestInfo does", () => {
    expect(requestAttributes("GET", "/apis/eventing.knative.dev/v1/namespaces/ns/triggers", q())).toEqual({
      verb: "list",
      apiGroup: EV,
      resource: "triggers",
      namespace: "ns",
    });
    expect(requestAttributes("GET", "/apis/eventing.knative.dev/v1/namespaces/ns/triggers", q("watch=true"))).toMatchObject({ verb: "watch" });
    expect(requestAttributes("GET", "/apis/eventing.knative.dev/v1/triggers", q())).toEqual({ verb: "list", apiGroup: EV, resource: "triggers" });
    expect(requestAttributes("DELETE", "/apis/eventing.knative.dev/v1/namespaces/ns/triggers", q())).toMatchObject({ verb: "deletecollection" });
    expect(requestAttributes("PATCH", "/apis/rbac.authorization.k8s.io/v1/clusterroles/x", q())).toEqual({
      verb: "patch",
      apiGroup: G,
      resource: "clusterroles",
      name: "x",
    });
    expect(requestAttributes("GET", "/api/v1/namespaces/ns", q())).toEqual({ verb: "get", apiGroup: "", resource: "namespaces", namespace: "ns", name: "ns" });
    expect(requestAttributes("GET", "/apis/eventing.knative.dev/v1", q())).toEqual({ verb: "get", path: "/apis/eventing.knative.dev/v1" });
    expect(requestAttributes("GET", "/metrics", q())).toEqual({ verb: "get", path: "/metrics" });
  });

  it("maps the router's own paths: history and dead letters are broker subresources, the display a resource", () => {
    expect(requestAttributes("GET", "/apis/edge-eventing.dev/v1alpha1/namespaces/ns/brokers/b/events", q())).toEqual({
      verb: "get",
      apiGroup: EV,
      resource: "brokers",
      subresource: "events",
      namespace: "ns",
      name: "b",
    });
    expect(requestAttributes("POST", "/apis/eventing.knative.dev/v1/namespaces/ns/brokers/b/deadletters/7/redeliver", q())).toEqual({
      verb: "create",
      apiGroup: EV,
      resource: "brokers",
      subresource: "deadletters",
      namespace: "ns",
      name: "b",
    });
    expect(requestAttributes("GET", "/display/ns/d", q())).toEqual({
      verb: "get",
      apiGroup: "edge-eventing.dev",
      resource: "eventdisplays",
      namespace: "ns",
      name: "d",
    });
  });
});

describe("validation", () => {
  const m = (o: object) => o as unknown as Manifest;
  it("refuses rules Kubernetes refuses, naming the field", () => {
    expect(validateRole(m({ metadata: { name: "r" }, rules: [{ verbs: [], apiGroups: [EV], resources: ["x"] }] }), true)).toEqual([
      { field: "rules[0].verbs", message: "verbs must contain at least one value" },
    ]);
    expect(validateRole(m({ metadata: { name: "r" }, rules: [{ verbs: ["get"], nonResourceURLs: ["/metrics"] }] }), true)).toEqual([
      { field: "rules[0].nonResourceURLs", message: "namespaced rules cannot apply to non-resource URLs" },
    ]);
    expect(validateRole(m({ metadata: { name: "r" }, rules: [{ verbs: ["get"], resources: ["x"] }] }), false)).toEqual([
      { field: "rules[0].apiGroups", message: "resource rules must supply at least one api group" },
    ]);
  });
  it("refuses a ClusterRoleBinding to a Role and subjects without their group", () => {
    const causes = validateBinding(
      m({
        metadata: { name: "b" },
        roleRef: { apiGroup: G, kind: "Role", name: "r" },
        subjects: [
          { kind: "User", name: "u" },
          { kind: "ServiceAccount", name: "sa" },
        ],
      }),
      false,
    );
    expect(causes.map((c) => c.field)).toEqual(["roleRef.kind", "subjects[0].apiGroup", "subjects[1].namespace"]);
  });
});
