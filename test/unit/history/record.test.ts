import { describe, expect, it } from "vitest";
import {
  ATTEMPTS_KEPT,
  eventRecord,
  keepLatest,
  type StoredAttempt,
  type StoredDelivery,
  type StoredHistory,
  storedSegmentHistory,
} from "../../../shared/history/record.ts";

const attempts = (n: number): StoredAttempt[] => Array.from({ length: n }, (_, i) => [1_000 + i, 503, 5, `error ${i} ${"é".repeat(150)}`]);
const counted = (h: StoredHistory) => Object.values(h).map((d) => d.a.length + (d.o ?? 0));

describe("a segment's stored histories", () => {
  it("keep the latest attempts of a delivery and count the others", () => {
    const d: StoredDelivery = { s: "failed", a: attempts(ATTEMPTS_KEPT + 5) };
    keepLatest(d, ATTEMPTS_KEPT);
    expect(d.a).toHaveLength(ATTEMPTS_KEPT);
    expect(d.o).toBe(5);
    expect(d.a[0][0]).toBe(1_005);
    expect(eventRecord({ id: "x" }, 0, { t: d }).deliveries[0]).toMatchObject({ attemptsOmitted: 5 });
  });

  it("are stored whole when they fit, and in ever shorter forms when not, every attempt still counted", () => {
    const histories = Object.fromEntries(
      Array.from({ length: 200 }, (_, i) => [String(i), { t: { s: "failed" as const, a: attempts(11) }, u: { s: "delivered" as const, a: attempts(1) } }]),
    );
    const whole = storedSegmentHistory(histories, 10_000_000);
    expect(JSON.parse(whole)).toEqual(histories);
    for (const max of [400_000, 100_000, 20_000]) {
      const stored = JSON.parse(storedSegmentHistory(histories, max)) as Record<string, StoredHistory>;
      expect(new TextEncoder().encode(JSON.stringify(stored)).length).toBeLessThanOrEqual(max);
      for (const h of Object.values(stored)) expect(counted(h)).toEqual([11, 1]);
      expect(stored["0"].t.s).toBe("failed");
    }
    // Too small for even the shortest form: that form, the states and counts kept.
    expect(
      Object.values(JSON.parse(storedSegmentHistory(histories, 10)) as Record<string, StoredHistory>).every((h) => h.t.o === 11 && h.t.a.length === 0),
    ).toBe(true);
  });
});
