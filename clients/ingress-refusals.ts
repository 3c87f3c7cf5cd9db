/**
 * Requests an EventPolicy refused: logged, and counted per broker and status for /metrics, tallied per
 * isolate and handed to the control plane at most once a second (clients/tally.ts).
 */
import { env } from "cloudflare:workers";
import type { IngestTarget, PolicyRefusal } from "../shared/contracts/ingest.ts";
import { control } from "./stubs.ts";
import { tally } from "./tally.ts";

type Count = [string, string, number, number];

const counts = tally<Count>(
  "refusal counts",
  (pending, key, [namespace, broker, code, n]) => pending.set(key, [namespace, broker, code, (pending.get(key)?.[3] ?? 0) + n]),
  (batch) => control(env as Env).countRefusals(batch),
);

/** Log and count a refusal; returns it. */
export function countRefusal(broker: IngestTarget, refusal: PolicyRefusal): PolicyRefusal {
  console.log(JSON.stringify({ level: "warn", msg: "ingress refused by EventPolicy", broker: `${broker.namespace}/${broker.name}`, status: refusal.status, reason: refusal.reason }));
  counts(JSON.stringify([broker.namespace, broker.name, refusal.status]), [broker.namespace, broker.name, refusal.status, 1]);
  return refusal;
}
