/** Runs one source on its alarm (PingSource ticks, bridge long-poll loops). Being implemented: see issue 4. */
import { DurableObject } from "cloudflare:workers";
import type { Runner, RunnerInput } from "./runner.ts";

export class SourcePoller extends DurableObject<Env> implements Runner {
  async configure(_input: RunnerInput | null): Promise<void> {}
  async status(): Promise<Record<string, unknown>> {
    return {};
  }
}
