import { describe, expect, it } from "vitest";
import { parseDuration } from "../../../shared/delivery/duration.ts";
import { errorExtensions, isRetryable, parseRetryAfter, resolvePolicy, retryDelayMs, validateDelivery } from "../../../shared/delivery/policy.ts";
import { childTraceparent, isTraceparent } from "../../../shared/delivery/trace.ts";

describe("ISO 8601 durations", () => {
  it.each([
    ["PT0.2S", 200],
    ["PT1M30S", 90_000],
    ["P1DT1H", 90_000_000],
    ["PT0S", 0],
    ["P1W", 604_800_000],
  ])("%s = %i ms", (text, ms) => expect(parseDuration(text)).toBe(ms));
  it.each(["", "P", "PT", "1S", "PT-1S", "P1Y", "P1M", "soon"])("refuses %j", (text) => expect(parseDuration(text)).toBeNull());
});

describe("delivery policy", () => {
  it("uses the trigger's delivery whole, else the broker's, else Knative's default", () => {
    expect(resolvePolicy({ retry: 2 }, { retry: 7, backoffDelay: "PT1S" })).toMatchObject({ retry: 2, backoffDelayMs: 0 });
    expect(resolvePolicy(undefined, { retry: 7, backoffDelay: "PT1S" })).toMatchObject({ retry: 7, backoffDelayMs: 1000 });
    expect(resolvePolicy(undefined, undefined)).toMatchObject({
      retry: 10,
      backoffPolicy: "exponential",
      backoffDelayMs: 200,
      format: "binary",
      timeoutMs: 60_000,
    });
  });

  it("waits delay*n (linear) or delay*2^n (exponential) before retry n, capped by backoffMax", () => {
    const linear = resolvePolicy({ backoffPolicy: "linear", backoffDelay: "PT1S" }, undefined);
    expect([1, 2, 3].map((n) => retryDelayMs(linear, n, 500, null))).toEqual([1000, 2000, 3000]);
    const exp = resolvePolicy({ backoffPolicy: "exponential", backoffDelay: "PT1S", backoffMax: "PT5S" }, undefined);
    expect([1, 2, 3].map((n) => retryDelayMs(exp, n, 500, null))).toEqual([2000, 4000, 5000]);
  });

  it("honours Retry-After on 429 and 503 only when retryAfterMax is set, up to that cap", () => {
    const off = resolvePolicy({ backoffPolicy: "linear", backoffDelay: "PT1S" }, undefined);
    expect(retryDelayMs(off, 1, 429, 30_000)).toBe(1000);
    const on = resolvePolicy({ backoffPolicy: "linear", backoffDelay: "PT1S", retryAfterMax: "PT10S" }, undefined);
    expect(retryDelayMs(on, 1, 429, 30_000)).toBe(10_000);
    expect(retryDelayMs(on, 1, 503, 4_000)).toBe(4_000);
    expect(retryDelayMs(on, 1, 500, 4_000)).toBe(1000);
  });

  it("parses Retry-After as seconds or an HTTP date", () => {
    expect(parseRetryAfter("7", 0)).toBe(7000);
    expect(parseRetryAfter("Wed, 21 Oct 2015 07:28:10 GMT", Date.parse("Wed, 21 Oct 2015 07:28:00 GMT"))).toBe(10_000);
    expect(parseRetryAfter("later", 0)).toBeNull();
  });

  it("retries exactly Knative's retryable answers", () => {
    expect([null, 500, 502, 503, 404, 408, 409, 429].every(isRetryable)).toBe(true);
    expect([400, 401, 403, 405, 410, 413, 422, 301, 100].some(isRetryable)).toBe(false);
  });

  it("validates every field with its path", () => {
    const causes = validateDelivery(
      { retry: 1.5, backoffPolicy: "x", backoffDelay: "1s", timeout: "PT11M", retryAfterMax: "P", format: "xml" },
      "spec.delivery",
    );
    expect(causes.map((c) => c.field)).toEqual([
      "spec.delivery.retry",
      "spec.delivery.backoffPolicy",
      "spec.delivery.backoffDelay",
      "spec.delivery.timeout",
      "spec.delivery.retryAfterMax",
      "spec.delivery.format",
    ]);
  });
});

describe("dead-letter extensions", () => {
  it("carries destination, code and the base64 of at most 768 body bytes", () => {
    const ext = errorExtensions("https://svc/x", 503, "x".repeat(2000));
    expect(ext.knativeerrordest).toBe("https://svc/x");
    expect(ext.knativeerrorcode).toBe(503);
    expect(atob(String(ext.knativeerrordata))).toBe("x".repeat(768));
    expect(String(ext.knativeerrordata).length).toBe(1024);
  });
  it("uses 500 when there was no answer", () => {
    expect(errorExtensions("u", null, "dispatch error: refused")).toMatchObject({ knativeerrorcode: 500, knativeerrordata: btoa("dispatch error: refused") });
  });
});

describe("trace context", () => {
  it("continues a valid trace with a new span, or starts one", () => {
    const parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    const child = childTraceparent(parent);
    expect(child).toMatch(/^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-01$/);
    expect(child).not.toBe(parent);
    expect(isTraceparent(childTraceparent("garbage"))).toBe(true);
    expect(isTraceparent("00-00000000000000000000000000000000-00f067aa0ba902b7-01")).toBe(false);
  });
});

describe("backoff bound", () => {
  it("never waits more than a day, whatever the retry count", () => {
    const exp = resolvePolicy({ retry: 100, backoffPolicy: "exponential", backoffDelay: "PT1S" }, undefined);
    expect(retryDelayMs(exp, 100, 500, null)).toBe(86_400_000);
  });
});
