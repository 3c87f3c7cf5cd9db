import { env } from "cloudflare:workers";
import { expect, it } from "vitest";
import { stub } from "../../clients/stubs.ts";
import type { BrokerConfig } from "../../shared/resources/eventing.ts";

const config = (triggers: string[]): BrokerConfig => ({
  namespace: "cfg",
  name: "b",
  backlogLimit: 100,
  dedupWindowMs: 0,
  triggers: triggers.map((name) => ({
    name,
    uid: name,
    filter: {},
    subscriber: { kind: "display", namespace: "cfg", name },
    subscriberUri: "x",
    ordered: false,
    parallelism: 1,
  })),
});

it("ignores a configuration push older than the one it applied, so a late push cannot drop a trigger's queue", async () => {
  const b = stub(env, "BROKER", "cfg/b");
  await b.configure(config(["old"]), 5);
  await b.configure(config(["old", "new"]), 7);
  await b.configure(config(["old"]), 6);
  const r = await b.ingest([{ attributes: { specversion: "1.0", id: "1", source: "/s", type: "t" } }]);
  expect(r.status).toBe(202);
  const matched = (await b.metrics()).counters
    .filter((c) => c.name === "matched")
    .map((c) => c.trigger)
    .sort();
  expect(matched).toEqual(["new", "old"]);
  await b.configure(null, 8);
  expect((await b.ingest([{ attributes: { specversion: "1.0", id: "2", source: "/s", type: "t" } }])).status).toBe(404);
});
