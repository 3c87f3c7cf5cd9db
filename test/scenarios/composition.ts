/**
 * EventTransform, Sequence and Parallel as a Knative user sees them, written once and run twice: inside
 * workerd (test/workers/composition.test.ts) and over real HTTP against `wrangler dev`
 * (test/e2e/composition.test.ts). The EventTransform expressions are the examples of Knative's
 * EventTransform documentation.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { brokerSubresource } from "../../shared/resources/broker-api.ts";
import { auth, broker, eventually, received, receivedAtLeast, resourcePath, script, trigger } from "../support/client.ts";
import { applyManifest, putManifest } from "../support/manifests.ts";
import type { Harness } from "./delivery.ts";

const GROUPS: Record<string, string> = {
  eventtransforms: "eventing.knative.dev/v1alpha1",
  sequences: "flows.knative.dev/v1",
  parallels: "flows.knative.dev/v1",
};

export const eventTransform = (name: string, spec: Record<string, unknown>) => ({
  apiVersion: "eventing.knative.dev/v1alpha1",
  kind: "EventTransform",
  metadata: { name },
  spec,
});
export const transformRef = (name: string) => ({ ref: { apiVersion: "eventing.knative.dev/v1alpha1", kind: "EventTransform", name } });
const flowRef = (kind: "Sequence" | "Parallel", name: string) => ({ ref: { apiVersion: "flows.knative.dev/v1", kind, name } });
/** A Knative flow manifest, with the channelTemplate Knative's examples carry (accepted and ignored). */
const flow = (kind: "Sequence" | "Parallel", name: string, spec: Record<string, unknown>) => ({
  apiVersion: "flows.knative.dev/v1",
  kind,
  metadata: { name },
  spec: { channelTemplate: { apiVersion: "messaging.knative.dev/v1", kind: "InMemoryChannel" }, ...spec },
});

/** Knative's documented examples (knative.dev, "EventTransform"), verbatim expressions. */
export const DOC_EXAMPLES = {
  fieldExtraction: `{
  "specversion": "1.0",
  "id": id,
  "type": "user.extracted",
  "source": "transform.user-extractor",
  "time": time,
  "data": {
    "userId": data.user.id,
    "email": data.user.email
  }
}`,
  promoteToAttributes: `{
  "specversion": "1.0",
  "id": id,
  "type": type,
  "source": source,
  "time": time,
  "orderid": data.order.id,
  "customerid": data.customer.id,
  "region": data.region,
  "data": data
}`,
  restructure: `{
  "specversion": "1.0",
  "id": id,
  "type": "order.simplified",
  "source": "transform.order-transformer",
  "time": time,
  "data": {
    "orderId": data.id,
    "customer": {
      "name": data.customer.firstName & " " & data.customer.lastName,
      "email": data.customer.email
    },
    "items": data.items.{
      "product": name,
      "quantity": quantity,
      "price": price,
      "total": quantity * price
    },
    "totalAmount": $sum(data.items.(quantity * price))
  }
}`,
  conditional: `{
  "specversion": "1.0",
  "id": id,
  "type": data.total > 100 ? "order.high-value" : "order.standard",
  "source": "transform.order-classifier",
  "time": time,
  "data": $merge([
    data,
    {
      "priority": data.total > 100 ? "high" : "normal",
      "requiresApproval": data.total > 1000
    }
  ])
}`,
  request: `{
  "specversion": "1.0",
  "id": id,
  "type": "request.transformed",
  "source": "transform.request-transformer",
  "time": time,
  "data": data
}`,
  replyTransformation: `{
  "specversion": "1.0",
  "id": id,
  "type": "response.transformed",
  "source": "transform.response-transformer",
  "time": time,
  "data": {
    "status": data.status,
    "result": data.result,
    "processed": true
  }
}`,
};

/** Runs away: tail recursion JSONata does not stack, stopped by the step budget. */
export const RUNAWAY = "( $loop := function($i){ $i < 100000000 ? $loop($i+1) : $i }; $loop(0) )";

