import { describe, expect, it } from "vitest";
import { signCorrelation, verifyCorrelation } from "../../../shared/requestreply/correlation.ts";
import { Rendezvous } from "../../../shared/requestreply/rendezvous.ts";
import { requestReplyRoute, validateRequestReply } from "../../../shared/requestreply/spec.ts";

const rr = { namespace: "ns", name: "ask" };
const c = { id: "0f8fad5b-d9cb-469f-a165-70867728950e", replica: 3, expiresAt: 1_900_000_000_000 };

describe("correlation values", () => {
  it("verify with the key that signed them, for the RequestReply they were made for only", async () => {
    const value = await signCorrelation(["k1"], rr, c);
    expect(value).toMatch(/^0f8fad5b-d9cb-469f-a165-70867728950e:3:1900000000000:[A-Za-z0-9_-]{43}$/);
    expect(await verifyCorrelation(["k1"], rr, value, 8)).toEqual(c);
    expect(await verifyCorrelation(["k2"], rr, value, 8)).toBeNull();
    expect(await verifyCorrelation(["k1"], { namespace: "ns", name: "other" }, value, 8)).toBeNull();
  });

  it("verify with any listed key (rotation), and refuse every changed field", async () => {
    const value = await signCorrelation(["old"], rr, c);
    expect(await verifyCorrelation(["new", "old"], rr, value, 8)).toEqual(c);
    const [id, replica, expiresAt, mac] = value.split(":");
    for (const changed of [
      `${id.replace("0f8f", "1f8f")}:${replica}:${expiresAt}:${mac}`,
      `${id}:2:${expiresAt}:${mac}`,
      `${id}:${replica}:1900000000001:${mac}`,
      `${id}:${replica}:${expiresAt}:${mac.slice(0, -1)}${mac.endsWith("A") ? "B" : "A"}`,
    ]) {
      expect(await verifyCorrelation(["old"], rr, changed, 8)).toBeNull();
    }
    expect(await verifyCorrelation(["old"], rr, value, 3)).toBeNull(); // a replica that does not exist
    expect(await verifyCorrelation(["old"], rr, 42, 8)).toBeNull();
  });
});

describe("the rendezvous", () => {
  const limits = { maxWaiting: 2, maxRemembered: 10 };

  it("answers a waiting request once, then calls further replies duplicates", async () => {
    const r = new Rendezvous<string>(limits);
    const waiting = r.wait("a", 100, 0);
    expect(r.deliver("a", 100, "reply", 1)).toBe("delivered");
    expect(await waiting).toBe("reply");
    expect(r.deliver("a", 100, "again", 2)).toBe("duplicate");
  });

  it("holds a reply that comes before its request's wait", async () => {
    const r = new Rendezvous<string>(limits);
    expect(r.deliver("a", 100, "early", 1)).toBe("held");
    expect(r.deliver("a", 100, "early twice", 1)).toBe("duplicate");
    expect(await r.wait("a", 100, 2)).toBe("early");
  });

  it("ends a request at its deadline with null, and a reply after it is late", async () => {
    const r = new Rendezvous<string>(limits);
    const waiting = r.wait("a", 100, 0);
    expect(r.nextExpiry()).toBe(100);
    r.expire(100);
    expect(await waiting).toBeNull();
    expect(r.deliver("a", 100, "late", 101)).toBe("late");
    expect(r.deliver("b", 200, "for nobody yet", 150)).toBe("held");
  });

  it("refuses more waiting requests than its limit, and a cancelled request's reply is late", async () => {
    const r = new Rendezvous<string>(limits);
    const a = r.wait("a", 100, 0);
    r.wait("b", 100, 0);
    expect(r.wait("c", 100, 0)).toBe("full");
    expect(r.deliver("c", 100, "reply", 1)).toBe("late");
    r.cancel("a", 10);
    expect(await a).toBeNull();
    expect(r.deliver("a", 100, "reply", 11)).toBe("late");
  });
});

describe("the RequestReply manifest", () => {
  const manifest = (spec: Record<string, unknown>) =>
    ({ apiVersion: "eventing.knative.dev/v1alpha1", kind: "RequestReply", metadata: { name: "ask", namespace: "ns" }, spec }) as never;

  it("takes Knative's defaults", () => {
    const m = manifest({ brokerRef: { kind: "Broker", name: "b" } });
    expect(validateRequestReply(m)).toEqual([]);
    expect(requestReplyRoute(m)).toEqual({ broker: "b", correlationAttribute: "correlationid", replyAttribute: "replyid", timeoutMs: 30_000 });
  });

  it("names every bad field", () => {
    const causes = validateRequestReply(
      manifest({
        brokerRef: { kind: "Broker", name: "b", namespace: "other" },
        correlationAttribute: "same",
        replyAttribute: "same",
        timeout: "PT0S",
        delivery: { deadLetterSink: { uri: "https://x.example" } },
      }),
    );
    expect(causes.map((c) => c.field)).toEqual(["spec.brokerRef.namespace", "spec.timeout", "spec.delivery.deadLetterSink"]);
    expect(validateRequestReply(manifest({ brokerRef: { name: "b" }, correlationAttribute: "same", replyAttribute: "same" })).map((c) => c.field)).toEqual([
      "spec.replyAttribute",
    ]);
  });
});
