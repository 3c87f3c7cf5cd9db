/** What the CLI prints: tables, errors, live lines, review summaries, and its exit codes. */
import { describe, expect, it } from "vitest";
import { ApiError, describeError } from "../../../bin/cli/api.ts";
import { describeResource } from "../../../bin/cli/describe.ts";
import { age, type Resource, resourceTable, table } from "../../../bin/cli/format.ts";
import type { Cli } from "../../../bin/cli/io.ts";
import { main } from "../../../bin/cli/main.ts";
import { summary } from "../../../bin/cli/review.ts";
import { concerns, formatLive } from "../../../bin/cli/tail.ts";

const NOW = Date.parse("2026-01-01T12:00:00Z");
const trigger: Resource = {
  apiVersion: "eventing.knative.dev/v1",
  kind: "Trigger",
  metadata: { name: "orders", namespace: "shop", creationTimestamp: "2026-01-01T11:00:00Z" },
  spec: { broker: "default", filter: { attributes: { type: "order" } } },
  status: {
    subscriberUri: "http://sub/orders",
    conditions: [{ type: "Ready", status: "False", reason: "BrokerDoesNotExist", message: 'Broker "default" does not exist' }],
  },
};

describe("tables", () => {
  it("aligns columns like kubectl", () => {
    expect(
      table(
        ["NAME", "AGE"],
        [
          ["a", "1s"],
          ["longer", "2m"],
        ],
      ),
    ).toBe("NAME     AGE\na        1s\nlonger   2m\n");
  });
  it("prints kubectl ages", () => {
    expect([5, 150, 7300, 200000].map((s) => age(new Date(NOW - s * 1000).toISOString(), NOW))).toEqual(["5s", "2m", "2h", "2d"]);
    expect(age(undefined, NOW)).toBe("<unknown>");
  });
  it("shows Knative's columns, and with -o wide the filter and Ready message", () => {
    const [header, row] = resourceTable([trigger], { wide: true, allNamespaces: true, now: NOW }).trim().split("\n");
    expect(header.split(/\s{2,}/)).toEqual(["NAMESPACE", "NAME", "BROKER", "SUBSCRIBER_URI", "AGE", "READY", "REASON", "FILTER", "MESSAGE"]);
    expect(row.split(/\s{2,}/)).toEqual([
      "shop",
      "orders",
      "default",
      "http://sub/orders",
      "60m",
      "False",
      "BrokerDoesNotExist",
      "type=order",
      'Broker "default" does not exist',
    ]);
  });
  it("shows the URL of an addressable kind", () => {
    const ask: Resource = {
      apiVersion: "eventing.knative.dev/v1alpha1",
      kind: "RequestReply",
      metadata: { name: "ask", namespace: "shop", creationTimestamp: "2026-01-01T11:00:00Z" },
      spec: {},
      status: { address: { url: "http://router/requestreplies/shop/ask" }, conditions: [{ type: "Ready", status: "True" }] },
    };
    const [header, row] = resourceTable([ask], { wide: false, allNamespaces: false, now: NOW }).trim().split("\n");
    expect(header.split(/\s{2,}/)).toEqual(["NAME", "URL", "AGE", "READY", "REASON"]);
    expect(row.split(/\s{2,}/)).toEqual(["ask", "http://router/requestreplies/shop/ask", "60m", "True"]);
  });
  it("describes conditions and a trigger's counters", () => {
    const text = describeResource(trigger, {
      trigger: "orders",
      metrics: { backlog: 0, dead: 0, inflight: { orders: 2 }, counters: [{ trigger: "orders", name: "delivered", value: 7 }] },
    });
    expect(text).toMatch(/Ready\s+False\s+BrokerDoesNotExist\s+Broker "default" does not exist/);
    expect(text).toMatch(/Delivered:\s+7\n/);
    expect(text).toMatch(/In flight:\s+2\n/);
  });
  it("describes a partitioned broker's partitions", () => {
    const broker = { apiVersion: "eventing.knative.dev/v1", kind: "Broker", metadata: { name: "big", namespace: "shop" }, spec: {}, status: { partitions: 2 } };
    const metrics = {
      backlog: 5,
      dead: 1,
      inflight: {},
      counters: [],
      partitions: 2,
      byPartition: [
        { partition: 0, backlog: 2, dead: 0 },
        { partition: 1, backlog: 3, dead: 1 },
      ],
    };
    const text = describeResource(broker, { metrics });
    expect(text).toMatch(/Partitions:\s+2\n\s+0\s+backlog 2, dead letters 0\n\s+1\s+backlog 3, dead letters 1\n/);
  });
});

