import { describe, expect, it } from "vitest";
import { decodeContinue, encodeContinue, mergePages, parseHistoryQuery, type PartitionPage, type PartitionRow } from "../../../shared/history/query.ts";

const parse = (q: string) => parseHistoryQuery(new URLSearchParams(q));

describe("history query", () => {
  it("reads every field, times as epoch ms, with the default limit", () => {
    expect(parse("id=a&source=/s&type=t&subject=x&since=2026-01-02T03:04:05Z&until=2026-01-02T04:04:05.5%2B01:00&trigger=tr&state=failed")).toEqual({
      query: {
        id: "a",
        source: "/s",
        type: "t",
        subject: "x",
        since: Date.UTC(2026, 0, 2, 3, 4, 5),
        until: Date.UTC(2026, 0, 2, 3, 4, 5, 500),
        trigger: "tr",
        state: "failed",
      },
      limit: 100,
    });
  });

  it("names every malformed field", () => {
    const r = parse("since=2026-01-02&until=tomorrow&state=gone&limit=0");
    expect("causes" in r && r.causes.map((c) => c.field)).toEqual(["since", "until", "state", "limit"]);
    expect(parse("since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z")).toEqual({ causes: [{ field: "until", message: "must not be before since" }] });
    expect("causes" in parse("limit=1001")).toBe(true);
  });

  it("accepts a token only for the query that issued it, whatever the limit", () => {
    const token = encodeContinue({ type: "t" }, [5, 0, null]);
    expect(decodeContinue(token, { type: "t" })).toEqual({ cursors: [5, 0, null] });
    expect(decodeContinue(token, { type: "u" })).toEqual({ error: expect.stringContaining("another query") });
    expect(decodeContinue("not a token", { type: "t" })).toEqual({ error: "the continue token is malformed" });
    expect(decodeContinue(encodeContinue({}, [-1]), {})).toEqual({ error: "the continue token is malformed" });
  });
});

describe("merging partitions' pages", () => {
  const row = (seq: number, arrivedAt: number): PartitionRow => ({ seq, arrivedAt, record: { event: { id: `${arrivedAt}` }, receivedAt: "", deliveries: [] } });

  const page = (...rows: PartitionRow[]): PartitionPage => ({ rows });

  it("takes the newest over all partitions and says where each continues, or that it is done", () => {
    const pages = [page(row(9, 90), row(8, 70), row(7, 50)), page(row(4, 80), row(3, 60)), page()];
    const { items, cursors } = mergePages(pages, [null, null, null], 3);
    expect(items.map((i) => i.event.id)).toEqual(["90", "80", "70"]);
    expect(cursors).toEqual([8, 4, 0]);
    const next = mergePages([page(row(7, 50)), page(row(3, 60)), page()], cursors, 3);
    expect(next.items.map((i) => i.event.id)).toEqual(["60", "50"]);
    expect(next.cursors).toEqual([0, 0, 0]);
  });

  it("keeps a partition's cursor when none of its rows were taken", () => {
    expect(mergePages([page(row(2, 10)), page(row(5, 99), row(4, 98))], [3, null], 2).cursors).toEqual([3, 4]);
  });

  it("a partition its scan budget stopped continues where it stopped; older rows of others wait for a later page", () => {
    // Partition 0 found nothing down to t=70 (positions 100 up), partition 1 has rows at 80 and 60.
    const first = mergePages([{ rows: [], stopped: { before: 100, at: 70 } }, page(row(4, 80), row(3, 60))], [null, null], 10);
    expect(first.items.map((i) => i.event.id)).toEqual(["80"]);
    expect(first.cursors).toEqual([100, 4]);
    // Then partition 0 finds a row at 65: it comes before partition 1's row at 60.
    const second = mergePages([page(row(50, 65)), page(row(3, 60))], first.cursors, 10);
    expect(second.items.map((i) => i.event.id)).toEqual(["65", "60"]);
    expect(second.cursors).toEqual([0, 0]);
  });

  it("a page may be empty and still continue, while a budget stops every partition", () => {
    const { items, cursors } = mergePages([{ rows: [], stopped: { before: 100, at: 70 } }], [null], 10);
    expect(items).toEqual([]);
    expect(cursors).toEqual([100]);
  });
});
