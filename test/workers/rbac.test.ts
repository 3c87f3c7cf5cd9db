/**
 * Who may manage what (API.md §11) in workerd, with OIDC tokens of the local issuer (test/support/oidc-
 * issuer.ts) over real HTTP: a viewer lists but cannot write; an editor of triggers in one namespace
 * cannot touch another namespace or other kinds; no self-escalation through a RoleBinding; history,
 * metrics and watches obey the same rules; self reviews answer as kubectl expects; the admin token keeps
 * full access; the audit trail shows who did each, and a storm of refusals stays bounded.
 */
import { exports } from "cloudflare:workers";
import { env } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { AuditLog } from "../../durable-objects/control-plane/audit-log.ts";
import { OVERFLOW_USER, REFUSAL_KEYS_PER_BUCKET } from "../../shared/audit/trail.ts";
import { issuerClient } from "../support/oidc-issuer.ts";
import { encodeBase64Url } from "../../shared/base64.ts";
import { BEARER_PROTOCOL_PREFIX } from "../../shared/resources/broker-api.ts";
import { broker, eventually, trigger } from "../support/client.ts";

const issuer = issuerClient(inject("oidcUrl"));
const ISS = issuer.issuerUrl("trusted");
const fetchRouter = (path: string, init?: RequestInit) => exports.default.fetch(`http://router.test${path}`, init);
const G = "rbac.authorization.k8s.io";
const EV = "/apis/eventing.knative.dev/v1";
const RBAC = `/apis/${G}/v1`;
const A = "rbac-a";
const B = "rbac-b";

