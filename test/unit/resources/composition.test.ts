import { describe, expect, it } from "vitest";
import { compositionChannels, transformSpecOf, validateEventTransform, validateParallel, validateSequence } from "../../../shared/resources/composition.ts";
import { resolveDestination, targetUrl } from "../../../shared/resources/destination.ts";
import type { Manifest } from "../../../shared/resources/manifest.ts";

const ctx = { baseUrl: "https://r.example", selfHosts: ["r.example"], domainTemplate: "https://{name}.{namespace}.{DOMAIN}", domain: "svc.example" };
const m = (kind: string, spec: Record<string, unknown>, name = "f"): Manifest => ({
  apiVersion: "flows.knative.dev/v1",
  kind,
  metadata: { name, namespace: "ns", uid: "u" },
  spec,
});
const svc = (name: string) => ({ ref: { apiVersion: "serving.knative.dev/v1", kind: "Service", name } });

describe("validation", () => {
  it("names the field and position of a bad expression, and reply without sink", () => {
    expect(validateEventTransform(m("EventTransform", { jsonata: { expression: "data." } }) as never)).toEqual([
      { field: "spec.jsonata.expression", message: expect.stringMatching(/^JSONata syntax error: .*position/) },
    ]);
    expect(validateEventTransform(m("EventTransform", { jsonata: { expression: "$" }, reply: { discard: true } }) as never).map((c) => c.field)).toEqual([
      "spec.reply",
    ]);
    expect(
      validateEventTransform(
        m("EventTransform", {
          jsonata: { expression: "$" },
          sink: { uri: "https://x.example" },
          reply: { discard: true, jsonata: { expression: "$" } },
        }) as never,
      ).map((c) => c.field),
    ).toEqual(["spec.reply"]);
    expect(validateEventTransform(m("EventTransform", {}) as never).map((c) => c.field)).toEqual(["spec.jsonata.expression"]);
  });

  it("checks every step and branch as a Destination with its delivery", () => {
    expect(validateSequence(m("Sequence", { steps: [] }) as never).map((c) => c.field)).toEqual(["spec.steps"]);
    expect(
      validateSequence(m("Sequence", { steps: [{ uri: "not a url" }, { uri: "https://x.example", delivery: { retry: -1 } }] }) as never).map((c) => c.field),
    ).toEqual(["spec.steps[0].uri", "spec.steps[1].delivery.retry"]);
    expect(validateParallel(m("Parallel", { branches: [{ filter: { uri: "x" } }] }) as never).map((c) => c.field)).toEqual([
      "spec.branches[0].filter.uri",
      "spec.branches[0].subscriber",
    ]);
  });
});

describe("channels", () => {
  it("a Sequence: one channel per step, each step's reply to the next, the last to spec.reply through its own channel", () => {
    const seq = m("Sequence", { steps: [svc("a"), { ...svc("b"), delivery: { retry: 2 } }], reply: { uri: "https://done.example" } }, "s");
    const channels = Object.fromEntries(compositionChannels(seq, ctx).map((c) => [c.entry.name, c.config]));
    expect(Object.keys(channels).sort()).toEqual(["sequence:s", "sequence:s:1", "sequence:s:reply"]);
    expect(channels["sequence:s"].triggers[0]).toMatchObject({ subscriberUri: "https://a.ns.svc.example", reply: { namespace: "ns", name: "sequence:s:1" } });
    expect(channels["sequence:s:1"].triggers[0]).toMatchObject({
      subscriberUri: "https://b.ns.svc.example",
      delivery: { retry: 2 },
      reply: { namespace: "ns", name: "sequence:s:reply" },
    });
    expect(channels["sequence:s:reply"].triggers[0]).toMatchObject({ subscriberUri: "https://done.example", reply: null });
    // The address deduplicates as a broker's ingress does; inner hops do not.
    expect(channels["sequence:s"].dedupWindowMs).toBeGreaterThan(0);
    expect(channels["sequence:s:1"].dedupWindowMs).toBe(0);
  });

  it("a Parallel: a filter's reply enters its branch, a branch without one gets every event; a Broker reply is ingested directly", () => {
    const broker = { ref: { apiVersion: "eventing.knative.dev/v1", kind: "Broker", name: "default" } };
    const par = m(
      "Parallel",
      {
        branches: [
          { filter: svc("f"), subscriber: svc("a") },
          { subscriber: svc("b"), reply: { uri: "https://hook.example/x" } },
        ],
        reply: broker,
      },
      "p",
    );
    const channels = Object.fromEntries(compositionChannels(par, ctx).map((c) => [c.entry.name, c.config]));
    expect(channels["parallel:p"].triggers.map((t) => [t.name, t.subscriberUri, t.reply])).toEqual([
      ["branch-0", "https://f.ns.svc.example", { namespace: "ns", name: "parallel:p:0" }],
      ["branch-1", "https://r.example/ns/parallel:p:1", null],
    ]);
    expect(channels["parallel:p:0"].triggers[0].reply).toEqual({ namespace: "ns", name: "default" });
    expect(channels["parallel:p:1"].triggers[0].reply).toEqual({ namespace: "ns", name: "parallel:p:1:reply" });
  });

  it("refs resolve to addresses: a flow to its channel, a transform to its bound expression, a transform's transform sink to that one's channel", () => {
    const transforms = {
      "ns/t": transformSpecOf(
        m(
          "EventTransform",
          { jsonata: { expression: "$" }, sink: { ref: { apiVersion: "eventing.knative.dev/v1alpha1", kind: "EventTransform", name: "u" } } },
          "t",
        ) as never,
        ctx,
      ),
    };
    const t = resolveDestination({ ref: { apiVersion: "eventing.knative.dev/v1alpha1", kind: "EventTransform", name: "t" } }, "ns", { ...ctx, transforms });
    expect(t).toEqual({
      kind: "transform",
      namespace: "ns",
      name: "t",
      spec: { expression: "$", sink: { kind: "broker", namespace: "ns", name: "eventtransform:u" } },
    });
    expect(targetUrl(t, ctx.baseUrl)).toBe("https://r.example/eventtransforms/ns/t");
    const seq = resolveDestination({ ref: { apiVersion: "flows.knative.dev/v1", kind: "Sequence", name: "s" } }, "ns", ctx);
    expect(seq).toEqual({ kind: "broker", namespace: "ns", name: "sequence:s" });
    expect(targetUrl(seq, ctx.baseUrl)).toBe("https://r.example/sequences/ns/s");
    // The router's own address, as a URL, is delivered inside the router.
    expect(resolveDestination({ uri: "https://R.example:443/parallels/ns/p" }, "x", ctx)).toEqual({ kind: "broker", namespace: "ns", name: "parallel:p" });
  });
});
