/**
 * The Replay kind (API.md §6): its spec checked, resolved into what a broker partition runs, and the choice
 * of which (event, trigger) pairs a replay sends again.
 */
import type { CloudEvent } from "../cloudevents/event.ts";
import type { FieldError } from "../delivery/policy.ts";
import { type CompiledFilter, compileTriggerFilter } from "../filters/knative.ts";
import type { Manifest } from "../resources/manifest.ts";
import { type Condition, readyCondition } from "../resources/manifest.ts";
import { parseRfc3339 } from "./query.ts";
import type { DeliveryState, StoredHistory } from "./record.ts";

export type ReplayState = "delivered" | "deadlettered" | "failed" | "any";
const REPLAY_STATES: readonly ReplayState[] = ["delivered", "deadlettered", "failed", "any"];
/** The outcomes `any` picks: settled deliveries (pending and retrying ones are still being sent). */
const SETTLED: readonly DeliveryState[] = ["delivered", "deadlettered", "failed", "dropped"];

export interface ReplaySpec {
  broker: string;
  from: string;
  to?: string;
  triggers?: string[];
  state?: ReplayState;
  filters?: unknown[];
}

/** What a broker partition runs: the spec resolved (times in epoch ms, `to` defaulted). */
export interface ReplayPlan {
  name: string;
  from: number;
  to: number;
  /** null: every trigger of the broker. */
  triggers: string[] | null;
  state: ReplayState;
  filters: unknown[];
}

/** A partition's progress, summed over partitions for the Replay's status. */
export interface ReplayProgress {
  matched: number;
  delivered: number;
  failed: number;
  done: boolean;
  /** `matched` counts only what was read so far (the start's count ran past its budget; exact once done). */
  matchedIsLowerBound?: boolean;
}

/** That the broker and the triggers a Replay names exist (`triggers`: the broker's trigger names, null when there is no broker). */
export function replayReferences(spec: ReplaySpec, triggers: string[] | null): FieldError[] {
  if (triggers === null) return [{ field: "spec.broker", message: `broker "${spec.broker}" does not exist` }];
  return (spec.triggers ?? []).flatMap((t, i) =>
    triggers.includes(t) ? [] : [{ field: `spec.triggers[${i}]`, message: `broker "${spec.broker}" has no trigger "${t}"` }],
  );
}

/** The spec's own checks (that the broker and triggers exist is the control plane's to check). */
export function validateReplay(m: Manifest): FieldError[] {
  const spec = (m.spec ?? {}) as Partial<Record<keyof ReplaySpec, unknown>>;
  const causes: FieldError[] = [];
  if (typeof spec.broker !== "string" || spec.broker === "") causes.push({ field: "spec.broker", message: "is required" });
  if (typeof spec.from !== "string" || parseRfc3339(spec.from) === null)
    causes.push({ field: "spec.from", message: "is required: an RFC 3339 timestamp such as 2026-01-02T15:04:05Z" });
  if (spec.to !== undefined && (typeof spec.to !== "string" || parseRfc3339(spec.to) === null))
    causes.push({ field: "spec.to", message: "must be an RFC 3339 timestamp" });
  else if (typeof spec.from === "string" && typeof spec.to === "string" && parseRfc3339(spec.to)! < (parseRfc3339(spec.from) ?? -Infinity))
    causes.push({ field: "spec.to", message: "must not be before spec.from" });
  if (spec.triggers !== undefined && (!Array.isArray(spec.triggers) || !spec.triggers.every((t) => typeof t === "string" && t !== "")))
    causes.push({ field: "spec.triggers", message: "must be a list of trigger names" });
  if (spec.state !== undefined && !REPLAY_STATES.includes(spec.state as ReplayState))
    causes.push({ field: "spec.state", message: `must be one of ${REPLAY_STATES.join(", ")}` });
  const compiled = compileTriggerFilter({ filters: spec.filters as unknown[] | undefined });
  if ("causes" in compiled) causes.push(...compiled.causes);
  return causes;
}

/** The plan of a valid Replay; `to` defaults to its creation time. */
export function replayPlan(m: Manifest<ReplaySpec>): ReplayPlan {
  const { spec } = m;
  return {
    name: m.metadata.name,
    from: parseRfc3339(spec.from)!,
    to: spec.to === undefined ? Date.parse(m.metadata.creationTimestamp ?? new Date().toISOString()) : parseRfc3339(spec.to)!,
    triggers: spec.triggers ?? null,
    state: spec.state ?? "any",
    filters: spec.filters ?? [],
  };
}

export function compileReplayFilter(plan: ReplayPlan): CompiledFilter {
  const compiled = compileTriggerFilter({ filters: plan.filters });
  return "filter" in compiled ? compiled.filter : () => "fail";
}

/**
 * The triggers this event is sent to again: those it matched when it arrived, among the plan's and the
 * broker's current ones, whose delivery ended in the plan's state, when the plan's filters pass it.
 */
export function replayTargets(
  plan: ReplayPlan,
  filter: CompiledFilter,
  event: CloudEvent,
  history: StoredHistory,
  current: { has(trigger: string): boolean },
): string[] {
  const picked = Object.entries(history)
    .filter(([trigger]) => current.has(trigger) && (plan.triggers === null || plan.triggers.includes(trigger)))
    .filter(([, d]) => (plan.state === "any" ? SETTLED.includes(d.s) : d.s === plan.state))
    .map(([trigger]) => trigger);
  if (picked.length === 0) return [];
  try {
    return filter(event) === "fail" ? [] : picked;
  } catch {
    return [];
  }
}

/** A Replay's status from its partitions' progress (API.md §6). */
export function replayStatus(
  parts: ReplayProgress[],
  observedGeneration?: number,
): { observedGeneration?: number; conditions: Condition[]; matched: number; matchedIsLowerBound?: true; delivered: number; failed: number } {
  const sum = (k: "matched" | "delivered" | "failed") => parts.reduce((n, p) => n + p[k], 0);
  const matched = sum("matched");
  const delivered = sum("delivered");
  const failed = sum("failed");
  const done = parts.length > 0 && parts.every((p) => p.done);
  const ready = !done
    ? readyCondition(false, "Running", `${delivered + failed} of ${matched} sent again`)
    : failed > 0
      ? readyCondition(false, "Failed", `${failed} of ${matched} deliveries failed again`)
      : readyCondition(true, "Succeeded", `${delivered} of ${matched} delivered`);
  const lowerBound = parts.some((p) => p.matchedIsLowerBound) ? { matchedIsLowerBound: true as const } : {};
  return { observedGeneration, conditions: [ready], matched, ...lowerBound, delivered, failed };
}
