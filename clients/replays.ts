/**
 * Replays as the control plane runs them (API.md §6): a Replay is started on every partition of its
 * broker when created, stopped when deleted, and its status is its partitions' progress summed.
 */
import { type ReplaySpec, replayPlan, type ReplayProgress, replayStatus } from "../shared/history/replay.ts";
import type { Manifest } from "../shared/resources/manifest.ts";
import { partitionStubs } from "./partitions.ts";

/** Start a stored Replay on every partition, or stop a deleted one. */
export async function pushReplay(env: Env, m: Manifest<ReplaySpec>, stored: boolean, partitions: number): Promise<void> {
  const stubs = partitionStubs(env, m.metadata.namespace!, m.spec.broker, partitions);
  await Promise.all(stubs.map((stub) => (stored ? stub.startReplay(replayPlan(m)) : stub.stopReplay(m.metadata.name))));
}

/** The status of a stored Replay, or of one a dry run only counts. */
export async function replayStatusOf(env: Env, m: Manifest<ReplaySpec>, partitions: number, dryRun: boolean): Promise<Record<string, unknown>> {
  const stubs = partitionStubs(env, m.metadata.namespace!, m.spec.broker, partitions);
  if (dryRun) {
    const counts = await Promise.all(stubs.map((stub) => stub.countReplay(replayPlan(m))));
    const matched = counts.reduce((n, c) => n + c.matched, 0);
    // Each partition counts within a scan budget: past it, `matched` is what was counted, at least.
    const complete = counts.every((c) => c.complete);
    return { observedGeneration: m.metadata.generation, matched, ...(complete ? {} : { matchedIsLowerBound: true }), delivered: 0, failed: 0 };
  }
  const parts = await Promise.all(stubs.map((stub) => stub.replayProgress(m.metadata.name)));
  return replayStatus(
    parts.filter((p): p is ReplayProgress => p !== null),
    m.metadata.generation,
  );
}