describe("errors", () => {
  it("prints a Status with every cause", () => {
    const e = new ApiError(
      422,
      {
        kind: "Status",
        reason: "Invalid",
        message: "m",
        details: {
          kind: "Trigger",
          name: "t",
          causes: [
            { field: "spec.broker", message: "required" },
            { field: "spec.subscriber", message: "required" },
          ],
        },
      },
      "HTTP 422",
    );
    expect(describeError(e)).toBe('Error from server (Invalid): Trigger "t" is invalid\n  * spec.broker: required\n  * spec.subscriber: required\n');
    expect(describeError(new ApiError(400, { error: "bad id", field: "id" }, "HTTP 400"))).toBe("Error from server (400): bad id (field: id)\n");
    expect(describeError(new ApiError(0, {}, "cannot reach the router at http://x: refused"))).toBe("error: cannot reach the router at http://x: refused\n");
  });
});

describe("live lines", () => {
  const event = { kind: "event" as const, at: NOW, id: "e1", source: "/s", type: "order", matched: ["orders"] };
  const delivery = {
    kind: "delivery" as const,
    at: NOW,
    trigger: "orders",
    eventSeq: 3,
    phase: "subscriber" as const,
    attempt: 2,
    verdict: "retry" as const,
    status: 503,
  };
  it("formats events with their routing and deliveries with their verdict", () => {
    expect(formatLive(event)).toBe("2026-01-01T12:00:00.000Z  event     order  id=e1 source=/s  -> orders\n");
    expect(formatLive({ ...event, matched: [] })).toContain("-> (no trigger matched)");
    expect(formatLive(delivery)).toBe("2026-01-01T12:00:00.000Z  delivery  orders  retry  event#3 attempt=2  status=503\n");
    expect(formatLive({ ...delivery, partition: 2 })).toContain("event#2.3 attempt=2");
  });
  it("keeps only what concerns --trigger", () => {
    expect([concerns(event, "orders"), concerns(event, "other"), concerns(delivery, "other"), concerns(delivery, undefined)]).toEqual([
      true,
      false,
      false,
      true,
    ]);
  });
  it("summarises reviews", () => {
    expect(summary({ result: "NoFilter", delivered: true })).toBe("NoFilter: the event would be delivered\n");
    expect(summary({ value: false, type: "Boolean", error: { kind: "missingAttribute", message: "no x" } })).toBe(
      "false (Boolean)\nerror (missingAttribute): no x\n",
    );
  });
});

