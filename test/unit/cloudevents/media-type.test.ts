import { describe, expect, it } from "vitest";
import { isJsonMediaType, isMediaType, MAX_MEDIA_TYPE_LENGTH, mediaTypeEssence } from "../../../shared/cloudevents/media-type.ts";

/** The security review's input: exponential for the old backtracking pattern (28 repetitions took ~3 s). */
const crafted = (n: number) => `a/b${"; ".repeat(n)}@`;

describe("media types (RFC 9110)", () => {
  it.each([
    "application/json",
    "text/plain; charset=utf-8",
    'text/plain;charset="utf-8"',
    'multipart/form-data; boundary="a\\"b c"',
    "application/cloudevents+json;charset=UTF-8",
    "a/b;",
    "a/b; ;x=y",
    "a/b\t;\tx=y",
  ])("accepts %j", (value) => expect(isMediaType(value)).toBe(true));

  it.each([
    "",
    "json",
    "a/",
    "/b",
    "a/b ",
    "a b/c",
    "a/b; x",
    "a/b; x=",
    "a/b; =y",
    'a/b; x="unterminated',
    'a/b; x="bad\\\u0001"',
    "a/b; x=y z",
    "a/b, c/d",
    crafted(32),
  ])("refuses %j", (value) => expect(isMediaType(value)).toBe(false));

  it("scans the crafted Content-Type of the security review in linear time", () => {
    const started = performance.now();
    for (const n of [28, 32, 64, 400]) expect(isMediaType(crafted(n))).toBe(false);
    // The old pattern needed more than 20 s for n = 32; a linear scan is far below this generous bound.
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it("refuses a media type longer than the documented limit before scanning it", () => {
    const parameters = "; x=y".repeat(300);
    expect(isMediaType(`a/b${parameters}`.slice(0, MAX_MEDIA_TYPE_LENGTH))).toBe(true);
    expect(isMediaType(`a/b${parameters}`)).toBe(false);
  });

  it("compares essences case-insensitively and knows JSON subtypes", () => {
    expect(mediaTypeEssence(" Application/JSON ; charset=utf-8")).toBe("application/json");
    expect(isJsonMediaType("application/vnd.api+json")).toBe(true);
    expect(isJsonMediaType("text/json; x=y")).toBe(true);
    expect(isJsonMediaType("application/xml")).toBe(false);
  });
});