async function token(sub: string, claims: Record<string, unknown> = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return issuer.token({ issuer: "trusted", claims: { iss: ISS, sub, aud: "edge-eventing", iat: now, exp: now + 600, ...claims } });
}
const as = (bearer: string) => ({ authorization: `Bearer ${bearer}` });
async function call(bearer: string, method: string, path: string, body?: unknown): Promise<Response> {
  return fetchRouter(path, {
    method,
    headers: { ...as(bearer), "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}
const userOf = (sub: string) => `${ISS}#${sub}`;
const subject = (sub: string) => ({ kind: "User", apiGroup: G, name: userOf(sub) });
const binding = (name: string, roleKind: "Role" | "ClusterRole", role: string, subjects: unknown[]) => ({
  apiVersion: `${G}/v1`,
  kind: "RoleBinding",
  metadata: { name },
  roleRef: { apiGroup: G, kind: roleKind, name: role },
  subjects,
});

let viewer: string;
let editor: string;
let teamAdmin: string;
let monitor: string;
let stranger: string;
const ADMIN = "test-token";

beforeAll(async () => {
  // One after the other: the issuer makes its keys on its first token.
  viewer = await token("viewer", { groups: ["viewers"] });
  editor = await token("trigger-editor");
  teamAdmin = await token("team-admin");
  monitor = await token("monitor");
  stranger = await token("stranger");
  for (const ns of [A, B]) {
    expect((await call(ADMIN, "PUT", `${EV}/namespaces/${ns}/brokers/default`, broker("default"))).status).toBe(201);
    expect(
      (
        await call(
          ADMIN,
          "PUT",
          `${EV}/namespaces/${ns}/triggers/existing`,
          trigger("existing", { broker: "default", subscriber: { uri: "https://example.com/" } }),
        )
      ).status,
    ).toBe(201);
  }
  const role = {
    apiVersion: `${G}/v1`,
    kind: "Role",
    metadata: { name: "trigger-editor" },
    rules: [{ apiGroups: ["eventing.knative.dev"], resources: ["triggers"], verbs: ["*"] }],
  };
  expect((await call(ADMIN, "PUT", `${RBAC}/namespaces/${A}/roles/trigger-editor`, role)).status).toBe(201);
  for (const [name, kind, roleName, subjects] of [
    ["viewers", "ClusterRole", "view", [{ kind: "Group", apiGroup: G, name: "viewers" }]],
    ["trigger-editor", "Role", "trigger-editor", [subject("trigger-editor")]],
    ["team-admin", "ClusterRole", "admin", [subject("team-admin")]],
  ] as const) {
    expect((await call(ADMIN, "PUT", `${RBAC}/namespaces/${A}/rolebindings/${name}`, binding(name, kind, roleName, [...subjects]))).status).toBe(201);
  }
  const metrics = {
    apiVersion: `${G}/v1`,
    kind: "ClusterRoleBinding",
    metadata: { name: "monitor" },
    roleRef: { apiGroup: G, kind: "ClusterRole", name: "system:monitoring" },
    subjects: [subject("monitor")],
  };
  expect((await call(ADMIN, "PUT", `${RBAC}/clusterrolebindings/monitor`, metrics)).status).toBe(201);
});

describe("authentication", () => {
  it("takes the admin token and OIDC tokens for the API's audience; refuses a broker's token, another issuer's, none", async () => {
    const first = await call(viewer, "GET", `${EV}/namespaces/${A}/triggers`);
    expect(first.status, await first.clone().text()).toBe(200);
    const brokerToken = await token("viewer", { groups: ["viewers"], aud: "eventing.knative.dev/broker/rbac-a/default" });
    const refused = await call(brokerToken, "GET", `${EV}/namespaces/${A}/triggers`);
    expect(refused.status).toBe(401);
    expect(((await refused.json()) as { message: string }).message).toContain("meant for a broker");
    const both = await token("viewer", { groups: ["viewers"], aud: ["edge-eventing", "eventing.knative.dev/broker/rbac-a/default"] });
    expect((await call(both, "GET", `${EV}/namespaces/${A}/triggers`)).status).toBe(401);
    const now = Math.floor(Date.now() / 1000);
    const untrusted = await issuer.token({
      issuer: "untrusted",
      claims: { iss: issuer.issuerUrl("untrusted"), sub: "viewer", aud: "edge-eventing", exp: now + 600 },
    });
    expect((await call(untrusted, "GET", `${EV}/namespaces/${A}/triggers`)).status).toBe(401);
    expect((await fetchRouter(`${EV}/namespaces/${A}/triggers`)).status).toBe(401);
  });

  it("a management token is refused at a broker's ingress that takes senders' tokens (the reverse)", async () => {
    const policy = {
      apiVersion: "eventing.knative.dev/v1alpha1",
      kind: "EventPolicy",
      metadata: { name: "only-ci" },
      spec: { to: [{ ref: { apiVersion: "eventing.knative.dev/v1", kind: "Broker", name: "default" } }], from: [{ sub: "*" }] },
    };
    expect((await call(ADMIN, "PUT", `/apis/eventing.knative.dev/v1alpha1/namespaces/${B}/eventpolicies/only-ci`, policy)).status).toBe(201);
    const event = {
      method: "POST",
      headers: { ...as(viewer), "ce-specversion": "1.0", "ce-id": "1", "ce-source": "/t", "ce-type": "t", "content-type": "application/json" },
      body: "{}",
    };
    await eventually(async () => (await fetchRouter(`/${B}/default`, event)).status === 401, 10_000, "the policy to apply");
    expect((await call(ADMIN, "DELETE", `/apis/eventing.knative.dev/v1alpha1/namespaces/${B}/eventpolicies/only-ci`)).status).toBe(200);
  });

  it("kubectl auth whoami: SelfSubjectReview names the user {iss}#{sub} and their groups", async () => {
    const r = await call(viewer, "POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", {
      apiVersion: "authentication.k8s.io/v1",
      kind: "SelfSubjectReview",
    });
    expect(r.status).toBe(201);
    expect(((await r.json()) as any).status.userInfo).toEqual({ username: userOf("viewer"), groups: ["viewers", "system:authenticated"] });
  });
});

describe("authorization", () => {
  it("a viewer lists and gets, but cannot write, nor read another namespace or every namespace", async () => {
    expect((await call(viewer, "GET", `${EV}/namespaces/${A}/triggers/existing`)).status).toBe(200);
    const write = await call(
      viewer,
      "PUT",
      `${EV}/namespaces/${A}/triggers/new`,
      trigger("new", { broker: "default", subscriber: { uri: "https://example.com/" } }),
    );
    expect(write.status).toBe(403);
    expect(await write.json()).toMatchObject({
      kind: "Status",
      reason: "Forbidden",
      code: 403,
      message: `triggers.eventing.knative.dev "new" is forbidden: User "${userOf("viewer")}" cannot update resource "triggers" in API group "eventing.knative.dev" in the namespace "${A}"`,
      details: { name: "new", group: "eventing.knative.dev", kind: "triggers" },
    });
    const other = await call(viewer, "GET", `${EV}/namespaces/${B}/triggers`);
    expect(other.status).toBe(403);
    expect(((await other.json()) as any).message).toBe(
      `triggers.eventing.knative.dev is forbidden: User "${userOf("viewer")}" cannot list resource "triggers" in API group "eventing.knative.dev" in the namespace "${B}"`,
    );
    expect((await call(viewer, "GET", `${EV}/triggers`)).status).toBe(403);
    expect((await call(viewer, "GET", `${RBAC}/namespaces/${A}/roles`)).status).toBe(403);
  });

  it("an editor of triggers in one namespace cannot touch another namespace or other kinds", async () => {
    const t = trigger("edited", { broker: "default", subscriber: { uri: "https://example.com/" } });
    expect((await call(editor, "PUT", `${EV}/namespaces/${A}/triggers/edited`, t)).status).toBe(201);
    expect((await call(editor, "DELETE", `${EV}/namespaces/${A}/triggers/edited`)).status).toBe(200);
    expect((await call(editor, "PUT", `${EV}/namespaces/${B}/triggers/edited`, t)).status).toBe(403);
    expect((await call(editor, "DELETE", `${EV}/namespaces/${A}/brokers/default`)).status).toBe(403);
    expect((await call(editor, "GET", `${EV}/namespaces/${A}/brokers`)).status).toBe(403);
  });

  it("no self-escalation: a namespace admin cannot bind cluster-admin or write a wider Role, but may hand out edit there", async () => {
    const self = await call(
      teamAdmin,
      "PUT",
      `${RBAC}/namespaces/${A}/rolebindings/mine`,
      binding("mine", "ClusterRole", "cluster-admin", [subject("team-admin")]),
    );
    expect(self.status).toBe(403);
    const body = (await self.json()) as any;
    expect(body.reason).toBe("Forbidden");
    expect(body.message).toBe(
      `rolebindings.rbac.authorization.k8s.io "mine" is forbidden: user "${userOf("team-admin")}" (groups=["system:authenticated"]) is attempting to grant RBAC permissions not currently held:\n{APIGroups:["*"], Resources:["*"], Verbs:["*"]}\n{NonResourceURLs:["*"], Verbs:["*"]}`,
    );
    const wide = { apiVersion: `${G}/v1`, kind: "Role", metadata: { name: "wide" }, rules: [{ apiGroups: ["*"], resources: ["*"], verbs: ["*"] }] };
    expect((await call(teamAdmin, "PUT", `${RBAC}/namespaces/${A}/roles/wide`, wide)).status).toBe(403);
    expect(
      (await call(teamAdmin, "PUT", `${RBAC}/namespaces/${B}/rolebindings/edit`, binding("edit", "ClusterRole", "edit", [subject("stranger")]))).status,
    ).toBe(403);
    expect(
      (
        await call(
          teamAdmin,
          "PUT",
          `${RBAC}/namespaces/${A}/rolebindings/stranger-edit`,
          binding("stranger-edit", "ClusterRole", "edit", [subject("stranger")]),
        )
      ).status,
    ).toBe(201);
    expect((await call(stranger, "GET", `${EV}/namespaces/${A}/brokers`)).status).toBe(200);
    expect((await call(teamAdmin, "DELETE", `${RBAC}/namespaces/${A}/rolebindings/stranger-edit`)).status).toBe(200);
    expect((await call(stranger, "GET", `${EV}/namespaces/${A}/brokers`)).status).toBe(403);
    // The editor holds no RBAC rights at all: the authorizer refuses before escalation is weighed.
    expect((await call(editor, "PUT", `${RBAC}/namespaces/${A}/rolebindings/x`, binding("x", "Role", "trigger-editor", [subject("stranger")]))).status).toBe(
      403,
    );
  });

  it("built-in ClusterRoles are served read-only, with their aggregated rules", async () => {
    const view = (await (await call(ADMIN, "GET", `${RBAC}/clusterroles/view`)).json()) as any;
    expect(view.aggregationRule.clusterRoleSelectors).toEqual([{ matchLabels: { "rbac.authorization.k8s.io/aggregate-to-view": "true" } }]);
    expect(view.rules.some((r: any) => r.resources.includes("brokers/events"))).toBe(true);
    const names = ((await (await call(ADMIN, "GET", `${RBAC}/clusterroles`)).json()) as any).items.map((i: any) => i.metadata.name);
    expect(names).toEqual(expect.arrayContaining(["cluster-admin", "admin", "edit", "view"]));
    expect((await call(ADMIN, "DELETE", `${RBAC}/clusterroles/view`)).status).toBe(405);
  });

  it("history, metrics and dead letters obey the same rules", async () => {
    const history = (ns: string) => `/apis/edge-eventing.dev/v1alpha1/namespaces/${ns}/brokers/default/events`;
    expect((await call(viewer, "GET", history(A))).status).toBe(200);
    const other = await call(viewer, "GET", history(B));
    expect(other.status).toBe(403);
    expect(((await other.json()) as any).message).toContain(`cannot get resource "brokers/events" in API group "eventing.knative.dev" in the namespace "${B}"`);
    expect((await call(editor, "GET", history(A))).status).toBe(403);
    expect((await call(viewer, "GET", `${EV}/namespaces/${A}/brokers/default/deadletters`)).status).toBe(200);
    expect((await call(viewer, "POST", `${EV}/namespaces/${A}/brokers/default/deadletters/1/redeliver`)).status).toBe(403);
    const metrics = await call(viewer, "GET", "/metrics");
    expect(metrics.status).toBe(403);
    expect(((await metrics.json()) as any).message).toBe(`forbidden: User "${userOf("viewer")}" cannot get path "/metrics"`);
    expect((await call(monitor, "GET", "/metrics")).status).toBe(200);
  });

  it("the live feed takes an OIDC token from the WebSocket subprotocol, and RBAC's answer", async () => {
    const protocol = `${BEARER_PROTOCOL_PREFIX}${encodeBase64Url(viewer)}`;
    const open = (ns: string) =>
      fetchRouter(`${EV}/namespaces/${ns}/brokers/default/live`, { headers: { upgrade: "websocket", "sec-websocket-protocol": protocol } });
    const ok = await open(A);
    expect(ok.status).toBe(101);
    expect(ok.headers.get("sec-websocket-protocol")).toBe(protocol);
    ok.webSocket?.accept();
    ok.webSocket?.close(1000, "done");
    const refused = await open(B);
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as any).message).toContain(`cannot get resource "brokers/live" in API group "eventing.knative.dev" in the namespace "${B}"`);
  });

  it("a watch needs list rights where it looks: every namespace is the cluster scope", async () => {
    expect((await call(viewer, "GET", `${EV}/triggers?watch=true&timeoutSeconds=1`)).status).toBe(403);
    const ok = await call(viewer, "GET", `${EV}/namespaces/${A}/triggers?watch=true&timeoutSeconds=1`);
    expect(ok.status).toBe(200);
    const lines = (await ok.text())
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines.every((l) => l.object.metadata.namespace === A)).toBe(true);
  });

  it("the admin token keeps full access", async () => {
    expect((await call(ADMIN, "GET", `${EV}/triggers`)).status).toBe(200);
    expect((await call(ADMIN, "GET", "/metrics")).status).toBe(200);
    expect(
      (
        await call(ADMIN, "PUT", `${RBAC}/clusterroles/anything`, {
          apiVersion: `${G}/v1`,
          kind: "ClusterRole",
          metadata: { name: "anything" },
          aggregationRule: { clusterRoleSelectors: [{ matchLabels: { x: "y" } }] },
        })
      ).status,
    ).toBe(201);
  });
});

describe("self reviews (kubectl auth can-i)", () => {
  const ssar = (bearer: string, resourceAttributes: Record<string, string>) =>
    call(bearer, "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", {
      apiVersion: "authorization.k8s.io/v1",
      kind: "SelfSubjectAccessReview",
      spec: { resourceAttributes },
    });
  it("answers allowed as the authorizer decides", async () => {
    const yes = await ssar(editor, { namespace: A, verb: "create", group: "eventing.knative.dev", resource: "triggers" });
    expect(yes.status).toBe(201);
    expect(((await yes.json()) as any).status.allowed).toBe(true);
    for (const attrs of [
      { namespace: B, verb: "create", group: "eventing.knative.dev", resource: "triggers" },
      { namespace: A, verb: "create", group: "eventing.knative.dev", resource: "brokers" },
    ]) {
      expect(((await (await ssar(editor, attrs)).json()) as any).status.allowed).toBe(false);
    }
    expect(((await (await ssar(ADMIN, { verb: "*", group: "*", resource: "*" })).json()) as any).status.allowed).toBe(true);
  });

  it("lists the rules a user holds in a namespace", async () => {
    const r = await call(editor, "POST", "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews", {
      apiVersion: "authorization.k8s.io/v1",
      kind: "SelfSubjectRulesReview",
      spec: { namespace: A },
    });
    const status = ((await r.json()) as any).status;
    expect(status.resourceRules).toContainEqual({ verbs: ["*"], apiGroups: ["eventing.knative.dev"], resources: ["triggers"] });
    expect(status.incomplete).toBe(false);
  });
});

type Item = {
  user: { username: string };
  verb: string;
  objectRef?: { resource: string; namespace?: string; name?: string };
  responseStatus: { code: number };
  count?: number;
};

describe("audit trail", () => {
  const trail = async (bearer: string, query: string, ns?: string) => {
    const r = await call(bearer, "GET", `/apis/edge-eventing.dev/v1alpha1/${ns ? `namespaces/${ns}/` : ""}auditevents?${query}`);
    return { status: r.status, items: r.status === 200 ? ((await r.json()) as { items: Item[] }).items : [] };
  };

  it("records who changed what, and who was refused", async () => {
    const editorRows = (await trail(ADMIN, `user=${encodeURIComponent(userOf("trigger-editor"))}&limit=1000`)).items;
    expect(editorRows).toContainEqual(
      expect.objectContaining({
        verb: "update",
        objectRef: expect.objectContaining({ resource: "triggers", namespace: A, name: "edited" }),
        responseStatus: { code: 201 },
      }),
    );
    expect(editorRows).toContainEqual(
      expect.objectContaining({ verb: "delete", objectRef: expect.objectContaining({ resource: "triggers", name: "edited" }), responseStatus: { code: 200 } }),
    );
    const refusals = await eventually(
      async () => {
        const rows = (await trail(ADMIN, `user=${encodeURIComponent(userOf("viewer"))}`)).items.filter((i) => i.responseStatus.code === 403);
        return rows.length > 0 && rows;
      },
      10_000,
      "the viewer's refusals to be written",
    );
    expect(refusals).toContainEqual(
      expect.objectContaining({ verb: "update", objectRef: expect.objectContaining({ resource: "triggers", namespace: A, name: "new" }), count: 1 }),
    );
    const admins = (await trail(ADMIN, "user=edge-eventing%3Aadmin&resource=clusterroles")).items;
    expect(admins[0]).toMatchObject({ verb: "update", objectRef: { name: "anything" }, responseStatus: { code: 201 } });
    const escalation = await eventually(
      async () =>
        (await trail(ADMIN, `user=${encodeURIComponent(userOf("team-admin"))}&resource=rolebindings`)).items.find(
          (i) => i.responseStatus.code === 403 && i.objectRef?.name === "mine",
        ),
      10_000,
      "the escalation refusal",
    );
    expect(escalation).toMatchObject({ verb: "update", objectRef: { namespace: A, resource: "rolebindings" } });
  });

  it("a namespace admin reads its namespace's trail, not the cluster's; a viewer reads none", async () => {
    const own = await trail(teamAdmin, "", A);
    expect(own.status).toBe(200);
    expect(own.items.length).toBeGreaterThan(0);
    expect(own.items.every((i) => i.objectRef?.namespace === A)).toBe(true);
    expect((await trail(teamAdmin, "")).status).toBe(403);
    expect((await trail(viewer, "", A)).status).toBe(403);
  });

  it("filters by time, and pages with continue", async () => {
    expect((await trail(ADMIN, `since=${new Date(Date.now() + 60_000).toISOString()}`)).items).toEqual([]);
    expect((await trail(ADMIN, "since=yesterday")).status).toBe(422);
    const first = await call(ADMIN, "GET", "/apis/edge-eventing.dev/v1alpha1/auditevents?limit=2");
    const page = (await first.json()) as { metadata: { continue: string }; items: (Item & { metadata: { name: string } })[] };
    const next = (await (
      await call(ADMIN, "GET", `/apis/edge-eventing.dev/v1alpha1/auditevents?limit=2&continue=${page.metadata.continue}`)
    ).json()) as typeof page;
    expect(next.items.length).toBe(2);
    expect(next.items.map((i) => i.metadata.name)).not.toContain(page.items[1].metadata.name);
  });

  it("a storm of refusals is bounded: at most REFUSAL_KEYS_PER_BUCKET rows a bucket, the rest counted in the overflow row", async () => {
    const stormer = await token("stormer");
    const since = new Date().toISOString();
    const SENT = 250;
    for (let i = 0; i < SENT; i++) expect((await call(stormer, "DELETE", `${EV}/namespaces/${B}/triggers/t-${i}`)).status).toBe(403);
    const counted = async () => {
      const items = (await trail(ADMIN, `since=${since}&limit=1000`)).items;
      const own = items.filter((i) => i.user.username === userOf("stormer"));
      const overflow = items.filter((i) => i.user.username === OVERFLOW_USER);
      return { rows: own.length, overflowRows: overflow.length, total: [...own, ...overflow].reduce((n, i) => n + (i.count ?? 0), 0) };
    };
    const seen = await eventually(
      async () => {
        const c = await counted();
        return c.total >= SENT && c;
      },
      15_000,
      "every refusal to be counted",
    );
    expect(seen.rows).toBeLessThanOrEqual(REFUSAL_KEYS_PER_BUCKET);
    expect(seen.overflowRows).toBeGreaterThanOrEqual(1);
    expect(seen.overflowRows).toBeLessThanOrEqual(2); // a bucket boundary may fall inside the storm
    console.log(`audit: ${SENT} refused requests -> ${seen.rows} rows of their own + ${seen.overflowRows} overflow row(s), ${seen.total} counted`);
  });

  it("rows written: one per change, one per new refusal key, one per repeat", async () => {
    const rows = await runInDurableObject(env.CONTROL.getByName("control"), (_, state) => {
      const sql = state.storage.sql;
      let written = 0;
      const metered = {
        exec: (query: string, ...args: unknown[]) => {
          const c = sql.exec(query, ...args);
          written += c.rowsWritten;
          return c;
        },
      } as Pick<SqlStorage, "exec">;
      const log = new AuditLog(metered);
      const measure = (f: () => void) => {
        written = 0;
        f();
        return written;
      };
      const entry = { user: "u", groups: [], verb: "create", uri: "/x", code: 201 };
      const tally = { key: "k-measure", bucket: Date.now(), first: Date.now(), last: Date.now(), count: 1, entry };
      return {
        change: measure(() => log.change(entry)),
        newRefusal: measure(() => log.refusals([{ ...tally, key: `k-${Date.now()}` }])),
        repeat: measure(() => {
          log.refusals([tally]);
          written = 0;
          log.refusals([tally]);
        }),
      };
    });
    expect(rows).toEqual({ change: 1, newRefusal: 1, repeat: 1 });
  });
});
