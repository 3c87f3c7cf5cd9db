/** The decider spec of Knative's own autoscaler tests (knative/serving pkg/autoscaler/scaling/autoscaler_test.go). */
import type { DeciderSpec } from "../../shared/autoscaling/decider.ts";

/** Upstream's test spec: 75 % utilization, panic at 200 %, rates of 10, a 60 s stable window. */
export function upstreamSpec(targetValue: number, targetBurstCapacity: number, over: Partial<DeciderSpec> = {}): DeciderSpec {
  return {
    scalingMetric: "concurrency",
    targetValue,
    totalValue: targetValue / 0.75,
    targetBurstCapacity,
    panicThreshold: 2,
    maxScaleUpRate: 10,
    maxScaleDownRate: 10,
    stableWindowSec: 60,
    scaleDownDelaySec: 0,
    reachable: true,
    activationScale: 0,
    ...over,
  };
}
