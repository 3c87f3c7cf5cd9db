import { describe, expect, it } from "vitest";
import { DedupIndex } from "../../../shared/delivery/dedup-index.ts";

describe("the dedup index", () => {
  it("knows a (source, id) pair within its window only", () => {
    const index = new DedupIndex();
    const key = DedupIndex.key("src", "1");
    index.add(key, 1_000);
    expect(index.has(key, 1_500, 1_000)).toBe(true);
    expect(index.has(DedupIndex.key("src", "2"), 1_500, 1_000)).toBe(false);
    expect(index.has(DedupIndex.key("src\u00001", ""), 1_500, 1_000)).toBe(false);
    expect(index.has(key, 2_000, 1_000)).toBe(false);
  });

  it("expires from the oldest, keeping a key accepted again later", () => {
    const index = new DedupIndex();
    const key = DedupIndex.key("s", "k");
    index.add(key, 0);
    index.add(DedupIndex.key("s", "other"), 10);
    index.add(key, 500); // accepted again once the window had passed
    index.expire(1_200, 1_000);
    expect(index.has(key, 1_200, 1_000)).toBe(true);
    expect(index.size).toBe(1);
    index.expire(1_500, 1_000);
    expect(index.size).toBe(0);
  });

  it("forgets a key whose write did not happen", () => {
    const index = new DedupIndex();
    const key = DedupIndex.key("s", "1");
    index.add(key, 0);
    index.remove(key);
    expect(index.has(key, 1, 1_000)).toBe(false);
  });
});

describe("the dedup index's byte budget", () => {
  it("forgets the oldest keys first once over its budget, whatever the window", () => {
    const index = new DedupIndex(10_000);
    for (let i = 0; i < 1_000; i++) index.add(DedupIndex.key("/s", `id-${i}`), i);
    expect(index.bytes).toBeLessThanOrEqual(10_000);
    expect(index.size).toBeLessThan(1_000);
    expect(index.has(DedupIndex.key("/s", "id-999"), 1_000, 60_000)).toBe(true);
    expect(index.has(DedupIndex.key("/s", "id-0"), 1_000, 60_000)).toBe(false);
  });

  it("counts a key by its length: large keys hold fewer entries in the same budget", () => {
    const index = new DedupIndex(100_000);
    for (let i = 0; i < 1_000; i++) index.add(DedupIndex.key("/s", `${i}-${"x".repeat(1_000)}`), i);
    expect(index.bytes).toBeLessThanOrEqual(100_000);
    expect(index.size).toBeLessThanOrEqual(100_000 / 2_000);
  });

  it("keeps a key added again within the same millisecond when its first add goes for the budget", () => {
    const key = DedupIndex.key("s", "k");
    const index = new DedupIndex(250); // room for two entries of this size
    index.add(key, 5);
    index.add(key, 5);
    index.add(DedupIndex.key("s", "j"), 5); // over the budget: the first add of `key` goes
    expect(index.has(key, 5, 1_000)).toBe(true);
    expect(index.size).toBe(2);
  });

  it("gives back the bytes of expired keys", () => {
    const index = new DedupIndex();
    index.add(DedupIndex.key("/s", "1"), 0);
    expect(index.bytes).toBeGreaterThan(0);
    index.expire(2_000, 1_000);
    expect(index.bytes).toBe(0);
  });
});
