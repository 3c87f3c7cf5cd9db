/**
 * The installed kubectl against `wrangler dev --local-protocol https` (kubectl sends a bearer token only
 * over TLS), with a kubeconfig as docs/OPERATIONS.md shows it: discovery, client-side and server-side
 * apply, get with the printer columns, -o yaml, -w, wait, describe, delete, and the refusals of a
 * misspelled field and of a stale resourceVersion, for a Broker, a Trigger, a KafkaSource and a
 * ScaledObject. Skipped, saying so, where kubectl is not installed.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TOKEN } from "../support/client.ts";
import { type RunningRouter, startRouter } from "../support/router.ts";

const installed = spawnSync("kubectl", ["version", "--client"]).status === 0;
if (!installed) console.warn("kubectl e2e test skipped: kubectl is not installed (https://kubernetes.io/docs/tasks/tools/)");

let router: RunningRouter;
let dir: string;

beforeAll(async () => {
  if (!installed) return;
  router = await startRouter({ https: true });
  dir = mkdtempSync(join(tmpdir(), "edge-kubectl-"));
  writeFileSync(
    join(dir, "config"),
    `apiVersion: v1
kind: Config
clusters:
- name: edge
  cluster: {server: "${router.url}", insecure-skip-tls-verify: true}
users:
- name: edge
  user: {token: ${TOKEN}}
contexts:
- name: edge
  context: {cluster: edge, user: edge, namespace: kube-e2e}
current-context: edge
`,
  );
});
afterAll(async () => {
  await router?.stop();
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** kubectl with the router's kubeconfig; `input` is the manifest for `-f -`. */
function kubectl(args: string[], input?: string): Run {
  const r = spawnSync("kubectl", ["--kubeconfig", join(dir, "config"), ...args], {
    input,
    encoding: "utf8",
    timeout: 30_000,
    env: { ...process.env, KUBECACHEDIR: join(dir, "cache") },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function ok(args: string[], input?: string): string {
  const r = kubectl(args, input);
  expect(r.code, `kubectl ${args.join(" ")}\n${r.stderr}`).toBe(0);
  return r.stdout;
}

/** `kubectl get -w` in the background: its output so far, and a way to stop it. */
function watchOutput(args: string[]): { output: () => string; stop: () => void } {
  const child: ChildProcess = spawn("kubectl", ["--kubeconfig", join(dir, "config"), ...args], { env: { ...process.env, KUBECACHEDIR: join(dir, "cache") } });
  let out = "";
  child.stdout!.on("data", (d) => (out += d));
  return { output: () => out, stop: () => child.kill() };
}

async function until(check: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

interface Case {
  kind: string;
  /** The plural resource, as `kubectl get` takes it and as the API's messages name it. */
  resource: string;
  /** What kubectl prints for one object (`broker.eventing.knative.dev/default created`). */
  singular: string;
  name: string;
  /** The manifest, with `VALUE` where the test changes one string field. */
  yaml: string;
  /** The field VALUE lands in, as a jsonpath. */
  path: string;
  /** Column headers `kubectl get` shows for the kind. */
  columns: string[];
}

const CASES: Case[] = [
  {
    kind: "Broker",
    resource: "brokers.eventing.knative.dev",
    singular: "broker.eventing.knative.dev",
    name: "default",
    yaml: `apiVersion: eventing.knative.dev/v1
kind: Broker
metadata: {name: default, labels: {team: VALUE}}
`,
    path: "{.metadata.labels.team}",
    columns: ["NAME", "URL", "AGE", "READY", "REASON"],
  },
  {
    kind: "Trigger",
    resource: "triggers.eventing.knative.dev",
    singular: "trigger.eventing.knative.dev",
    name: "orders",
    yaml: `apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: orders}
spec:
  broker: default
  filter: {attributes: {type: VALUE}}
  subscriber: {uri: "https://orders.example.com/"}
`,
    path: "{.spec.filter.attributes.type}",
    columns: ["NAME", "BROKER", "SUBSCRIBER_URI", "AGE", "READY", "REASON"],
  },
  {
    kind: "KafkaSource",
    resource: "kafkasources.sources.knative.dev",
    singular: "kafkasource.sources.knative.dev",
    name: "kafka-source",
    yaml: `apiVersion: sources.knative.dev/v1beta1
kind: KafkaSource
metadata: {name: kafka-source}
spec:
  consumerGroup: knative-group
  bootstrapServers: [my-cluster-kafka-bootstrap.kafka:9092]
  topics: [VALUE]
  bridge: {type: confluent-v2, url: "http://127.0.0.1:9"}
  sink: {uri: "https://display.example.com/"}
`,
    path: "{.spec.topics[0]}",
    columns: ["NAME", "TOPICS", "SINK", "AGE", "READY", "REASON"],
  },
  {
    kind: "EventPolicy",
    resource: "eventpolicies.eventing.knative.dev",
    singular: "eventpolicy.eventing.knative.dev",
    name: "ci-senders",
    yaml: `apiVersion: eventing.knative.dev/v1alpha1
kind: EventPolicy
metadata: {name: ci-senders}
spec:
  to:
  - ref: {apiVersion: eventing.knative.dev/v1, kind: Broker, name: default}
  from:
  - sub: VALUE
  filters:
  - cesql: "type LIKE 'com.example.%'"
`,
    path: "{.spec.from[0].sub}",
    columns: ["NAME", "AGE", "READY", "REASON"],
  },
  {
    kind: "RequestReply",
    resource: "requestreplies.eventing.knative.dev",
    singular: "requestreply.eventing.knative.dev",
    name: "ask",
    yaml: `apiVersion: eventing.knative.dev/v1alpha1
kind: RequestReply
metadata: {name: ask}
spec:
  brokerRef: {apiVersion: eventing.knative.dev/v1, kind: Broker, name: default}
  correlationAttribute: VALUE
  timeout: PT10S
`,
    path: "{.spec.correlationAttribute}",
    columns: ["NAME", "URL", "AGE", "READY", "REASON"],
  },
  {
    kind: "ScaledObject",
    resource: "scaledobjects.keda.sh",
    singular: "scaledobject.keda.sh",
    name: "orders",
    yaml: `apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata: {name: orders, annotations: {edge-eventing.dev/dry-run: "true"}}
spec:
  scaleTargetRef: {name: VALUE}
  cluster: {url: "https://127.0.0.1:9", secretKeyRef: {name: SECRET_K8S_TOKEN}}
  triggers:
  - type: edge-eventing
    metadata: {broker: default, trigger: orders, metric: backlog, target: "5"}
`,
    path: "{.spec.scaleTargetRef.name}",
    columns: ["NAME", "SCALETARGETKIND", "SCALETARGETNAME", "MIN", "MAX", "READY", "ACTIVE", "READYREPLICAS", "AGE"],
  },
  {
    kind: "KubernetesCluster",
    resource: "kubernetesclusters.edge-eventing.dev",
    singular: "kubernetescluster.edge-eventing.dev",
    name: "prod",
    yaml: `apiVersion: edge-eventing.dev/v1alpha1
kind: KubernetesCluster
metadata: {name: prod}
spec: {url: "https://k8s.example.com", secretKeyRef: {name: SECRET_K8S_TOKEN}, vpcService: VALUE}
`,
    path: "{.spec.vpcService}",
    columns: ["NAME", "URL", "AGE"],
  },
  {
    kind: "JobSink",
    resource: "jobsinks.sinks.knative.dev",
    singular: "jobsink.sinks.knative.dev",
    name: "transcode",
    yaml: `apiVersion: sinks.knative.dev/v1alpha1
kind: JobSink
metadata: {name: transcode, annotations: {edge-eventing.dev/cluster: prod}}
spec:
  job:
    apiVersion: batch/v1
    kind: Job
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
          - {name: main, image: VALUE}
`,
    path: "{.spec.job.spec.template.spec.containers[0].image}",
    columns: ["NAME", "URL", "AGE", "READY", "REASON"],
  },
];

describe.skipIf(!installed)("kubectl against the router", () => {
  it("discovers every kind, with Knative's and KEDA's short names", () => {
    const out = ok(["api-resources"]);
    for (const line of [
      /^brokers\s+eventing\.knative\.dev\/v1\s+true\s+Broker$/m,
      /^kafkasources\s+kafkasource\s+sources\.knative\.dev\/v1\s+true\s+KafkaSource$/m,
      /^scaledobjects\s+so\s+keda\.sh\/v1alpha1\s+true\s+ScaledObject$/m,
      /^triggers\s+eventing\.knative\.dev\/v1\s+true\s+Trigger$/m,
    ]) {
      expect(out).toMatch(line);
    }
    expect(ok(["version"])).toMatch(/Server Version: v1\.32\.0-edge-eventing/);
  });

  it.each(CASES)("$kind: apply (client- and server-side), get, -o yaml, -w, describe, refusals, delete", async (c) => {
    const manifest = (value: string) => c.yaml.replace("VALUE", value);
    const ref = `${c.singular}/${c.name}`;
    expect(ok(["apply", "-f", "-"], manifest("v1"))).toContain(`${ref} created`);
    expect(ok(["apply", "-f", "-"], manifest("v2"))).toContain(`${ref} configured`);
    expect(ok(["apply", "-f", "-"], manifest("v2"))).toContain(`${ref} unchanged`);
    expect(ok(["get", ref, "-o", `jsonpath=${c.path}`])).toBe("v2");

    const table = ok(["get", c.resource]);
    expect(
      table
        .split("\n")[0]
        .split(/\s{2,}/)
        .map((h) => h.trim()),
    ).toEqual(c.columns);
    expect(table).toMatch(new RegExp(`^${c.name}\\s`, "m"));
    const yaml = ok(["get", ref, "-o", "yaml"]);
    expect(yaml).toContain(`kind: ${c.kind}`);
    expect(yaml).toContain("kubectl.kubernetes.io/last-applied-configuration");

    // Server-side apply takes over the field from client-side apply only with --force-conflicts.
    const conflict = kubectl(["apply", "--server-side", "-f", "-"], manifest("v3"));
    expect(conflict.code).toBe(1);
    expect(conflict.stderr).toMatch(/Apply failed with \d+ conflicts?: conflict with "kubectl-client-side-apply"/);
    expect(ok(["apply", "--server-side", "--force-conflicts", "-f", "-"], manifest("v3"))).toContain(`${ref} serverside-applied`);
    expect(ok(["get", ref, "-o", `jsonpath=${c.path}`])).toBe("v3");

    const watch = watchOutput(["get", c.resource, "-w", "--no-headers"]);
    try {
      await until(
        () =>
          watch
            .output()
            .split("\n")
            .filter((l) => l.startsWith(`${c.name} `)).length >= 1,
        10_000,
        "the listed row",
      );
      ok(["label", ref, "tier=gold"]);
      await until(
        () =>
          watch
            .output()
            .split("\n")
            .filter((l) => l.startsWith(`${c.name} `)).length >= 2,
        10_000,
        "the row of the change",
      );
    } finally {
      watch.stop();
    }
    expect(ok(["get", c.resource, "-l", "tier=gold", "--no-headers"])).toMatch(new RegExp(`^${c.name}\\s`));
    expect(ok(["get", c.resource, "-l", "tier=silver"]).trim()).toBe("");

    const described = ok(["describe", ref]);
    expect(described).toMatch(new RegExp(`^Name:\\s+${c.name}$`, "m"));
    expect(described).toMatch(/^Events:\s+<none>$/m);

    const misspelled = kubectl(["apply", "-f", "-"], manifest("v4").replace("metadata: {name", "metadata: {nmae: x, name"));
    expect(misspelled.code).toBe(1);
    expect(misspelled.stderr).toContain('unknown field "metadata.nmae"');

    const current = JSON.parse(ok(["get", ref, "-o", "json"]));
    current.metadata.resourceVersion = "1";
    const stale = kubectl(["replace", "-f", "-"], JSON.stringify(current));
    expect(stale.code).toBe(1);
    expect(stale.stderr).toContain("the object has been modified; please apply your changes to the latest version and try again");

    expect(ok(["delete", ref])).toContain(`${c.singular} "${c.name}" deleted`);
    expect(kubectl(["get", ref]).stderr).toContain(`${c.resource} "${c.name}" not found`);
  });

  it("waits for a condition, across all namespaces", () => {
    ok(["apply", "-f", "-"], CASES[0].yaml.replace("VALUE", "platform"));
    ok(["apply", "-f", "-"], CASES[1].yaml.replace("VALUE", "order.created"));
    expect(ok(["wait", "--for=condition=Ready", "broker/default", "trigger/orders", "--timeout=20s"])).toMatch(/condition met[\s\S]*condition met/);
    expect(ok(["get", "triggers", "-A"])).toMatch(/^kube-e2e\s+orders\s+default\s+https:\/\/orders\.example\.com\/\s+\S+\s+True/m);
    expect(ok(["get", "brokers", "-o", "name"]).trim()).toBe("broker.eventing.knative.dev/default");
  });
});
