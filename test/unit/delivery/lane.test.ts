import { describe, expect, it } from "vitest";
import { Lane, ORDERED_SCAN } from "../../../shared/delivery/lane.ts";

const never = () => false;

describe("a trigger's lane through the log", () => {
  it("starts events in order and keeps its cursor at the first one not finished", () => {
    const lane = new Lane(10);
    for (const pos of [10, 11, 12, 13]) lane.push({ pos, key: null });
    expect(lane.cursor()).toBe(10);
    expect(lane.take(2, false, never).start.map((e) => e.pos)).toEqual([10, 11]);
    lane.settle(11);
    expect(lane.cursor()).toBe(10); // 10 still in flight: a restart must send it again
    lane.settle(10);
    expect(lane.cursor()).toBe(12);
    expect(lane.take(5, false, never).start.map((e) => e.pos)).toEqual([12, 13]);
    lane.settle(12);
    lane.settle(13);
    expect(lane.cursor()).toBe(14);
    expect(lane.waiting + lane.inflight).toBe(0);
  });

  it("skips positions below its cursor: a restart's scan of the log adds only what was not handled", () => {
    const lane = new Lane(12);
    for (const pos of [10, 11, 12, 13]) lane.push({ pos, key: null });
    expect(lane.take(10, false, never).start.map((e) => e.pos)).toEqual([12, 13]);
  });

  it("ordered: one event per key in flight, and a key's later events never pass its earlier ones", () => {
    const lane = new Lane(0);
    const keys = ["a", "a", "b", "a", "c"];
    for (const [pos, key] of keys.entries()) lane.push({ pos, key });
    expect(lane.take(10, true, never).start.map((e) => e.pos)).toEqual([0, 2, 4]);
    expect(lane.take(10, true, never).start).toEqual([]); // a, b and c are in flight
    lane.settle(0);
    expect(lane.take(10, true, never).start.map((e) => e.pos)).toEqual([1]);
    expect(lane.holds("a")).toBe(true);
    lane.settle(1);
    expect(lane.take(10, true, never).start.map((e) => e.pos)).toEqual([3]);
    lane.settle(3);
    expect(lane.holds("a")).toBe(false);
  });

  it("ordered: a key held elsewhere (its earlier events wait in the retry table) is handed out as held, in order", () => {
    const lane = new Lane(0);
    for (const [pos, key] of ["a", "b", "a"].entries()) lane.push({ pos, key });
    const { start, held } = lane.take(10, true, (key) => key === "a");
    expect(start.map((e) => e.pos)).toEqual([1]);
    expect(held.map((e) => e.pos)).toEqual([0]); // the second "a" waits behind the first: it goes next time
    expect(lane.take(10, true, (key) => key === "a").held.map((e) => e.pos)).toEqual([2]);
    expect(lane.holds("a")).toBe(false);
    expect(lane.cursor()).toBe(1);
  });

  it("ordered: looks at a bounded number of waiting events per take", () => {
    const lane = new Lane(0);
    for (let pos = 0; pos <= ORDERED_SCAN + 1; pos++) lane.push({ pos, key: pos === ORDERED_SCAN + 1 ? "late" : "same" });
    expect(lane.take(10, true, never).start.map((e) => e.pos)).toEqual([0]);
    expect(lane.take(10, true, never).start).toEqual([]); // "late" is beyond the scan while "same" blocks
  });

  it("clear gives every position it held, waiting or in flight", () => {
    const lane = new Lane(0);
    for (const pos of [0, 1, 2]) lane.push({ pos, key: null });
    lane.take(1, false, never);
    expect(lane.clear().sort()).toEqual([0, 1, 2]);
    expect(lane.waiting + lane.inflight).toBe(0);
  });
});
