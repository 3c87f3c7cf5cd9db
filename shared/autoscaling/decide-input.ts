/**
 * The `autoscale decide` input: a DeciderSpec, the ready pods when the decider starts, and one
 * observation per tick. Validation names the offending field.
 */
import { decide, newDeciderState, type DeciderSpec, type ScaleResult, type Tick } from "./decider.ts";
import type { FieldError } from "./scaled-object.ts";

export interface DecideObservation extends Tick {
  /** Knative's `Update`: replaces these spec fields from this tick on. */
  decider?: Partial<DeciderSpec>;
}

export interface DecideInput {
  decider: DeciderSpec;
  initialReadyPods: number;
  observations: DecideObservation[];
}

export type DecideOutput = ({ tSec: number } & ScaleResult)[];

/** Every observation is bounded so a malformed trace cannot run away. */
export const MAX_OBSERVATIONS = 1_000_000;

const NUMBER_FIELDS = [
  "targetValue",
  "totalValue",
  "targetBurstCapacity",
  "panicThreshold",
  "maxScaleUpRate",
  "maxScaleDownRate",
  "stableWindowSec",
  "scaleDownDelaySec",
  "activationScale",
] as const;

export function validateDeciderSpec(spec: unknown, path: string, partial = false): FieldError[] {
  if (!isObject(spec)) return [{ field: path, message: "must be an object" }];
  const errors: FieldError[] = [];
  const present = (k: string) => spec[k] !== undefined;
  if (!partial || present("scalingMetric")) {
    if (spec.scalingMetric !== "concurrency" && spec.scalingMetric !== "rps")
      errors.push({ field: `${path}.scalingMetric`, message: 'must be "concurrency" or "rps"' });
  }
  for (const k of NUMBER_FIELDS) {
    if (partial && !present(k)) continue;
    if (typeof spec[k] !== "number" || !Number.isFinite(spec[k])) errors.push({ field: `${path}.${k}`, message: "must be a number" });
  }
  if (!partial || present("reachable")) {
    if (typeof spec.reachable !== "boolean") errors.push({ field: `${path}.reachable`, message: "must be a boolean" });
  }
  const positive = (k: string, min: number, text: string) => {
    if (typeof spec[k] === "number" && !(spec[k] >= min)) errors.push({ field: `${path}.${k}`, message: text });
  };
  positive("targetValue", 0.01, "must be >= 0.01");
  positive("stableWindowSec", 0, "must be >= 0");
  positive("scaleDownDelaySec", 0, "must be >= 0");
  positive("panicThreshold", 0, "must be >= 0");
  positive("totalValue", 0, "must be >= 0");
  positive("targetBurstCapacity", -1, "must be >= 0 or -1");
  for (const k of ["maxScaleUpRate", "maxScaleDownRate"]) {
    if (typeof spec[k] === "number" && !(spec[k] > 0)) errors.push({ field: `${path}.${k}`, message: "must be > 0" });
  }
  return errors;
}

export function validateDecideInput(input: unknown): FieldError[] {
  if (!isObject(input)) return [{ field: "", message: "input must be a JSON object" }];
  const errors = validateDeciderSpec(input.decider, "decider");
  if (!isCount(input.initialReadyPods)) errors.push({ field: "initialReadyPods", message: "must be an integer >= 0" });
  if (!Array.isArray(input.observations)) return [...errors, { field: "observations", message: "must be an array" }];
  if (input.observations.length > MAX_OBSERVATIONS) errors.push({ field: "observations", message: `at most ${MAX_OBSERVATIONS} observations` });
  for (const [i, o] of (input.observations as unknown[]).entries()) {
    const at = `observations[${i}]`;
    if (!isObject(o)) {
      errors.push({ field: at, message: "must be an object" });
      continue;
    }
    for (const k of ["tSec", "observedStable", "observedPanic"]) {
      if (typeof o[k] !== "number" || !Number.isFinite(o[k])) errors.push({ field: `${at}.${k}`, message: "must be a number" });
    }
    if (!isCount(o.readyPods)) errors.push({ field: `${at}.readyPods`, message: "must be an integer >= 0" });
    if (o.metricsAvailable !== undefined && typeof o.metricsAvailable !== "boolean")
      errors.push({ field: `${at}.metricsAvailable`, message: "must be a boolean" });
    if (o.decider !== undefined) errors.push(...validateDeciderSpec(o.decider, `${at}.decider`, true));
  }
  return errors;
}

/** Replays the observations through one decider; the decider starts at the first observation's time. */
export function runDecisions(input: DecideInput): DecideOutput {
  let spec = input.decider;
  let state = newDeciderState(spec, input.initialReadyPods, input.observations[0]?.tSec ?? 0);
  return input.observations.map((o) => {
    if (o.decider) spec = { ...spec, ...o.decider };
    const step = decide(spec, state, o);
    state = step.state;
    return { tSec: o.tSec, ...step.result };
  });
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isCount(v: unknown): v is number {
  return typeof v === "number" && Number.isInteger(v) && v >= 0;
}
