/**
 * Who may manage what, end to end: `wrangler dev --local-protocol https` trusting a local OIDC issuer, and
 * the real kubectl with a kubeconfig per person (docs/SECURITY.md's worked setup): the admin token sets up
 * a platform team (edit everywhere, through a group) and an application team (its triggers in `shop`, and
 * view there); `kubectl auth whoami` and `kubectl auth can-i` (and `--list`) answer for each; writes are
 * allowed or refused as the roles say, escalation through a RoleBinding is refused, and the audit trail
 * shows who did each. The CLI takes an OIDC token from EDGE_EVENTING_TOKEN like the admin token.
 * Skipped, saying so, where kubectl is not installed.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startCli } from "../support/cli.ts";
import { TOKEN } from "../support/client.ts";
import { OidcIssuer } from "../support/oidc-issuer.ts";
import { type RunningRouter, startRouter } from "../support/router.ts";

const installed = spawnSync("kubectl", ["version", "--client"]).status === 0;
if (!installed) console.warn("rbac e2e test skipped: kubectl is not installed (https://kubernetes.io/docs/tasks/tools/)");

let router: RunningRouter;
let oidc: OidcIssuer;
let dir: string;
const tokens: Record<string, string> = {};
const user = (sub: string) => `${oidc.issuerUrl("corp")}#${sub}`;

async function token(sub: string, groups: string[]): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return oidc.token({ issuer: "corp", claims: { iss: oidc.issuerUrl("corp"), sub, aud: "edge-eventing", groups, iat: now, exp: now + 3600 } });
}

beforeAll(async () => {
  if (!installed) return;
  oidc = await new OidcIssuer().start();
  router = await startRouter({ https: true, vars: { OIDC_ISSUERS: oidc.issuerUrl("corp") } });
  tokens.admin = TOKEN;
  tokens.platform = await token("pat", ["platform"]);
  tokens.app = await token("ana", ["shop-devs"]);
  tokens.lead = await token("leo", ["shop-leads"]);
  tokens.nobody = await token("nina", []);
  dir = mkdtempSync(join(tmpdir(), "edge-rbac-"));
  const users = Object.entries(tokens)
    .map(([name, t]) => `- name: ${name}\n  user: {token: "${t}"}`)
    .join("\n");
  const contexts = Object.keys(tokens)
    .map((name) => `- name: ${name}\n  context: {cluster: edge, user: ${name}, namespace: shop}`)
    .join("\n");
  writeFileSync(
    join(dir, "config"),
    `apiVersion: v1\nkind: Config\nclusters:\n- name: edge\n  cluster: {server: "${router.url}", insecure-skip-tls-verify: true}\nusers:\n${users}\ncontexts:\n${contexts}\ncurrent-context: admin\n`,
  );
}, 180_000);
afterAll(async () => {
  await router?.stop();
  await oidc?.close();
});

/**
 * kubectl as `who` (a context of the kubeconfig); `input` is the manifest for `-f -`. Not spawnSync: the
 * OIDC issuer the router asks for keys runs in this process and must keep answering meanwhile.
 */
