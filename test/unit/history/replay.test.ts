import { describe, expect, it } from "vitest";
import { compileReplayFilter, replayPlan, replayStatus, replayTargets, validateReplay } from "../../../shared/history/replay.ts";
import type { StoredHistory } from "../../../shared/history/record.ts";
import { eventRecord } from "../../../shared/history/record.ts";

const manifest = (spec: Record<string, unknown>) => ({
  apiVersion: "edge-eventing.dev/v1alpha1",
  kind: "Replay",
  metadata: { name: "r", creationTimestamp: "2026-02-01T00:00:00Z" },
  spec,
});

describe("Replay spec", () => {
  it("names every invalid field", () => {
    const causes = validateReplay(manifest({ from: "monday", to: 5, triggers: [""], state: "lost", filters: [{ cesql: "(" }] }));
    expect(causes.map((c) => c.field)).toEqual(["spec.broker", "spec.from", "spec.to", "spec.triggers", "spec.state", "spec.filters[0].cesql"]);
    expect(validateReplay(manifest({ broker: "b", from: "2026-01-02T00:00:00Z", to: "2026-01-01T00:00:00Z" }))).toEqual([
      { field: "spec.to", message: "must not be before spec.from" },
    ]);
  });

  it("defaults to the creation time, every trigger and any state", () => {
    expect(replayPlan(manifest({ broker: "b", from: "2026-01-01T00:00:00Z" }) as never)).toEqual({
      name: "r",
      from: Date.UTC(2026, 0, 1),
      to: Date.UTC(2026, 1, 1),
      triggers: null,
      state: "any",
      filters: [],
    });
  });
});

describe("which deliveries a replay sends", () => {
  const history: StoredHistory = { a: { s: "failed", a: [] }, b: { s: "delivered", a: [] }, c: { s: "pending", a: [] }, gone: { s: "failed", a: [] } };
  const event = { attributes: { specversion: "1.0", id: "1", source: "/s", type: "order.created" }, data: undefined };
  const current = new Set(["a", "b", "c"]);
  const plan = (spec: Record<string, unknown>) => replayPlan(manifest({ broker: "b", from: "2026-01-01T00:00:00Z", ...spec }) as never);
  const targets = (spec: Record<string, unknown>) => {
    const p = plan(spec);
    return replayTargets(p, compileReplayFilter(p), event as never, history, current);
  };

  it("picks by state among the triggers the event matched that still exist; any means settled", () => {
    expect(targets({})).toEqual(["a", "b"]);
    expect(targets({ state: "failed" })).toEqual(["a"]);
    expect(targets({ triggers: ["b", "c"] })).toEqual(["b"]);
  });

  it("narrows by Knative filters", () => {
    expect(targets({ filters: [{ exact: { type: "order.created" } }] })).toEqual(["a", "b"]);
    expect(targets({ filters: [{ prefix: { type: "invoice." } }] })).toEqual([]);
  });

  it("reports Running, then Succeeded, or Failed when deliveries failed again", () => {
    expect(
      replayStatus([
        { matched: 4, delivered: 1, failed: 0, done: false },
        { matched: 2, delivered: 2, failed: 0, done: true },
      ]).conditions[0],
    ).toMatchObject({ status: "False", reason: "Running" });
    expect(replayStatus([{ matched: 2, delivered: 2, failed: 0, done: true }])).toMatchObject({
      matched: 2,
      delivered: 2,
      conditions: [{ status: "True", reason: "Succeeded" }],
    });
    expect(replayStatus([{ matched: 2, delivered: 1, failed: 1, done: true }]).conditions[0]).toMatchObject({ status: "False", reason: "Failed" });
  });

  it("says matchedIsLowerBound while a partition's count is one", () => {
    expect(
      replayStatus([
        { matched: 4, delivered: 1, failed: 0, done: false, matchedIsLowerBound: true },
        { matched: 2, delivered: 2, failed: 0, done: true },
      ]),
    ).toMatchObject({ matched: 6, matchedIsLowerBound: true });
    expect(replayStatus([{ matched: 2, delivered: 2, failed: 0, done: true }])).not.toHaveProperty("matchedIsLowerBound");
  });
});

describe("stored history", () => {
  it("shows attempts with their time, status, duration, error and marks", () => {
    const r = eventRecord({ id: "1" }, Date.UTC(2026, 0, 1), {
      t: {
        s: "delivered",
        a: [
          [Date.UTC(2026, 0, 1), 503, 12, "busy", "d"],
          [Date.UTC(2026, 0, 1, 0, 0, 1), 200, 3, null, "r:again"],
        ],
      },
    });
    expect(r).toEqual({
      event: { id: "1" },
      receivedAt: "2026-01-01T00:00:00.000Z",
      deliveries: [
        {
          trigger: "t",
          state: "delivered",
          attempts: [
            { at: "2026-01-01T00:00:00.000Z", status: 503, durationMs: 12, error: "busy", deadLetterSink: true },
            { at: "2026-01-01T00:00:01.000Z", status: 200, durationMs: 3, replay: "again" },
          ],
        },
      ],
    });
  });
});
