/** ExpressionReview for CESQL: value, type and error as API.md §3 shows them. */
import { describe, expect, it } from "vitest";
import { reviewExpression } from "../../../shared/filters/review.ts";

const event = { attributes: { specversion: "1.0", id: "1", source: "/s", type: "t", exint: 42 } };

describe("ExpressionReview for CESQL", () => {
  it("returns the value with its type", () => {
    expect(reviewExpression("cesql", "exint + 1", event)).toEqual({ value: 43, type: "Integer", error: null });
    expect(reviewExpression("cesql", "UPPER(type)", event)).toEqual({ value: "T", type: "String", error: null });
  });

  it("returns the value together with the error and where it happened", () => {
    expect(reviewExpression("cesql", "RIGHT(source, -1)", event)).toEqual({
      value: "/s",
      type: "String",
      error: { kind: "functionEvaluation", message: "RIGHT: length -1 is negative (at position 0)" },
    });
    expect(reviewExpression("cesql", "exint / 0", event)).toEqual({
      value: 0,
      type: "Integer",
      error: { kind: "math", message: "division by zero (at position 6)" },
    });
  });

  it("reports compile errors as false with the position", () => {
    expect(reviewExpression("cesql", "type = ", event)).toEqual({
      value: false,
      type: "Boolean",
      error: { kind: "parse", message: "expected a value, found end of expression (at position 7)" },
    });
    expect(reviewExpression("cesql", "KONKAT('a')", event)).toEqual({
      value: false,
      type: "Boolean",
      error: { kind: "missingFunction", message: "no function KONKAT with 1 arguments (at position 0)" },
    });
  });
});
