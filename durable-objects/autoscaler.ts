/** Scales one ScaledObject's target from the router's metrics. Being implemented: see issue 6. */
import { DurableObject } from "cloudflare:workers";
import type { Runner, RunnerInput } from "./runner.ts";

export class Autoscaler extends DurableObject<Env> implements Runner {
  async configure(_input: RunnerInput | null): Promise<void> {}
  async status(): Promise<Record<string, unknown>> {
    return {};
  }
}
