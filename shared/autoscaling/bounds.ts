/**
 * What Knative's PA reconciler does with a decision (`kpa/scaler.go`): min/max scale, initial
 * scale until first reached, and the scale-to-zero gates. Plus ACK's pod-buffer-size.
 */
export interface ScaleBounds {
  minScale: number;
  /** 0: unbounded. */
  maxScale: number;
  initialScale: number;
  /** ACK `pod-buffer-size` (assumption): warm pods added to any non-zero decision. */
  podBufferSize: number;
  /**
   * Whether Knative's scale-to-zero gates (grace period, retention, a stable window active) hold the last
   * pod: for Knative Services only. KEDA scales other targets to minReplicaCount once no trigger has been
   * active for cooldownPeriod, which its own decision already reflects.
   */
  knativeScaleToZero: boolean;
  /** config-autoscaler `scale-to-zero-grace-period` (30 s). */
  scaleToZeroGraceSec: number;
  scaleToZeroRetentionSec: number;
  /** A target must have been active this long before it may go to zero. */
  stableWindowSec: number;
}

export interface BoundsState {
  /** The target reached its initial scale once; from then on only minScale holds. */
  initialized: boolean;
  activeSinceSec: number | null;
  zeroSinceSec: number | null;
}

export const newBoundsState = (): BoundsState => ({ initialized: false, activeSinceSec: null, zeroSinceSec: null });

export interface BoundsInput {
  tSec: number;
  desired: number;
  /** Replicas the target has now (spec.replicas, or ready pods). */
  current: number;
}

export function applyBounds(b: ScaleBounds, state: BoundsState, input: BoundsInput): { replicas: number; state: BoundsState } {
  const initialized = state.initialized || input.current >= b.initialScale;
  let min = b.minScale;
  if (!initialized && b.initialScale > min) min = b.initialScale;
  let replicas = input.desired > 0 ? input.desired + b.podBufferSize : 0;
  replicas = Math.max(replicas, min);
  if (b.maxScale > 0) replicas = Math.min(replicas, b.maxScale);

  const activeSinceSec = input.current > 0 ? (state.activeSinceSec ?? input.tSec) : null;
  let zeroSinceSec: number | null = null;
  if (b.knativeScaleToZero && replicas === 0 && input.current > 0) {
    // Knative holds one pod until the target was active a stable window and idle a grace period.
    zeroSinceSec = state.zeroSinceSec ?? input.tSec;
    const idleEnough = input.tSec - zeroSinceSec >= Math.max(b.scaleToZeroGraceSec, b.scaleToZeroRetentionSec);
    const activeEnough = input.tSec - (activeSinceSec ?? input.tSec) >= b.stableWindowSec;
    if (!idleEnough || !activeEnough) replicas = 1;
  }
  return { replicas, state: { initialized, activeSinceSec, zeroSinceSec } };
}
