import { describe, expect, it } from "vitest";
import { nextTick, pingEvent, validatePingSource, PING_DATA_MAX_BYTES } from "../../../shared/sources/ping.ts";

const at = (iso: string) => Date.parse(iso);
const sink = { uri: "https://example.com/hook" };

describe("nextTick", () => {
  it("returns the next minute boundary strictly after the given instant", () => {
    expect(nextTick("*/5 * * * *", undefined, at("2024-05-01T12:01:30Z"))).toBe(at("2024-05-01T12:05:00Z"));
    expect(nextTick("*/5 * * * *", undefined, at("2024-05-01T12:05:00Z"))).toBe(at("2024-05-01T12:10:00Z"));
  });

  it("applies the IANA timezone, including daylight saving time", () => {
    // 09:00 in Madrid is 08:00Z in winter (CET) and 07:00Z in summer (CEST).
    expect(nextTick("0 9 * * *", "Europe/Madrid", at("2024-01-10T00:00:00Z"))).toBe(at("2024-01-10T08:00:00Z"));
    expect(nextTick("0 9 * * *", "Europe/Madrid", at("2024-07-10T00:00:00Z"))).toBe(at("2024-07-10T07:00:00Z"));
  });

  it("accepts an optional leading seconds field and descriptors", () => {
    expect(nextTick("*/10 * * * * *", undefined, at("2024-05-01T12:00:01Z"))).toBe(at("2024-05-01T12:00:10Z"));
    expect(nextTick("@hourly", undefined, at("2024-05-01T12:00:01Z"))).toBe(at("2024-05-01T13:00:00Z"));
  });

  it("rejects @every as Knative does", () => {
    expect(() => nextTick("@every 1m", undefined, 0)).toThrow(/@every/);
  });
});

describe("validatePingSource", () => {
  it("accepts a Knative sample manifest", () => {
    expect(
      validatePingSource({ schedule: "*/2 * * * *", timezone: "Europe/Madrid", contentType: "application/json", data: '{"message": "Hello world!"}', sink }),
    ).toEqual([]);
  });

  it("defaults an absent schedule instead of refusing it", () => {
    expect(validatePingSource({ sink })).toEqual([]);
  });

  it("lists every problem with its field", () => {
    const errors = validatePingSource({ schedule: "61 * * * *", timezone: "Mars/Olympus", data: "x", dataBase64: "eA==" });
    expect(errors.map((e) => e.field).sort()).toEqual(["spec.data", "spec.schedule", "spec.sink", "spec.timezone"]);
    expect(errors.find((e) => e.field === "spec.data")?.message).toMatch(/mutually exclusive/);
  });

  it("requires a JSON object when contentType is application/json", () => {
    for (const data of ["[1,2]", "42", '"text"', "{not json"]) {
      expect(validatePingSource({ contentType: "application/json", data, sink })).toEqual([
        { field: "spec.data", message: "must be a JSON object when contentType is application/json" },
      ]);
    }
    expect(validatePingSource({ contentType: "application/json", dataBase64: btoa("[1]"), sink })[0].field).toBe("spec.dataBase64");
    expect(validatePingSource({ contentType: "text/plain", data: "[1,2]", sink })).toEqual([]);
  });

  it("requires dataBase64 to decode as padded base64", () => {
    expect(validatePingSource({ dataBase64: "aGVsbG8", sink })).toEqual([{ field: "spec.dataBase64", message: "is not valid base64" }]);
    expect(validatePingSource({ dataBase64: "aGVsbG8=", sink })).toEqual([]);
  });

  it("caps the payload size", () => {
    expect(validatePingSource({ data: "x".repeat(PING_DATA_MAX_BYTES + 1), sink })[0]).toEqual({
      field: "spec.data",
      message: `exceeds ${PING_DATA_MAX_BYTES} bytes`,
    });
  });

  it("checks ceOverrides extension names", () => {
    const errors = validatePingSource({ sink, ceOverrides: { extensions: { Bad_Name: "x", type: "y", ok: "z" } } });
    expect(errors.map((e) => e.field)).toEqual(["spec.ceOverrides.extensions.Bad_Name", "spec.ceOverrides.extensions.type"]);
  });

  it("names a field of the wrong type", () => {
    expect(validatePingSource({ schedule: 5, sink })).toEqual([{ field: "spec.schedule", message: "must be a string" }]);
    expect(validatePingSource([])).toEqual([{ field: "spec", message: "must be an object" }]);
  });
});

describe("pingEvent", () => {
  const source = {
    metadata: { namespace: "default", name: "heartbeat" },
    spec: { schedule: "* * * * *", contentType: "application/json", data: '{"beat":1}', sink },
  };
  const tick = at("2024-05-01T12:05:00Z");

  it("builds the Knative event for the tick", () => {
    const event = pingEvent(source, tick);
    expect(event.attributes).toEqual({
      specversion: "1.0",
      id: "2024-05-01T12:05:00.000Z",
      source: "/apis/v1/namespaces/default/pingsources/heartbeat",
      type: "dev.knative.sources.ping",
      time: "2024-05-01T12:05:00.000Z",
      datacontenttype: "application/json",
    });
    expect(event.data).toEqual({ kind: "json", json: '{"beat":1}' });
  });

  it("gives a re-fired tick the same id and the next tick another", () => {
    expect(pingEvent(source, tick).attributes.id).toBe(pingEvent(source, tick).attributes.id);
    expect(pingEvent(source, tick + 60_000).attributes.id).not.toBe(pingEvent(source, tick).attributes.id);
    expect(pingEvent(source, tick, (ms) => `beat-${ms}`).attributes.id).toBe(`beat-${tick}`);
  });

  it("decodes dataBase64 to the exact bytes and applies ceOverrides", () => {
    const event = pingEvent(
      { metadata: source.metadata, spec: { dataBase64: "AAEC/w==", contentType: "application/octet-stream", ceOverrides: { extensions: { team: "ops" } } } },
      tick,
    );
    expect(event.data).toEqual({ kind: "binary", bytes: new Uint8Array([0, 1, 2, 255]) });
    expect(event.attributes.team).toBe("ops");
  });

  it("sends no data when the spec has none", () => {
    const event = pingEvent({ metadata: source.metadata, spec: {} }, tick);
    expect(event.data).toBeUndefined();
    expect(event.attributes.datacontenttype).toBeUndefined();
  });
});