describe("exit codes", () => {
  function fakeCli(respond: (url: string, init: RequestInit) => Response, files: Record<string, string> = {}) {
    const out: string[] = [];
    const err: string[] = [];
    const calls: { url: string; method?: string; auth?: string | null }[] = [];
    const cli: Cli = {
      io: {
        read: async (p) => files[p] ?? Promise.reject(new Error("ENOENT: no such file")),
        files: async (p) => [p],
        out: (t) => out.push(t),
        err: (t) => err.push(t),
      },
      env: { EDGE_EVENTING_TOKEN: "tok" },
      fetch: (async (url: string, init: RequestInit) => {
        calls.push({ url, method: init.method, auth: new Headers(init.headers).get("authorization") });
        return respond(url, init);
      }) as typeof fetch,
      WebSocket: globalThis.WebSocket,
    };
    return { cli, out, err, calls };
  }
  const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
  const manifests =
    "apiVersion: eventing.knative.dev/v1\nkind: Broker\nmetadata: {name: a}\n---\napiVersion: eventing.knative.dev/v1\nkind: Broker\nmetadata: {name: b}\n";

  it("0 when every document applies, with the token sent", async () => {
    const f = fakeCli(() => json({}, 201), { "m.yaml": manifests });
    expect(await main(["apply", "-f", "m.yaml"], f.cli)).toBe(0);
    expect(f.out.join("")).toBe("broker.eventing.knative.dev/a created\nbroker.eventing.knative.dev/b created\n");
    expect(f.calls).toEqual([
      { url: "http://127.0.0.1:8787/apis/eventing.knative.dev/v1/namespaces/default/brokers/a", method: "PUT", auth: "Bearer tok" },
      { url: "http://127.0.0.1:8787/apis/eventing.knative.dev/v1/namespaces/default/brokers/b", method: "PUT", auth: "Bearer tok" },
    ]);
  });
  it("1 when one document is refused, after trying the others", async () => {
    const f = fakeCli(
      (url) =>
        url.endsWith("/a")
          ? json(
              {
                kind: "Status",
                reason: "Invalid",
                code: 422,
                details: { kind: "Broker", name: "a", causes: [{ field: "spec.delivery.retry", message: "must be >= 0" }] },
              },
              422,
            )
          : json({}, 200),
      { "m.yaml": manifests },
    );
    expect(await main(["apply", "-f", "m.yaml"], f.cli)).toBe(1);
    expect(f.err.join("")).toBe('m.yaml#1: Error from server (Invalid): Broker "a" is invalid\n  * spec.delivery.retry: must be >= 0\n');
    expect(f.out.join("")).toBe("broker.eventing.knative.dev/b configured\n");
  });
  it("prints the server's Warning headers on apply, and a strict decoding error as its message", async () => {
    const warned = fakeCli(
      () =>
        new Response("{}", {
          status: 201,
          headers: { "content-type": "application/json", warning: '299 - "unknown field \\"spec.x\\"", 299 - "duplicate field \\"spec.y\\""' },
        }),
      { "m.yaml": manifests },
    );
    expect(await main(["apply", "-f", "m.yaml"], warned.cli)).toBe(0);
    expect(warned.err.join("")).toBe('Warning: unknown field "spec.x"\nWarning: duplicate field "spec.y"\n'.repeat(2));
    const warn = fakeCli(() => json({}, 201), { "m.yaml": manifests });
    expect(await main(["apply", "-f", "m.yaml", "--validate", "warn"], warn.cli)).toBe(0);
    expect(warn.calls[0].url).toBe("http://127.0.0.1:8787/apis/eventing.knative.dev/v1/namespaces/default/brokers/a?fieldValidation=Warn");
    expect(await main(["apply", "-f", "m.yaml", "--validate", "loose"], warn.cli)).toBe(2);
    const message = 'Broker in version "v1" cannot be handled as a Broker: strict decoding error: unknown field "spec.delivry" (did you mean "delivery"?)';
    const refused = fakeCli(
      () =>
        json(
          {
            kind: "Status",
            reason: "BadRequest",
            code: 400,
            message,
            details: { kind: "brokers", name: "a", causes: [{ field: "spec.delivry", message: "unknown field" }] },
          },
          400,
        ),
      { "m.yaml": manifests },
    );
    expect(await main(["apply", "-f", "m.yaml"], refused.cli)).toBe(1);
    expect(refused.err[0]).toBe(`m.yaml#1: Error from server (BadRequest): ${message}\n`);
  });
  it("review expression: 1 when the expression does not parse, 0 when it evaluates (even with an evaluation error)", async () => {
    const status = (error: unknown) => json({ kind: "ExpressionReview", status: { value: false, type: "Boolean", error } });
    const event = '{"specversion":"1.0","id":"1","source":"/s","type":"t"}';
    const parseError = fakeCli(() => status({ kind: "parse", message: "unexpected token" }));
    expect(await main(["review", "expression", "type = ", "--event", event], parseError.cli)).toBe(1);
    expect(parseError.out.join("")).toBe("false (Boolean)\nerror (parse): unexpected token\n");
    const missing = fakeCli(() => status({ kind: "missingAttribute", message: "no x" }));
    expect(await main(["review", "expression", "x = 1", "--event", event], missing.cli)).toBe(0);
  });
  it("2 for usage mistakes, before any request", async () => {
    const f = fakeCli(() => json({}));
    expect(await main(["get", "brokers", "--bogus"], f.cli)).toBe(2);
    expect(await main(["apply"], f.cli)).toBe(2);
    expect(await main(["apply", "-f", "missing.yaml"], f.cli)).toBe(2);
    expect(await main(["nope"], f.cli)).toBe(2);
    expect(f.calls).toEqual([]);
    expect(f.err.join("")).toContain("-f missing.yaml: ENOENT");
  });
});
