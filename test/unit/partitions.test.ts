import { describe, expect, it } from "vitest";
import type { CloudEvent } from "../../shared/cloudevents/event.ts";
import { fnv1a64, jumpHash, partitionObjectName, partitionOf } from "../../shared/partitions.ts";
import { deadLetterId, deadLetterRow, sumMetrics } from "../../shared/resources/broker-api.ts";

const event = (id: string, extra: Record<string, string> = {}): CloudEvent => ({
  attributes: { specversion: "1.0", id, source: "/s", type: "t", ...extra },
  data: undefined,
});

describe("partition hash", () => {
  it("is FNV-1a 64 and the published jump consistent hash", () => {
    expect(fnv1a64("").toString(16)).toBe("cbf29ce484222325");
    expect(fnv1a64("a").toString(16)).toBe("af63dc4c8601ec8c");
    expect(fnv1a64("foobar").toString(16)).toBe("85944171f73967e8");
    // Reference vectors of the algorithm (Lamping and Veach; the go-jump test table).
    expect(jumpHash(1n, 1)).toBe(0);
    expect(jumpHash(42n, 57)).toBe(43);
    expect(jumpHash(0xdead10ccn, 1)).toBe(0);
    expect(jumpHash(0xdead10ccn, 666)).toBe(361);
    expect(jumpHash(256n, 1024)).toBe(520);
  });

  it("routes by partitionkey when the event has one, else by (source, id)", () => {
    const keyed = Array.from({ length: 50 }, (_, i) => partitionOf(event(`id-${i}`, { partitionkey: "order-7" }), 8));
    expect(new Set(keyed).size).toBe(1);
    const spread = new Set(Array.from({ length: 200 }, (_, i) => partitionOf(event(`id-${i}`), 8)));
    expect(spread.size).toBe(8);
    expect(partitionOf(event("same"), 8)).toBe(partitionOf(event("same"), 8));
    expect(partitionOf(event("x", { partitionkey: "k" }), 1)).toBe(0);
  });

  it("spreads keys evenly and, when N grows, moves keys only to the new partitions", () => {
    const ids = Array.from({ length: 8000 }, (_, i) => event(`e-${i}`));
    const counts = new Array(8).fill(0);
    for (const e of ids) counts[partitionOf(e, 8)]++;
    for (const c of counts) expect(Math.abs(c - 1000)).toBeLessThan(150);
    let moved = 0;
    for (const e of ids) {
      const before = partitionOf(e, 4);
      const after = partitionOf(e, 8);
      if (after !== before) {
        moved++;
        expect(after).toBeGreaterThanOrEqual(4);
      }
    }
    expect(Math.abs(moved / ids.length - 0.5)).toBeLessThan(0.05);
  });

  it("keeps partition 0 under the broker's original object name", () => {
    expect(partitionObjectName("ns", "b", 0)).toBe("ns/b");
    expect(partitionObjectName("ns", "b", 3)).toBe("ns/b#3");
  });
});

describe("reading a partitioned broker", () => {
  it("sums counters, backlog, dead letters, in-flight and rate-limited over the partitions, and keeps each partition's own", () => {
    const m = sumMetrics([
      {
        backlog: 2,
        dead: 1,
        inflight: { t: 1 },
        rateLimited: { t: 4 },
        counters: [
          { trigger: "", name: "accepted", value: 5 },
          { trigger: "t", name: "delivered", value: 3 },
        ],
      },
      { backlog: 3, dead: 0, inflight: { t: 2, u: 1 }, rateLimited: { t: 5 }, counters: [{ trigger: "", name: "accepted", value: 7 }] },
    ]);
    expect(m).toEqual({
      backlog: 5,
      dead: 1,
      inflight: { t: 3, u: 1 },
      rateLimited: { t: 9 },
      counters: [
        { trigger: "", name: "accepted", value: 12 },
        { trigger: "t", name: "delivered", value: 3 },
      ],
      partitions: 2,
      byPartition: [
        { partition: 0, backlog: 2, dead: 1 },
        { partition: 1, backlog: 3, dead: 0 },
      ],
    });
  });

  it("gives dead letters one id across partitions that finds the partition again", () => {
    expect(deadLetterRow(deadLetterId(41, 0))).toEqual({ row: 41, partition: 0 });
    expect(deadLetterRow(deadLetterId(7, 255))).toEqual({ row: 7, partition: 255 });
    expect(deadLetterId(1, 3)).not.toBe(deadLetterId(3, 1));
  });
});
