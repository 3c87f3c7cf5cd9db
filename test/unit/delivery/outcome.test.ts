import { describe, expect, it } from "vitest";
import { decide } from "../../../shared/delivery/outcome.ts";
import { resolvePolicy } from "../../../shared/delivery/policy.ts";

const policy = resolvePolicy({ retry: 2, backoffPolicy: "linear", backoffDelay: "PT1S" }, undefined);
const fail = (status: number | null, body = "boom", retryAfterMs: number | null = null) => ({ ok: false as const, status, body, retryAfterMs });
const at = (phase: "subscriber" | "deadletter", attempt: number, hasDeadLetterSink = true) => ({
  phase,
  attempt,
  policy,
  hasDeadLetterSink,
  subscriberUri: "http://sub.example/x",
});

describe("delivery outcome decision", () => {
  it("a success settles the phase it was in", () => {
    expect(decide(at("subscriber", 0), { ok: true })).toEqual({ verdict: "delivered" });
    expect(decide(at("deadletter", 1), { ok: true })).toEqual({ verdict: "deadlettered" });
  });

  it("a retryable failure with attempts left retries after the policy's backoff (linear: delay * n)", () => {
    expect(decide(at("subscriber", 0), fail(503))).toEqual({ verdict: "retry", delayMs: 1000 });
    expect(decide(at("subscriber", 1), fail(null))).toEqual({ verdict: "retry", delayMs: 2000 });
    expect(decide(at("deadletter", 0), fail(429))).toEqual({ verdict: "retry", delayMs: 1000 });
  });

  it("exhausted or non-retryable subscriber failures go to the dead-letter sink with knativeerror* extensions", () => {
    const d = decide(at("subscriber", 2), fail(503, "down"));
    expect(d.verdict).toBe("to-dead-letter-sink");
    expect(d).toMatchObject({ extensions: { knativeerrordest: "http://sub.example/x", knativeerrorcode: 503 } });
    expect(decide(at("subscriber", 0), fail(400)).verdict).toBe("to-dead-letter-sink");
  });

  it("with no dead-letter sink left, the event is kept as failed with a reason naming who failed", () => {
    expect(decide(at("subscriber", 0, false), fail(400, "bad input"))).toEqual({ verdict: "failed", reason: "subscriber failed: 400 bad input" });
    expect(decide(at("deadletter", 2), fail(null, "dispatch error: refused"))).toEqual({
      verdict: "failed",
      reason: "dead-letter sink failed: no response dispatch error: refused",
    });
  });
});
