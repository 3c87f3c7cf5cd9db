import { describe, expect, it } from "vitest";
import { decodeStructured } from "../../../shared/cloudevents/index.ts";
import type { CloudEvent } from "../../../shared/cloudevents/event.ts";
import { compileJsonata, eventAsJson, transformEvent, valueAsEvent } from "../../../shared/transforms/jsonata.ts";
import { MAX_STEPS } from "../../../shared/transforms/jsonata-bounds.ts";

const event = decodeStructured(
  JSON.stringify({ specversion: "1.0", id: "1", source: "/s", type: "t", region: "eu", datacontenttype: "application/json", data: { n: 2 } }),
) as CloudEvent;

describe("JSONata transforms", () => {
  it("sees the event as structured JSON and requires a CloudEvent back", async () => {
    expect(eventAsJson(event)).toEqual({
      specversion: "1.0",
      id: "1",
      source: "/s",
      type: "t",
      region: "eu",
      datacontenttype: "application/json",
      data: { n: 2 },
    });
    const out = await transformEvent(compileJsonata('$merge([$, {"type": "t2", "data": {"m": data.n * 3}}])') as never, event);
    expect(out).toMatchObject({ attributes: { id: "1", type: "t2", region: "eu" }, data: { kind: "json", json: '{"m":6}' } });
    expect(valueAsEvent({ specversion: "1.0", id: "1", type: "t" })).toEqual({ error: expect.stringContaining("source") });
    expect(valueAsEvent(undefined)).toEqual({ error: expect.stringContaining("returned nothing") });
    expect(valueAsEvent([1])).toEqual({ error: expect.stringContaining("not a CloudEvent") });
  });

  it("reports a syntax error with its position, and bounds a run by evaluation steps", async () => {
    expect(compileJsonata("{ a: ")).toEqual({ error: expect.objectContaining({ kind: "parse", position: expect.any(Number) }) });
    const runaway = compileJsonata("( $f := function($i){ $i < 1e9 ? $f($i + 1) : $i }; $f(0) )") as never as { run(i: unknown): Promise<unknown> };
    expect(await runaway.run({})).toEqual({
      error: expect.objectContaining({ kind: "functionEvaluation", message: expect.stringContaining(`more than ${MAX_STEPS} evaluation steps`) }),
    });
    // The budget is per run: a compiled expression serves every event afresh.
    const small = compileJsonata("$sum([1..100])") as never as { run(i: unknown): Promise<unknown> };
    for (let i = 0; i < 3; i++) expect(await small.run({})).toEqual({ value: 5050 });
  });
});
