/** What the CLI makes of its arguments, manifests and events before anything is sent. */
import { describe, expect, it } from "vitest";
import { contextFrom, UsageError } from "../../../bin/cli/args.ts";
import { bearerFromProtocols, bearerProtocol } from "../../../shared/resources/broker-api.ts";
import { kindOfManifest, objectPath, resolveKind } from "../../../bin/cli/kinds.ts";
import { parseDocuments, targetOf } from "../../../bin/cli/manifests.ts";
import { encodeRequest, eventFromFlags, eventsFromJson } from "../../../bin/cli/send.ts";

const ctx = contextFrom({}, {});

describe("context", () => {
  it("takes flags over environment over defaults", () => {
    expect(contextFrom({}, {})).toEqual({ server: "http://127.0.0.1:8787", namespace: "default", namespaceGiven: false });
    expect(contextFrom({}, { EDGE_EVENTING_SERVER: "https://r.example/", EDGE_EVENTING_TOKEN: "t" })).toMatchObject({
      server: "https://r.example",
      token: "t",
    });
    expect(contextFrom({ server: "http://a:1", token: "f", namespace: "x" }, { EDGE_EVENTING_SERVER: "http://b", EDGE_EVENTING_TOKEN: "e" })).toEqual({
      server: "http://a:1",
      token: "f",
      namespace: "x",
      namespaceGiven: true,
    });
  });
  it("refuses a server that is not an http URL, naming the flag", () => {
    expect(() => contextFrom({ server: "router:8787" }, {})).toThrow(/--server: router:8787 must be an http or https URL/);
    expect(() => contextFrom({ server: "nope" }, {})).toThrow(UsageError);
  });
});

describe("kind names", () => {
  it("accepts Kind, singular, plural and plural.group", () => {
    for (const name of ["Trigger", "trigger", "triggers", "triggers.eventing.knative.dev"]) expect(resolveKind(name).info.plural).toBe("triggers");
    expect(objectPath(resolveKind("pingsource"), "ns", "p")).toBe("/apis/sources.knative.dev/v1/namespaces/ns/pingsources/p");
    expect(() => resolveKind("widgets")).toThrow(/unknown resource type "widgets"; known: brokers, triggers/);
  });
  it("skips other groups' kinds but refuses an unknown kind or version of a served group", () => {
    expect(kindOfManifest("serving.knative.dev/v1", "Service")).toEqual({
      foreign: true,
      why: "Service (serving.knative.dev/v1) is not served by edge-eventing",
    });
    expect(kindOfManifest("v1", "Namespace")).toMatchObject({ foreign: true });
    expect(kindOfManifest("eventing.knative.dev/v1", "Trigerr")).toEqual({ foreign: false, why: "eventing.knative.dev has no kind Trigerr" });
    expect(kindOfManifest("eventing.knative.dev/v1beta1", "Trigger")).toMatchObject({
      foreign: false,
      why: expect.stringContaining("served as eventing.knative.dev/v1"),
    });
  });
});

describe("manifests", () => {
  const text =
    "apiVersion: eventing.knative.dev/v1\nkind: Broker\nmetadata: {name: a, namespace: shop}\n---\n---\napiVersion: eventing.knative.dev/v1\nkind: Trigger\nmetadata: {name: t}\nspec: {broker: a}\n";
  it("reads every non-empty document with its origin", () => {
    const docs = parseDocuments(text, "f.yaml");
    expect(docs.map((d) => d.origin)).toEqual(["f.yaml#1", "f.yaml#2"]);
    expect(parseDocuments('{"kind":"List","items":[{"kind":"A"},{"kind":"B"}]}', "l.json").map((d) => d.origin)).toEqual([
      "l.json.items[0]",
      "l.json.items[1]",
    ]);
    expect(() => parseDocuments("a: [1", "x.yaml")).toThrow(/x.yaml: not valid YAML/);
    expect(() => parseDocuments("- 1\n- 2\n", "x.yaml")).toThrow(/x.yaml: a manifest must be a mapping/);
  });
  it("places a document in its own namespace, else -n, and refuses a conflict", () => {
    const [broker, trigger] = parseDocuments(text, "f.yaml");
    expect(targetOf(broker, ctx)).toMatchObject({ namespace: "shop", name: "a" });
    expect(targetOf(trigger, { ...ctx, namespace: "dev", namespaceGiven: true })).toMatchObject({ namespace: "dev", name: "t" });
    expect(targetOf(broker, { ...ctx, namespace: "dev", namespaceGiven: true })).toEqual({
      error: 'f.yaml#1: metadata.namespace: the namespace from the provided object "shop" does not match the namespace "dev"',
    });
    expect(targetOf({ origin: "o", value: { apiVersion: "eventing.knative.dev/v1", kind: "Broker", metadata: {} } }, ctx)).toEqual({
      error: "o: metadata.name: required",
    });
  });
});

describe("send", () => {
  it("builds an event from flags, JSON data as JSON", () => {
    const e = eventFromFlags({ type: "t", id: "1", data: '{"a":1}', ext: ["region=eu"] });
    expect(e.attributes).toEqual({ specversion: "1.0", id: "1", source: "edge-eventing/cli", type: "t", region: "eu", datacontenttype: "application/json" });
    expect(e.data).toEqual({ kind: "json", json: '{"a":1}' });
    expect(eventFromFlags({ type: "t", id: "2", data: "hello" }).attributes.datacontenttype).toBe("text/plain");
  });
  it("refuses a bad event locally, naming the field", () => {
    expect(() => eventFromFlags({})).toThrow(/--type is required/);
    expect(() => eventFromFlags({ type: "t", ext: ["Bad=1"] })).toThrow(/invalid event \(field Bad\)/);
    expect(() => eventFromFlags({ type: "t", ext: ["novalue"] })).toThrow(/--ext "novalue": expected NAME=VALUE/);
    expect(() =>
      eventsFromJson([
        { specversion: "1.0", id: "1", source: "/s", type: "t" },
        { specversion: "1.0", source: "/s", type: "t" },
      ]),
    ).toThrow(/field \[1\]\.id/);
  });
  it("encodes the three content modes of the HTTP binding", () => {
    const e = eventFromFlags({ type: "t", id: "1", source: "/s", data: '{"a":1}' });
    const binary = encodeRequest([e], "binary");
    expect(binary.headers).toMatchObject({ "ce-id": "1", "ce-type": "t", "ce-source": "/s", "content-type": "application/json" });
    expect(new TextDecoder().decode(binary.body as Uint8Array)).toBe('{"a":1}');
    const structured = encodeRequest([e], "structured");
    expect(structured.headers["content-type"]).toMatch(/^application\/cloudevents\+json/);
    expect(JSON.parse(structured.body as string)).toMatchObject({ id: "1", data: { a: 1 } });
    const batch = encodeRequest([e, e], "batch");
    expect(batch.headers["content-type"]).toBe("application/cloudevents-batch+json");
    expect(JSON.parse(batch.body as string)).toHaveLength(2);
    expect(() => encodeRequest([e, e], "binary")).toThrow(/use --mode batch/);
  });
});

describe("WebSocket bearer subprotocol", () => {
  it("round-trips any token in a header-safe form", () => {
    const token = "a+b/c=d é";
    const protocol = bearerProtocol(token);
    expect(protocol).toMatch(/^base64url\.bearer\.authorization\.k8s\.io\.[A-Za-z0-9_-]+$/);
    expect(bearerFromProtocols(`other, ${protocol}`)).toEqual({ token, protocol });
    expect(bearerFromProtocols("other")).toBeNull();
    expect(bearerFromProtocols(null)).toBeNull();
  });
});
