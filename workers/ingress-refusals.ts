/** Requests an EventPolicy refused, counted per broker and status for /metrics (workers/tally.ts). */
import { env } from "cloudflare:workers";
import { control } from "./context.ts";
import { Tally } from "./tally.ts";

const refusals = new Tally<[string, string, number]>((batch) => control(env as Env).countRefusals(batch), "refusal counts");

export function countRefusal(namespace: string, broker: string, code: 401 | 403): void {
  refusals.add([namespace, broker, code]);
}
