/** Requests an EventPolicy refused, counted per broker and status for /metrics (tallied as workers/write-behind.ts says). */
import { env } from "cloudflare:workers";
import { control } from "./context.ts";
import { writeBehind } from "./write-behind.ts";

type Count = [string, string, number, number];

const tally = writeBehind<Count>(
  "refusal counts",
  (pending, key, [namespace, broker, code, n]) => pending.set(key, [namespace, broker, code, (pending.get(key)?.[3] ?? 0) + n]),
  (batch) => control(env as Env).countRefusals(batch),
);

export function countRefusal(namespace: string, broker: string, code: 401 | 403): void {
  tally(JSON.stringify([namespace, broker, code]), [namespace, broker, code, 1]);
}
