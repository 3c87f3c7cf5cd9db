/**
 * Knative's `autoscaling.knative.dev/*` annotations (and ACK's `pod-buffer-size`, `gc-time`),
 * parsed and range-checked as Knative's admission webhook does. Defaults are config-autoscaler's.
 */
import { parseGoDuration } from "./go-duration.ts";
import type { FieldError } from "./scaled-object.ts";

export const PREFIX = "autoscaling.knative.dev/";

export interface KnativeTuning {
  /** Per-pod target before utilization; undefined: the metric's default (100 concurrency, 200 rps). */
  target?: number;
  utilization: number;
  stableWindowSec: number;
  panicWindowPercentage: number;
  panicThreshold: number;
  scaleDownDelaySec: number;
  targetBurstCapacity: number;
  minScale?: number;
  maxScale?: number;
  initialScale: number;
  activationScale: number;
  scaleToZeroRetentionSec: number;
  podBufferSize: number;
}

const HOUR = 3600;

type Parse = (raw: string) => number | null;
const num: Parse = (raw) => (raw.trim() !== "" && Number.isFinite(Number(raw)) ? Number(raw) : null);
const int: Parse = (raw) => (/^\d+$/.test(raw) ? Number(raw) : null);
const duration: Parse = (raw) => parseGoDuration(raw);
/** ACK's gc-time: a Go duration, or a bare integer taken as seconds (documented assumption). */
const durationOrSeconds: Parse = (raw) => (/^\d+$/.test(raw) ? Number(raw) : parseGoDuration(raw));

interface Rule {
  key: string;
  parse: Parse;
  valid: (v: number) => boolean;
  expect: string;
}
const RULES: Rule[] = [
  { key: "target", parse: num, valid: (v) => v >= 0.01, expect: "a number >= 0.01" },
  { key: "target-utilization-percentage", parse: num, valid: (v) => v > 0 && v <= 100, expect: "a number in (0, 100]" },
  { key: "window", parse: duration, valid: (v) => Number.isInteger(v) && v >= 6 && v <= HOUR, expect: "a duration of whole seconds in [6s, 1h]" },
  { key: "panic-window-percentage", parse: num, valid: (v) => v >= 1 && v <= 100, expect: "a number in [1, 100]" },
  { key: "panic-threshold-percentage", parse: num, valid: (v) => v >= 110 && v <= 1000, expect: "a number in [110, 1000]" },
  { key: "scale-down-delay", parse: duration, valid: (v) => Number.isInteger(v) && v >= 0 && v <= HOUR, expect: "a duration of whole seconds in [0s, 1h]" },
  { key: "gc-time", parse: durationOrSeconds, valid: (v) => Number.isInteger(v) && v >= 0 && v <= HOUR, expect: "a duration (or seconds) in [0s, 1h]" },
  { key: "target-burst-capacity", parse: num, valid: (v) => v >= 0 || v === -1, expect: "a number >= 0, or -1" },
  { key: "min-scale", parse: int, valid: () => true, expect: "an integer >= 0" },
  { key: "max-scale", parse: int, valid: () => true, expect: "an integer >= 0" },
  { key: "initial-scale", parse: int, valid: () => true, expect: "an integer >= 0" },
  { key: "activation-scale", parse: int, valid: (v) => v >= 2, expect: "an integer >= 2" },
  { key: "scale-to-zero-pod-retention-period", parse: duration, valid: (v) => v >= 0, expect: "a duration >= 0s" },
  { key: "pod-buffer-size", parse: int, valid: () => true, expect: "an integer >= 0" },
];

/** Parses every known annotation; errors name `metadata.annotations.<key>`. Unknown keys are ignored. */
export function knativeTuning(annotations: Record<string, string> | undefined): { tuning: KnativeTuning; errors: FieldError[] } {
  const errors: FieldError[] = [];
  const got: Record<string, number> = {};
  for (const rule of RULES) {
    const raw = annotations?.[PREFIX + rule.key];
    if (raw === undefined) continue;
    const field = `metadata.annotations.${PREFIX}${rule.key}`;
    const v = typeof raw === "string" ? rule.parse(raw) : null;
    if (v === null || !rule.valid(v)) errors.push({ field, message: `must be ${rule.expect}, got ${JSON.stringify(raw)}` });
    else got[rule.key] = v;
  }
  if (got["scale-down-delay"] !== undefined && got["gc-time"] !== undefined) {
    errors.push({ field: `metadata.annotations.${PREFIX}gc-time`, message: "set either scale-down-delay or gc-time, not both" });
  }
  const min = got["min-scale"],
    max = got["max-scale"];
  if (min !== undefined && max !== undefined && max > 0 && min > max) {
    errors.push({ field: `metadata.annotations.${PREFIX}min-scale`, message: `must be <= max-scale (${max})` });
  }
  const utilization = got["target-utilization-percentage"];
  const tuning: KnativeTuning = {
    target: got.target,
    utilization: utilization === undefined ? 0.7 : utilization / 100,
    stableWindowSec: got.window ?? 60,
    panicWindowPercentage: got["panic-window-percentage"] ?? 10,
    panicThreshold: (got["panic-threshold-percentage"] ?? 200) / 100,
    scaleDownDelaySec: got["scale-down-delay"] ?? got["gc-time"] ?? 0,
    targetBurstCapacity: got["target-burst-capacity"] ?? 211,
    minScale: min,
    maxScale: max,
    initialScale: got["initial-scale"] ?? 1,
    activationScale: got["activation-scale"] ?? 0,
    scaleToZeroRetentionSec: got["scale-to-zero-pod-retention-period"] ?? 0,
    podBufferSize: got["pod-buffer-size"] ?? 0,
  };
  return { tuning, errors };
}
