/** Requests an EventPolicy refused: logged, and counted per broker and status for /metrics (clients/tally.ts). */
import { env } from "cloudflare:workers";
import type { IngestTarget, PolicyRefusal } from "../shared/contracts/ingest.ts";
import { control } from "./stubs.ts";
import { Tally } from "./tally.ts";

const refusals = new Tally<[string, string, number]>((batch) => control(env as Env).countRefusals(batch), "refusal counts");

/** Log and count a refusal; returns it. */
export function countRefusal(broker: IngestTarget, refusal: PolicyRefusal): PolicyRefusal {
  console.log(JSON.stringify({ level: "warn", msg: "ingress refused by EventPolicy", broker: `${broker.namespace}/${broker.name}`, status: refusal.status, reason: refusal.reason }));
  refusals.add([broker.namespace, broker.name, refusal.status]);
  return refusal;
}
