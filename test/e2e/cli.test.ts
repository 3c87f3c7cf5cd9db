/**
 * The CLI as a user runs it (`node bin/edge-eventing.mjs`, a child process) against `wrangler dev`:
 * apply a multi-document Knative manifest, get, describe, send, tail, review, delete, and the exit codes
 * scripts rely on (0 done, 1 the API refused, 2 wrong usage).
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startCli } from "../support/cli.ts";
import { eventually, receivedAtLeast } from "../support/client.ts";
import { type RunningRouter, startRouter } from "../support/router.ts";
import { type Subscriber, startSubscriber } from "../support/subscriber.ts";

let router: RunningRouter;
let sub: Subscriber;
let dir: string;

const start = (args: string[], env: Record<string, string> = {}) => startCli(router.url, args, env);
const cli = (args: string[], env?: Record<string, string>) => start(args, env).done;

beforeAll(async () => {
  [router, sub] = await Promise.all([startRouter(), startSubscriber()]);
  dir = mkdtempSync(join(tmpdir(), "edge-eventing-cli-"));
  // Knative's own manifests, unchanged: the Service is the cluster's business and is skipped.
  writeFileSync(
    join(dir, "app.yaml"),
    `apiVersion: eventing.knative.dev/v1
kind: Broker
metadata:
  name: default
  namespace: shop
---
apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: orders
  namespace: shop
spec:
  template:
    spec:
      containers:
        - image: example.com/orders
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata:
  name: orders
  namespace: shop
spec:
  broker: default
  filter:
    attributes:
      type: com.example.order
  subscriber:
    uri: ${sub.url}/orders
`,
  );
  writeFileSync(
    join(dir, "bad.yaml"),
    `apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata:
  name: broken
  namespace: shop
spec:
  broker: default
  filters:
    - cesql: "type = = 'x'"
  subscriber:
    uri: ${sub.url}/never
`,
  );
});
afterAll(async () => {
  await Promise.all([router?.stop(), sub?.close()]);
});

describe("edge-eventing CLI against a running router", () => {
  it("applies a multi-document Knative manifest, skipping kinds the router does not serve", async () => {
    const r = await cli(["apply", "-f", join(dir, "app.yaml")]);
    expect(r).toMatchObject({ code: 0, stdout: "broker.eventing.knative.dev/default created\ntrigger.eventing.knative.dev/orders created\n" });
    expect(r.stderr).toContain("skipped: Service (serving.knative.dev/v1) is not served by edge-eventing");
    expect((await cli(["apply", "-f", join(dir, "app.yaml")])).stdout).toBe(
      "broker.eventing.knative.dev/default configured\ntrigger.eventing.knative.dev/orders configured\n",
    );
  });

  it("lists with get -o wide and shows one with -o json", async () => {
    const wide = await cli(["get", "triggers", "-n", "shop", "-o", "wide"]);
    expect(wide.code).toBe(0);
    const [header, row] = wide.stdout.trim().split("\n");
    expect(header.split(/\s{2,}/)).toEqual(["NAME", "BROKER", "SUBSCRIBER_URI", "AGE", "READY", "REASON", "FILTER", "MESSAGE"]);
    expect(row).toMatch(new RegExp(`^orders\\s+default\\s+${sub.url}/orders\\s+\\d+s\\s+True\\s+type=com.example.order$`));
    const json = await cli(["get", "broker", "default", "-n", "shop", "-o", "json"]);
    expect(JSON.parse(json.stdout).status.address.url).toBe(`${router.url}/shop/default`);
  });

  it("describes a trigger with its conditions and delivery counters", async () => {
    const r = await cli(["describe", "trigger", "orders", "-n", "shop"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Name:\s+orders\nNamespace:\s+shop\n/);
    expect(r.stdout).toMatch(/Ready\s+True\s+TriggerReady/);
    expect(r.stdout).toMatch(/Delivered:\s+\d+/);
  });

  it("sends an event that tail shows with its routing, and the subscriber receives", async () => {
    const tail = start(["tail", "default", "-n", "shop", "--trigger", "orders", "--count", "2"]);
    await eventually(async () => tail.stderr().includes("watching shop/default"), 15_000, "tail to connect");
    const sent = await cli(["send", "default", "-n", "shop", "--type", "com.example.order", "--id", "order-1", "-d", '{"sku":"A1"}']);
    expect(sent).toMatchObject({ code: 0, stdout: "event order-1 accepted by shop/default (202)\n" });
    const [got] = await receivedAtLeast(sub.url, "/orders", 1);
    expect(got.body).toBe('{"sku":"A1"}');
    const r = await tail.done;
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split("\n");
    expect(lines[0]).toMatch(/event\s+com\.example\.order\s+id=order-1 source=edge-eventing\/cli\s+-> orders$/);
    expect(lines[1]).toMatch(/delivery\s+orders\s+delivered\s+event#\d+ attempt=1$/);
  });

  it("sends structured and batch modes from a file", async () => {
    const file = join(dir, "batch.json");
    writeFileSync(file, JSON.stringify([1, 2].map((n) => ({ specversion: "1.0", id: `b-${n}`, source: "/cli-test", type: "com.example.order", data: { n } }))));
    expect(await cli(["send", "default", "-n", "shop", "-f", file, "--mode", "batch"])).toMatchObject({
      code: 0,
      stdout: "2 events accepted by shop/default (202)\n",
    });
    expect((await cli(["send", "default", "-n", "shop", "--type", "com.example.order", "--mode", "structured", "-d", "plain text"])).code).toBe(0);
    const got = await receivedAtLeast(sub.url, "/orders", 4);
    expect(got.map((g) => g.headers["ce-id"] ?? JSON.parse(g.body).id)).toEqual(expect.arrayContaining(["b-1", "b-2"]));
  });

  it("reviews a trigger's filter and an expression", async () => {
    const event = JSON.stringify({ specversion: "1.0", id: "r1", source: "/s", type: "com.example.order" });
    expect(await cli(["review", "filter", "-n", "shop", "--trigger", "orders", "--event", event])).toMatchObject({
      code: 0,
      stdout: "Pass: the event would be delivered\n",
    });
    const other = JSON.stringify({ specversion: "1.0", id: "r2", source: "/s", type: "com.example.refund" });
    expect((await cli(["review", "filter", "-n", "shop", "--trigger", "orders", "--event", other])).stdout).toBe("Fail: the event would not be delivered\n");
    expect((await cli(["review", "expression", "type LIKE 'com.%'", "--event", event])).stdout).toBe("true (Boolean)\n");
  });

  it("applies Knative's EventTransform and Sequence unchanged, lists and describes them, and reviews the transform", async () => {
    const file = join(dir, "flow.yaml");
    writeFileSync(
      file,
      `apiVersion: eventing.knative.dev/v1alpha1
kind: EventTransform
metadata:
  name: extract
  namespace: shop
spec:
  jsonata:
    expression: |
      { "specversion": "1.0", "id": id, "type": "user.extracted", "source": "transform.user-extractor", "data": { "userId": data.user.id } }
---
apiVersion: flows.knative.dev/v1
kind: Sequence
metadata:
  name: onboarding
  namespace: shop
spec:
  channelTemplate:
    apiVersion: messaging.knative.dev/v1
    kind: InMemoryChannel
  steps:
    - ref:
        apiVersion: eventing.knative.dev/v1alpha1
        kind: EventTransform
        name: extract
    - uri: ${sub.url}/welcome
  reply:
    ref:
      apiVersion: eventing.knative.dev/v1
      kind: Broker
      name: default
`,
    );
    expect(await cli(["apply", "-f", file])).toMatchObject({
      code: 0,
      stdout: "eventtransform.eventing.knative.dev/extract created\nsequence.flows.knative.dev/onboarding created\n",
    });
    const [header, row] = (await cli(["get", "eventtransforms", "-n", "shop"])).stdout.trim().split("\n");
    expect(header).toMatch(/^NAME\s/);
    expect(row).toMatch(new RegExp(`^extract\\s.*${router.url}/eventtransforms/shop/extract.*True`));
    const transform = await cli(["describe", "eventtransform", "extract", "-n", "shop"]);
    expect(transform.stdout).toContain('"type": "user.extracted"');
    const flow = await cli(["describe", "sequence", "onboarding", "-n", "shop"]);
    expect(flow.stdout).toContain(`Flow:\n  Step 0:   eventtransform/extract\n  Step 1:   ${sub.url}/welcome\n  Reply:    broker/default\n`);
    const event = JSON.stringify({ specversion: "1.0", id: "u1", source: "/s", type: "user.created", data: { user: { id: 7 } } });
    const reviewed = await cli(["review", "expression", "--transform", "extract", "-n", "shop", "--event", event, "-o", "json"]);
    expect(JSON.parse(reviewed.stdout).status).toEqual({
      value: { specversion: "1.0", id: "u1", type: "user.extracted", source: "transform.user-extractor", data: { userId: 7 } },
      type: "CloudEvent",
      error: null,
    });
    const broken = await cli(["review", "expression", "{ data.", "--language", "jsonata", "--event", event]);
    expect(broken.code).toBe(1);
    expect(broken.stdout).toMatch(/error \(parse\): .*position/);
  });

  it("exits 1 with the Status causes when the API refuses, and 2 on wrong usage", async () => {
    const invalid = await cli(["apply", "-f", join(dir, "bad.yaml")]);
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toMatch(/Error from server \(Invalid\): Trigger "broken" is invalid\n {2}\* spec\.filters\[0\]\.cesql: /);
    const missing = await cli(["get", "trigger", "nope", "-n", "shop"]);
    expect(missing).toMatchObject({ code: 1, stderr: 'Error from server (NotFound): triggers.eventing.knative.dev "nope" not found\n' });
    const unauthorized = await cli(["get", "brokers"], { EDGE_EVENTING_TOKEN: "" });
    expect(unauthorized.code).toBe(1);
    expect(unauthorized.stderr).toContain("Error from server (Unauthorized)");
    expect(unauthorized.stderr).toContain("hint: pass --token or set EDGE_EVENTING_TOKEN");
    expect((await cli(["get"])).code).toBe(2);
    expect((await cli(["get", "widgets"])).stderr).toContain('unknown resource type "widgets"');
    expect((await cli(["frobnicate"])).code).toBe(2);
    expect((await cli(["send", "default", "--type", "x", "--ext", "Bad=1"])).code).toBe(2);
    expect((await cli(["get", "brokers", "--server", "http://127.0.0.1:1"])).stderr).toContain("cannot reach the router at http://127.0.0.1:1");
  });

  it("deletes what a file applied, and exits 1 on what is already gone", async () => {
    const r = await cli(["delete", "-f", join(dir, "app.yaml")]);
    expect(r).toMatchObject({ code: 0, stdout: "broker.eventing.knative.dev/default deleted\ntrigger.eventing.knative.dev/orders deleted\n" });
    expect((await cli(["delete", "trigger", "orders", "-n", "shop"])).code).toBe(1);
    expect((await cli(["delete", "trigger", "orders", "-n", "shop", "--ignore-not-found"])).code).toBe(0);
    expect((await cli(["get", "triggers", "-n", "shop"])).stderr).toBe("No triggers found in shop namespace.\n");
  });
});
