/**
 * Flow control per trigger over real HTTP against `wrangler dev`: the shared scenarios on brokers of one
 * and of four partitions, then a router restarted while a trigger is paused, paused and resumed with the
 * CLI as a user would.
 */
import { afterAll, describe, expect, it } from "vitest";
import { flowScenarios } from "../scenarios/flow-control.ts";
import { auth, binaryEvent, broker, received, receivedAtLeast, resourcePath, script, trigger } from "../support/client.ts";
import { startCli } from "../support/cli.ts";
import { routerWithSubscriber, type RunningRouter, startRouter } from "../support/router.ts";

const { router, subscriber } = routerWithSubscriber();
const harness = { fetch: (path: string, init?: RequestInit) => fetch(`${router().url}${path}`, init), subscriber: () => subscriber().url };

flowScenarios(harness, "e2e-flow1");
flowScenarios(harness, "e2e-flow4", { "edge-eventing.dev/partitions": "4" });

describe("a restart while paused", () => {
  let own: RunningRouter | undefined;
  afterAll(async () => {
    await own?.stop();
  });

  it("keeps the trigger paused across a restart of the router, and `resume` drains the queue in order", async () => {
    const ns = "e2e-flow-restart";
    const sub = subscriber().url;
    own = await startRouter();
    const put = async (plural: string, body: { metadata: { name: string } }) => {
      const r = await fetch(`${own!.url}${resourcePath(ns, plural, body.metadata.name)}`, {
        method: "PUT",
        headers: { ...auth, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      expect(r.status).toBeLessThan(300);
    };
    const cli = async (...args: string[]) => startCli(own!.url, [...args, "-n", ns]).done;
    await script(sub, "/flow-restart", [{ status: 200 }]);
    await put("brokers", broker("b"));
    await put("triggers", trigger("t", { broker: "b", subscriber: { uri: `${sub}/flow-restart` } }, { "edge-eventing.dev/parallelism": "1" }));

    const paused = await cli("pause", "t");
    expect(paused).toMatchObject({ code: 0, stdout: "trigger.eventing.knative.dev/t paused\n" });
    const sent = Array.from({ length: 8 }, (_, i) => `r-${i}`);
    for (const id of sent.slice(0, 4)) expect((await fetch(`${own.url}/${ns}/b`, binaryEvent(id))).status).toBe(202);

    await own.stop();
    own = await startRouter({ persistDir: own.persistDir });
    const status = (await (await fetch(`${own.url}${resourcePath(ns, "triggers", "t")}`, { headers: auth })).json()) as any;
    expect(status.status.conditions).toContainEqual(expect.objectContaining({ type: "Paused", status: "True" }));
    for (const id of sent.slice(4)) expect((await fetch(`${own.url}/${ns}/b`, binaryEvent(id))).status).toBe(202);
    // The cron watchdog pushes every configuration again and pumps; a paused trigger still sends nothing.
    expect((await fetch(`${own.url}/cdn-cgi/handler/scheduled`)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 1500));
    expect(await received(sub, "/flow-restart")).toEqual([]);

    expect(await cli("resume", "t")).toMatchObject({ code: 0, stdout: "trigger.eventing.knative.dev/t resumed\n" });
    const got = await receivedAtLeast(sub, "/flow-restart", sent.length, 30_000);
    expect(got.map((r) => r.headers["ce-id"])).toEqual(sent);
    const after = (await (await fetch(`${own.url}${resourcePath(ns, "triggers", "t")}`, { headers: auth })).json()) as any;
    expect(after.metadata.annotations?.["edge-eventing.dev/paused"]).toBeUndefined();
    expect(after.status.conditions.map((c: { type: string }) => c.type)).not.toContain("Paused");
    expect((await cli("pause", "nope")).code).toBe(1);
  });
});