export function compositionScenarios(h: Harness, ns: string): void {
  const sub = () => h.subscriber();
  const pathOf = (plural: string, name: string) => {
    const group = GROUPS[plural];
    return group ? `/apis/${group}/namespaces/${ns}/${plural}/${name}` : resourcePath(ns, plural, name);
  };
  const put = (plural: string, body: { metadata: { name: string }; [k: string]: unknown }) => putManifest(h.fetch, pathOf(plural, body.metadata.name), body);
  const apply = (plural: string, body: { metadata: { name: string }; [k: string]: unknown }) =>
    applyManifest(h.fetch, pathOf(plural, body.metadata.name), body);
  const sendTo = (path: string, event: Record<string, unknown>) =>
    h.fetch(path, { method: "POST", headers: { "content-type": "application/cloudevents+json" }, body: JSON.stringify(event) });
  const send = (event: Record<string, unknown>) => sendTo(`/${ns}/comp`, event);
  const ce = (id: string, type: string, data: unknown) => ({
    specversion: "1.0",
    id,
    source: "/shop",
    type,
    time: "2025-01-01T00:00:00Z",
    datacontenttype: "application/json",
    data,
  });
  /** A trigger on `comp` for `type` that records events (structured) at `path`. */
  const recorder = (name: string, type: string, path: string) =>
    apply(
      "triggers",
      trigger(name, { broker: "comp", filter: { attributes: { type } }, subscriber: { uri: `${sub()}${path}` }, delivery: { format: "json" } }),
    );
  const one = async (path: string) => JSON.parse((await receivedAtLeast(sub(), path, 1))[0].body);
  const counters = async () =>
    (
      (await (await h.fetch(brokerSubresource(ns, "comp", "metrics"), { headers: auth })).json()) as {
        counters: { trigger: string; name: string; value: number }[];
      }
    ).counters;
  const counter = async (trigger: string, name: string) => (await counters()).find((c) => c.trigger === trigger && c.name === name)?.value ?? 0;
  const dlsTo = (path: string) => ({ retry: 3, backoffPolicy: "linear", backoffDelay: "PT0.1S", deadLetterSink: { uri: `${sub()}${path}` } });
  const decodeErrorData = (e: Record<string, string>) => atob(e.knativeerrordata ?? "");

  beforeAll(async () => {
    await apply("brokers", broker("comp"));
  });

  describe("EventTransform as a Trigger's subscriber: the documented examples, replies back to the broker", () => {
    const viaTransform = async (name: string, expression: string, inType: string, outType: string) => {
      await apply("eventtransforms", eventTransform(name, { jsonata: { expression } }));
      await apply("triggers", trigger(`to-${name}`, { broker: "comp", filter: { attributes: { type: inType } }, subscriber: transformRef(name) }));
      await script(sub(), `/${name}`, [{ status: 200 }]);
      await recorder(`out-${name}`, outType, `/${name}`);
    };

    it("field extraction", async () => {
      await viaTransform("extract", DOC_EXAMPLES.fieldExtraction, "user.created", "user.extracted");
      expect((await send(ce("u-1", "user.created", { user: { id: "u42", email: "ada@example.com", name: "Ada" } }))).status).toBe(202);
      const got = await one("/extract");
      expect(got).toMatchObject({
        specversion: "1.0",
        id: "u-1",
        type: "user.extracted",
        source: "transform.user-extractor",
        time: "2025-01-01T00:00:00Z",
        data: { userId: "u42", email: "ada@example.com" },
      });
      expect(got.data.name).toBeUndefined();
    });

    it("promoting data fields to attributes (with a sink, as the documentation shows it)", async () => {
      await script(sub(), "/promote", [{ status: 202 }]);
      await apply(
        "eventtransforms",
        eventTransform("promote", { jsonata: { expression: DOC_EXAMPLES.promoteToAttributes }, sink: { uri: `${sub()}/promote` } }),
      );
      await apply(
        "triggers",
        trigger("to-promote", { broker: "comp", filter: { attributes: { type: "order.created" } }, subscriber: transformRef("promote") }),
      );
      const order = { order: { id: "o-9" }, customer: { id: "c-7" }, region: "eu" };
      expect((await send(ce("o-9", "order.created", order))).status).toBe(202);
      const [got] = await receivedAtLeast(sub(), "/promote", 1);
      expect(got.headers).toMatchObject({
        "ce-id": "o-9",
        "ce-type": "order.created",
        "ce-source": "/shop",
        "ce-orderid": "o-9",
        "ce-customerid": "c-7",
        "ce-region": "eu",
      });
      expect(JSON.parse(got.body)).toEqual(order);
    });

    it("restructuring data, with computed fields", async () => {
      await viaTransform("restructure", DOC_EXAMPLES.restructure, "order.placed", "order.simplified");
      const data = {
        id: "o-1",
        customer: { firstName: "Ada", lastName: "Lovelace", email: "ada@example.com" },
        items: [
          { name: "pen", quantity: 2, price: 1.5 },
          { name: "ink", quantity: 1, price: 4 },
        ],
      };
      expect((await send(ce("r-1", "order.placed", data))).status).toBe(202);
      expect((await one("/restructure")).data).toEqual({
        orderId: "o-1",
        customer: { name: "Ada Lovelace", email: "ada@example.com" },
        items: [
          { product: "pen", quantity: 2, price: 1.5, total: 3 },
          { product: "ink", quantity: 1, price: 4, total: 4 },
        ],
        totalAmount: 7,
      });
    });

    it("conditional logic: the type and priority follow the total", async () => {
      await apply("eventtransforms", eventTransform("classify", { jsonata: { expression: DOC_EXAMPLES.conditional } }));
      await apply(
        "triggers",
        trigger("to-classify", { broker: "comp", filter: { attributes: { type: "order.total" } }, subscriber: transformRef("classify") }),
      );
      await script(sub(), "/high", [{ status: 200 }]);
      await script(sub(), "/standard", [{ status: 200 }]);
      await recorder("out-high", "order.high-value", "/high");
      await recorder("out-standard", "order.standard", "/standard");
      await send(ce("c-1", "order.total", { total: 2500 }));
      await send(ce("c-2", "order.total", { total: 20 }));
      expect((await one("/high")).data).toEqual({ total: 2500, priority: "high", requiresApproval: true });
      expect((await one("/standard")).data).toEqual({ total: 20, priority: "normal", requiresApproval: false });
    });
  });

  describe("EventTransform with a sink, in each reply mode", () => {
    const setUp = async (name: string, reply: Record<string, unknown> | undefined, outType: string) => {
      const sinkReply = {
        "ce-specversion": "1.0",
        "ce-id": `${name}-{n}`,
        "ce-source": "/service",
        "ce-type": `${name}.response`,
        "content-type": "application/json",
      };
      await script(sub(), `/${name}-sink`, [{ status: 200, headers: sinkReply, body: '{"status":"ok","result":42,"internal":"x"}' }]);
      await script(sub(), `/${name}-out`, [{ status: 200 }]);
      await apply(
        "eventtransforms",
        eventTransform(name, { jsonata: { expression: DOC_EXAMPLES.request }, sink: { uri: `${sub()}/${name}-sink` }, ...(reply ? { reply } : {}) }),
      );
      await apply("triggers", trigger(`to-${name}`, { broker: "comp", filter: { attributes: { type: `${name}.request` } }, subscriber: transformRef(name) }));
      await recorder(`out-${name}`, outType, `/${name}-out`);
      await send(ce(`${name}-req`, `${name}.request`, { q: 1 }));
      const [got] = await receivedAtLeast(sub(), `/${name}-sink`, 1);
      expect(got.headers).toMatchObject({ "ce-type": "request.transformed", "ce-source": "transform.request-transformer", "ce-id": `${name}-req` });
      expect(JSON.parse(got.body)).toEqual({ q: 1 });
    };

    it("without spec.reply the sink's reply goes back to the broker as it is", async () => {
      await setUp("plain", undefined, "plain.response");
      expect(await one("/plain-out")).toMatchObject({
        id: "plain-1",
        type: "plain.response",
        source: "/service",
        data: { status: "ok", result: 42, internal: "x" },
      });
    });

    it("reply.jsonata reshapes the sink's reply (the documented reply transformation)", async () => {
      await setUp("shaped", { jsonata: { expression: DOC_EXAMPLES.replyTransformation } }, "response.transformed");
      expect(await one("/shaped-out")).toMatchObject({
        id: "shaped-1",
        type: "response.transformed",
        source: "transform.response-transformer",
        data: { status: "ok", result: 42, processed: true },
      });
    });

    it("reply.discard drops the sink's reply: the delivery succeeds and nothing comes back", async () => {
      const replies = await counter("", "replies");
      await setUp("discard", { discard: true }, "discard.response");
      await eventually(async () => (await counter("to-discard", "delivered")) >= 1, 10_000, "the discard delivery to settle");
      expect(await counter("", "replies")).toBe(replies);
      expect(await received(sub(), "/discard-out")).toEqual([]);
    });

    it("is addressable: its status.address.url takes CloudEvents like a broker's ingress and the sink gets the result", async () => {
      await script(sub(), "/addr-sink", [{ status: 202 }]);
      const t = await apply("eventtransforms", eventTransform("addr", { jsonata: { expression: DOC_EXAMPLES.request }, sink: { uri: `${sub()}/addr-sink` } }));
      expect(t.status.conditions).toEqual([expect.objectContaining({ type: "Ready", status: "True" })]);
      const address = new URL(t.status.address.url);
      expect(address.pathname).toBe(`/eventtransforms/${ns}/addr`);
      expect((await sendTo(address.pathname, ce("a-1", "any.type", { q: 1 }))).status).toBe(202);
      const [got] = await receivedAtLeast(sub(), "/addr-sink", 1);
      expect(got.headers["ce-type"]).toBe("request.transformed");
      expect((await sendTo(`/eventtransforms/${ns}/no-such`, ce("a-2", "any.type", {}))).status).toBe(404);
      expect((await h.fetch(address.pathname, { method: "POST", headers: { "content-type": "application/cloudevents+json" }, body: '{"id":1}' })).status).toBe(
        400,
      );
    });
  });

  describe("EventTransform failures: not retried, dead-lettered with knativeerror* saying why", () => {
    const failing = async (name: string, expression: string) => {
      await script(sub(), `/${name}-dls`, [{ status: 200 }]);
      await apply("eventtransforms", eventTransform(name, { jsonata: { expression } }));
      await apply(
        "triggers",
        trigger(`to-${name}`, {
          broker: "comp",
          filter: { attributes: { type: `${name}.t` } },
          subscriber: transformRef(name),
          delivery: dlsTo(`/${name}-dls`),
        }),
      );
      await send(ce(`${name}-1`, `${name}.t`, { n: 1 }));
      const [dead] = await receivedAtLeast(sub(), `/${name}-dls`, 1);
      const ext = Object.fromEntries(
        Object.entries(dead.headers)
          .filter(([k]) => k.startsWith("ce-knativeerror"))
          .map(([k, v]) => [k.slice(3), v]),
      );
      expect(dead.headers["ce-id"]).toBe(`${name}-1`);
      expect(ext.knativeerrorcode).toBe("422");
      expect(ext.knativeerrordest).toMatch(new RegExp(`/eventtransforms/${ns}/${name}$`));
      expect(await counter(`to-${name}`, "retried")).toBe(0);
      return decodeErrorData(ext);
    };

    it("an expression that fails at run time", async () => {
      expect(await failing("boom", '$error("no customer on this order")')).toContain("no customer on this order");
    });

    it("a result that is not a CloudEvent", async () => {
      expect(await failing("notce", '{"hello": data.n}')).toMatch(/not a valid CloudEvent/);
    });

    it("an expression that runs too long is stopped", async () => {
      expect(await failing("runaway", RUNAWAY)).toMatch(/ran too long/);
    });

    it("built-ins asked for too much and a backtracking pattern on event data: dead-lettered, and the broker goes on", async () => {
      // 50 million characters took 5 s and 480 MB before $pad was bounded.
      expect(await failing("bigpad", '$merge([$, {"data": $pad("", 50000000)}])')).toMatch(/\$pad's result would be 50000000 characters/);
      // Exponential on a backtracking engine (2^40 paths for this input); RE2 reads it once.
      const pattern = '$match(data.s, /^(a+)+$/) ? $ : $error("not only a: " & $length(data.s))';
      await script(sub(), "/redos-dls", [{ status: 200 }]);
      await apply("eventtransforms", eventTransform("redos", { jsonata: { expression: pattern } }));
      await apply(
        "triggers",
        trigger("to-redos", { broker: "comp", filter: { attributes: { type: "redos.t" } }, subscriber: transformRef("redos"), delivery: dlsTo("/redos-dls") }),
      );
      await send(ce("redos-1", "redos.t", { s: `${"a".repeat(40)}!` }));
      const [dead] = await receivedAtLeast(sub(), "/redos-dls", 1);
      expect(dead.headers["ce-knativeerrorcode"]).toBe("422");
      expect(atob(dead.headers["ce-knativeerrordata"])).toContain("not only a: 41");
      await recorder("after-redos", "after.redos", "/after-redos");
      expect((await send(ce("after-1", "after.redos", {}))).status).toBe(202);
      expect((await one("/after-redos")).id).toBe("after-1");
    });

    it("a regular expression RE2 cannot run (a backreference) is refused at apply time", async () => {
      const r = await put("eventtransforms", eventTransform("backref", { jsonata: { expression: '$match(data.s, /(a)\\1/) ? $ : $error("x")' } }));
      expect(r.status).toBe(422);
      expect(((await r.json()) as any).details.causes).toEqual([
        { field: "spec.jsonata.expression", message: expect.stringMatching(/not supported \(RE2 syntax/) },
      ]);
    });

    it("a syntax error is refused at apply time: 422 with the position", async () => {
      const r = await put("eventtransforms", eventTransform("bad", { jsonata: { expression: '{"type": data.x +}' } }));
      expect(r.status).toBe(422);
      const status = (await r.json()) as any;
      expect(status.kind).toBe("Status");
      expect(status.details.causes).toEqual([{ field: "spec.jsonata.expression", message: expect.stringMatching(/position 18/) }]);
      const noSink = await put("eventtransforms", eventTransform("bad2", { jsonata: { expression: "$" }, reply: { discard: true } }));
      expect(noSink.status).toBe(422);
      expect(((await noSink.json()) as any).details.causes[0].field).toBe("spec.reply");
    });
  });

  describe("Sequence", () => {
    it("carries an event through three steps (transform, service, transform) to spec.reply", async () => {
      await apply(
        "eventtransforms",
        eventTransform("seq-first", {
          jsonata: { expression: '{"specversion":"1.0","id":id,"source":"/seq","type":"seq.one","data":$merge([data,{"one":true}])}' },
        }),
      );
      await apply(
        "eventtransforms",
        eventTransform("seq-last", {
          jsonata: { expression: '{"specversion":"1.0","id":id,"source":"/seq","type":"seq.done","data":$merge([data,{"three":true}])}' },
        }),
      );
      await script(sub(), "/seq-two", [
        {
          status: 200,
          headers: { "ce-specversion": "1.0", "ce-id": "two-{n}", "ce-source": "/seq", "ce-type": "seq.two", "content-type": "application/json" },
          body: '{"two":true}',
        },
      ]);
      await script(sub(), "/seq-reply", [{ status: 200 }]);
      const seq = await apply(
        "sequences",
        flow("Sequence", "seq", {
          steps: [transformRef("seq-first"), { uri: `${sub()}/seq-two` }, transformRef("seq-last")],
          reply: { uri: `${sub()}/seq-reply` },
        }),
      );
      expect(seq.status.address.url).toMatch(new RegExp(`/sequences/${ns}/seq$`));
      expect(seq.status.conditions[0]).toMatchObject({ type: "Ready", status: "True" });
      await apply("triggers", trigger("to-seq", { broker: "comp", filter: { attributes: { type: "seq.start" } }, subscriber: flowRef("Sequence", "seq") }));
      await send(ce("seq-1", "seq.start", { zero: true }));
      const [two] = await receivedAtLeast(sub(), "/seq-two", 1);
      expect(two.headers["ce-type"]).toBe("seq.one");
      expect(JSON.parse(two.body)).toEqual({ zero: true, one: true });
      const [done] = await receivedAtLeast(sub(), "/seq-reply", 1);
      expect(done.headers).toMatchObject({ "ce-type": "seq.done", "ce-id": "two-1" });
      expect(JSON.parse(done.body)).toEqual({ two: true, three: true });
    });

    it("a failing step dead-letters with knativeerror* after its own retries, and the later steps never see the event", async () => {
      await script(sub(), "/seqf-fail", [{ status: 500, body: "step is down" }]);
      await script(sub(), "/seqf-dls", [{ status: 200 }]);
      await script(sub(), "/seqf-after", [{ status: 200 }]);
      await apply(
        "sequences",
        flow("Sequence", "seqf", {
          steps: [transformRef("seq-first"), { uri: `${sub()}/seqf-fail`, delivery: { ...dlsTo("/seqf-dls"), retry: 1 } }, { uri: `${sub()}/seqf-after` }],
        }),
      );
      expect((await sendTo(`/sequences/${ns}/seqf`, ce("seqf-1", "seq.start", { zero: true }))).status).toBe(202);
      const [dead] = await receivedAtLeast(sub(), "/seqf-dls", 1);
      expect(await received(sub(), "/seqf-fail")).toHaveLength(2);
      expect(dead.headers).toMatchObject({ "ce-type": "seq.one", "ce-knativeerrorcode": "500", "ce-knativeerrordest": `${sub()}/seqf-fail` });
      expect(atob(dead.headers["ce-knativeerrordata"])).toBe("step is down");
      expect(await received(sub(), "/seqf-after")).toEqual([]);
    });
  });

  describe("Parallel", () => {
    it("sends each event to every branch its filter passes; replies go to the branch's reply or spec.reply; a failing branch dead-letters", async () => {
      const passes = { "ce-specversion": "1.0", "ce-id": "f-{n}", "ce-source": "/filter", "ce-type": "par.passed", "content-type": "application/json" };
      await script(sub(), "/par-filter", [{ status: 200, headers: passes, body: '{"passed":true}' }]);
      await script(sub(), "/par-b0-reply", [{ status: 200 }]);
      await script(sub(), "/par-s1", [{ status: 200, headers: { ...passes, "ce-id": "s1-{n}", "ce-type": "par.one" }, body: '{"one":true}' }]);
      await script(sub(), "/par-reply", [{ status: 200 }]);
      await script(sub(), "/par-fail", [{ status: 400, body: "branch refuses" }]);
      await script(sub(), "/par-dls", [{ status: 200 }]);
      await apply(
        "eventtransforms",
        eventTransform("par-zero", { jsonata: { expression: '{"specversion":"1.0","id":id,"source":"/par","type":"par.zero","data":data}' } }),
      );
      const par = await apply(
        "parallels",
        flow("Parallel", "par", {
          branches: [
            { filter: { uri: `${sub()}/par-filter` }, subscriber: transformRef("par-zero"), reply: { uri: `${sub()}/par-b0-reply` } },
            { subscriber: { uri: `${sub()}/par-s1` } },
            { subscriber: { uri: `${sub()}/par-fail` }, delivery: dlsTo("/par-dls") },
          ],
          reply: { uri: `${sub()}/par-reply` },
        }),
      );
      expect(par.status.address.url).toMatch(new RegExp(`/parallels/${ns}/par$`));
      await apply("triggers", trigger("to-par", { broker: "comp", filter: { attributes: { type: "par.start" } }, subscriber: flowRef("Parallel", "par") }));
      await send(ce("par-1", "par.start", { n: 1 }));
      const [zero] = await receivedAtLeast(sub(), "/par-b0-reply", 1);
      expect(zero.headers).toMatchObject({ "ce-type": "par.zero", "ce-id": "f-1" });
      expect(JSON.parse(zero.body)).toEqual({ passed: true });
      const [one] = await receivedAtLeast(sub(), "/par-reply", 1);
      expect(one.headers["ce-type"]).toBe("par.one");
      const [dead] = await receivedAtLeast(sub(), "/par-dls", 1);
      expect(dead.headers).toMatchObject({ "ce-id": "par-1", "ce-knativeerrorcode": "400", "ce-knativeerrordest": `${sub()}/par-fail` });
      expect(await received(sub(), "/par-fail")).toHaveLength(1);
    });
  });
}
