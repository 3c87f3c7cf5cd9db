/**
 * The README's walk-through over real HTTP against `wrangler dev`: a subscriber is down, its failed delivery
 * is found through the history (API and `edge-eventing events`), and sent again with a Replay once the
 * subscriber is back (`edge-eventing replay --dry-run` first, then for real).
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { startCli } from "../support/cli.ts";
import { auth, broker, eventually, received, receivedAtLeast, resourcePath, script, trigger } from "../support/client.ts";
import { applyManifest } from "../support/manifests.ts";
import { type RunningRouter, startRouter } from "../support/router.ts";
import { type Subscriber, startSubscriber } from "../support/subscriber.ts";

let router: RunningRouter;
let sub: Subscriber;
const cli = (args: string[]) => startCli(router.url, args).done;

const put = (path: string, body: unknown) => applyManifest((p, init) => fetch(`${router.url}${p}`, init), path, body);

beforeAll(async () => {
  [router, sub] = await Promise.all([startRouter(), startSubscriber()]);
  await put(resourcePath("shop", "brokers", "default"), broker("default"));
  await put(
    resourcePath("shop", "triggers", "orders"),
    trigger("orders", {
      broker: "default",
      filter: { attributes: { type: "order.created" } },
      subscriber: { uri: `${sub.url}/orders` },
      delivery: { retry: 1, backoffDelay: "PT0.1S" },
    }),
  );
});

afterAll(async () => {
  await router?.stop();
  await sub?.close();
});

it("finds a failed delivery in the history and replays it once the subscriber is back", async () => {
  await script(sub.url, "/orders", [{ status: 503, body: "maintenance" }]);
  const sent = await fetch(`${router.url}/shop/default`, {
    method: "POST",
    headers: { "ce-specversion": "1.0", "ce-id": "order-1", "ce-source": "/shop", "ce-type": "order.created", "content-type": "application/json" },
    body: '{"total":42}',
  });
  expect(sent.status).toBe(202);

  // The history API: the event, its delivery to `orders`, failed after two attempts.
  const failed = await eventually(
    async () => {
      const r = await fetch(`${router.url}/apis/edge-eventing.dev/v1alpha1/namespaces/shop/brokers/default/events?state=failed`, { headers: auth });
      const body = (await r.json()) as any;
      return body.items.length === 1 ? body.items[0] : undefined;
    },
    30_000,
    "the failed delivery in the history",
  );
  expect(failed.event).toMatchObject({ id: "order-1", type: "order.created", data: { total: 42 } });
  expect(failed.deliveries).toEqual([
    {
      trigger: "orders",
      state: "failed",
      attempts: [expect.objectContaining({ status: 503, error: "maintenance" }), expect.objectContaining({ status: 503 })],
    },
  ]);

  // The same through the CLI: a table, and -o json.
  const table = await cli(["events", "default", "-n", "shop", "--state", "failed", "--since", "1h"]);
  expect(table.code).toBe(0);
  expect(table.stdout).toMatch(/^AGE\s+ID\s+SOURCE\s+TYPE\s+DELIVERIES\n\S+\s+order-1\s+\/shop\s+order\.created\s+orders=failed\(2 attempts\)\n$/);
  const asJson = JSON.parse((await cli(["events", "default", "-n", "shop", "--type", "order.created", "-o", "json"])).stdout);
  expect(asJson.items.map((i: any) => i.event.id)).toEqual(["order-1"]);
  const bad = await cli(["events", "default", "-n", "shop", "--since", "yesterday"]);
  expect(bad.code).toBe(1);
  expect(bad.stderr).toContain("since");

  // The subscriber is back: a dry run counts, then the replay sends, marked with its name.
  await script(sub.url, "/orders", [{ status: 200 }]);
  const dry = await cli(["replay", "redrive", "-n", "shop", "--broker", "default", "--from", "1h", "--trigger", "orders", "--state", "failed", "--dry-run"]);
  expect(dry).toMatchObject({ code: 0, stdout: "replay.edge-eventing.dev/redrive would send 1 delivery (dry run)\n" });
  expect(await received(sub.url, "/orders")).toEqual([]);
  const run = await cli(["replay", "redrive", "-n", "shop", "--broker", "default", "--from", "1h", "--trigger", "orders", "--state", "failed"]);
  expect(run).toMatchObject({ code: 0, stdout: "replay.edge-eventing.dev/redrive created: 1 delivery\n" });
  const [again] = await receivedAtLeast(sub.url, "/orders", 1, 30_000);
  expect(again.headers).toMatchObject({ "ce-id": "order-1", "ce-replay": "redrive" });
  expect(JSON.parse(again.body)).toEqual({ total: 42 });
  await eventually(
    async () => (await cli(["get", "replays", "-n", "shop"])).stdout.match(/redrive\s+default\s+1\s+1\s+0\s+\S+\s+True/),
    30_000,
    "the replay to be Ready",
  );

  const unknown = await cli(["replay", "ghost", "-n", "shop", "--broker", "default", "--from", "1h", "--trigger", "nope"]);
  expect(unknown.code).toBe(1);
  expect(unknown.stderr).toContain("spec.triggers[0]");
});