function kubectl(who: string, args: string[], input?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn("kubectl", ["--kubeconfig", join(dir, "config"), "--context", who, ...args], {
    env: { ...process.env, KUBECACHEDIR: join(dir, `cache-${who}`) },
    timeout: 30_000,
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  child.stdin.end(input ?? "");
  return new Promise((done) => child.once("close", (code) => done({ code, stdout, stderr })));
}
async function ok(who: string, args: string[], input?: string): Promise<string> {
  const r = await kubectl(who, args, input);
  expect(r.code, `kubectl --context ${who} ${args.join(" ")}\n${r.stderr}`).toBe(0);
  return r.stdout;
}

/** A RoleBinding in shop of a role to a group, as a YAML document. */
const groupBinding = (name: string, kind: string, role: string, group: string) => `---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: ${name}, namespace: shop}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ${kind}, name: ${role}}
subjects:
- {kind: Group, apiGroup: rbac.authorization.k8s.io, name: ${group}}
`;

const SETUP = `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: platform-edit}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: edit}
subjects:
- {kind: Group, apiGroup: rbac.authorization.k8s.io, name: platform}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: trigger-editor, namespace: shop}
rules:
- apiGroups: [eventing.knative.dev]
  resources: [triggers]
  verbs: ["*"]

${groupBinding("shop-devs-triggers", "Role", "trigger-editor", "shop-devs")}
${groupBinding("shop-devs-view", "ClusterRole", "view", "shop-devs")}
${groupBinding("shop-leads-admin", "ClusterRole", "admin", "shop-leads")}`;

const trigger = (ns: string, name: string) => `apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: ${name}, namespace: ${ns}}
spec:
  broker: default
  subscriber: {uri: "https://orders.example.com/"}
`;

describe.skipIf(!installed)("RBAC through the real kubectl", () => {
  it("the admin token applies the platform team's and the application team's bindings", async () => {
    const out = await ok("admin", ["apply", "-f", "-"], SETUP);
    expect(out).toContain("clusterrolebinding.rbac.authorization.k8s.io/platform-edit created");
    expect(out).toContain("rolebinding.rbac.authorization.k8s.io/shop-devs-view created");
    expect(await ok("admin", ["get", "clusterroles"])).toMatch(/cluster-admin[\s\S]*view/);
  });

  it("kubectl auth whoami names the OIDC user and groups", async () => {
    const out = await ok("app", ["auth", "whoami"]);
    expect(out).toContain(user("ana"));
    expect(out).toContain("shop-devs");
    expect(out).toContain("system:authenticated");
  });

  it("kubectl auth can-i answers as the roles say", async () => {
    const canI = async (who: string, ...args: string[]) => (await kubectl(who, ["auth", "can-i", ...args])).stdout.trim();
    expect(await canI("app", "create", "triggers", "-n", "shop")).toBe("yes");
    expect(await canI("app", "create", "triggers", "-n", "other")).toBe("no");
    expect(await canI("app", "create", "brokers", "-n", "shop")).toBe("no");
    expect(await canI("app", "get", "brokers", "--subresource=events", "-n", "shop")).toBe("yes");
    expect(await canI("app", "create", "rolebindings", "-n", "shop")).toBe("no");
    expect(await canI("platform", "create", "brokers", "-n", "anywhere")).toBe("yes");
    expect(await canI("platform", "create", "rolebindings", "-n", "shop")).toBe("no");
    expect(await canI("nobody", "list", "triggers", "-n", "shop")).toBe("no");
    expect(await canI("admin", "'*'", "'*'", "--all-namespaces")).toBe("yes");
    expect((await kubectl("app", ["auth", "can-i", "create", "brokers", "-n", "shop"])).code).toBe(1);
    const list = await ok("app", ["auth", "can-i", "--list", "-n", "shop"]);
    expect(list).toMatch(/^triggers\.eventing\.knative\.dev\s+\[\]\s+\[\]\s+\[\* get list watch\]$/m);
    expect(list).toMatch(/^brokers\.eventing\.knative\.dev\/events\s+\[\]\s+\[\]\s+\[get list watch\]$/m);
    expect(list).not.toMatch(/^brokers\.eventing\.knative\.dev\s.*create/m);
  });

  it("the platform team makes brokers anywhere; the application team its triggers in shop only", async () => {
    const broker = (ns: string) => `apiVersion: eventing.knative.dev/v1\nkind: Broker\nmetadata: {name: default, namespace: ${ns}}\n`;
    await ok("platform", ["apply", "-f", "-"], broker("shop"));
    await ok("platform", ["apply", "-f", "-"], broker("other"));
    expect(await ok("app", ["apply", "-f", "-"], trigger("shop", "orders"))).toContain("trigger.eventing.knative.dev/orders created");
    const elsewhere = await kubectl("app", ["apply", "-f", "-"], trigger("other", "orders"));
    expect(elsewhere.code).not.toBe(0);
    expect(elsewhere.stderr).toContain(`User "${user("ana")}" cannot get resource "triggers" in API group "eventing.knative.dev" in the namespace "other"`);
    const brokerDelete = await kubectl("app", ["delete", "broker", "default", "-n", "shop"]);
    expect(brokerDelete.stderr).toContain(`brokers.eventing.knative.dev "default" is forbidden: User "${user("ana")}" cannot delete resource "brokers"`);
    expect(await ok("app", ["get", "brokers", "-n", "shop"])).toContain("default");
    expect((await kubectl("nobody", ["get", "triggers", "-n", "shop"])).stderr).toContain("Forbidden");
  });

  it("no self-escalation: the shop's admin cannot bind itself cluster-admin, but may hand out edit in shop (kubectl create sends protobuf)", async () => {
    const self = await kubectl("lead", ["create", "rolebinding", "leo-all", "--clusterrole=cluster-admin", `--user=${user("leo")}`, "-n", "shop"]);
    expect(self.code).not.toBe(0);
    expect(self.stderr).toContain(
      `rolebindings.rbac.authorization.k8s.io "leo-all" is forbidden: user "${user("leo")}" (groups=["shop-leads" "system:authenticated"]) is attempting to grant RBAC permissions not currently held`,
    );
    expect(await ok("lead", ["create", "rolebinding", "devs-edit", "--clusterrole=edit", "--group=shop-devs", "-n", "shop"])).toContain(
      "rolebinding.rbac.authorization.k8s.io/devs-edit created",
    );
    expect((await kubectl("app", ["auth", "can-i", "create", "brokers", "-n", "shop"])).stdout.trim()).toBe("yes");
    expect(await ok("lead", ["delete", "rolebinding", "devs-edit", "-n", "shop"])).toContain("deleted");
    expect((await kubectl("lead", ["create", "rolebinding", "x", "--clusterrole=edit", "--group=shop-devs", "-n", "other"])).stderr).toContain("forbidden");
  });

  it("no self-escalation: the application team cannot bind itself edit, the platform team cannot bind cluster-admin", async () => {
    const app = await kubectl("app", ["create", "rolebinding", "mine", "--clusterrole=edit", `--user=${user("ana")}`, "-n", "shop"]);
    expect(app.code).not.toBe(0);
    expect(app.stderr).toContain("forbidden");
    const platform = await kubectl("platform", ["create", "clusterrolebinding", "mine", "--clusterrole=cluster-admin", "--group=platform"]);
    expect(platform.code).not.toBe(0);
    expect(platform.stderr).toContain("forbidden");
  });

  it("the audit trail shows who did each", async () => {
    type Trail = { items: { user: { username: string }; verb: string; objectRef?: { resource: string; name?: string }; responseStatus: { code: number } }[] };
    const trail = JSON.parse(
      await ok("admin", ["get", "--raw", `/apis/edge-eventing.dev/v1alpha1/namespaces/shop/auditevents?user=${encodeURIComponent(user("ana"))}`]),
    ) as Trail;
    expect(trail.items).toContainEqual(
      expect.objectContaining({ verb: "create", objectRef: expect.objectContaining({ resource: "triggers", name: "orders" }), responseStatus: { code: 201 } }),
    );
    const all = JSON.parse(await ok("admin", ["get", "--raw", "/apis/edge-eventing.dev/v1alpha1/auditevents?limit=1000"])) as Trail;
    expect(all.items.some((i) => i.user.username === user("pat") && i.objectRef?.resource === "brokers" && i.responseStatus.code === 201)).toBe(true);
    expect(all.items.some((i) => i.user.username === "edge-eventing:admin" && i.objectRef?.resource === "clusterrolebindings")).toBe(true);
    expect((await kubectl("app", ["get", "--raw", "/apis/edge-eventing.dev/v1alpha1/auditevents"])).code).not.toBe(0);
    // kubectl get, with the trail's columns: the shop's admin reads its namespace's rows.
    const table = await ok("lead", ["get", "auditevents", "-n", "shop", "--sort-by=.requestReceivedTimestamp"]);
    expect(table).toMatch(/^NAME\s+AGE\s+USER\s+VERB\s+RESOURCE\s+OBJECT\s+CODE\s+COUNT$/m);
    expect(table).toMatch(new RegExp(`${user("ana").replace(/[.]/g, "\\.")}\\s+create\\s+triggers\\s+orders\\s+201\\s+1`));
    expect(await ok("admin", ["get", "rolebindings", "-n", "shop"])).toMatch(/^shop-devs-view\s+ClusterRole\/view\s+/m);
  });

  it("the CLI takes an OIDC token from EDGE_EVENTING_TOKEN", async () => {
    const run = await startCli(router.url, ["get", "triggers", "-n", "shop"], { EDGE_EVENTING_TOKEN: tokens.app, NODE_TLS_REJECT_UNAUTHORIZED: "0" }).done;
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain("orders");
    const refused = await startCli(router.url, ["get", "triggers", "-n", "other"], { EDGE_EVENTING_TOKEN: tokens.app, NODE_TLS_REJECT_UNAUTHORIZED: "0" }).done;
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain("forbidden");
  });
});
