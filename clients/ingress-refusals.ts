/** Requests an EventPolicy refused: logged, and a broker's counted per broker and status for /metrics (clients/tally.ts). */
import { env } from "cloudflare:workers";
import type { Addressable, PolicyRefusal } from "../shared/contracts/ingest.ts";
import { control } from "./stubs.ts";
import { Tally } from "./tally.ts";

const refusals = new Tally<[string, string, number]>((batch) => control(env as Env).countRefusals(batch), "refusal counts");

/** Log a refusal, and count it when the target is a broker; returns it. */
export function countRefusal(target: Addressable, refusal: PolicyRefusal): PolicyRefusal {
  const at = `${target.namespace}/${target.name}`;
  console.log(
    JSON.stringify({
      level: "warn",
      msg: "ingress refused by EventPolicy",
      ...(target.kind === "Broker" ? { broker: at } : { [target.kind]: at }),
      status: refusal.status,
      reason: refusal.reason,
    }),
  );
  if (target.kind === "Broker") refusals.add([target.namespace, target.name, refusal.status]);
  return refusal;
}
