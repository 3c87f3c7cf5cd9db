/** A RequestReply's status as Knative shows it: its address and audience, and Ready once its broker exists and its key can be read. */
import { condition, type Condition, type Manifest, readyCondition } from "../resources/manifest.ts";
import type { StatusContext } from "../resources/kinds.ts";
import { audienceOf } from "../policy/spec.ts";
import { requestReplyPath, requestReplyRoute, type RequestReplySpec, signingKeys } from "./spec.ts";

export function requestReplyStatus(m: Manifest<RequestReplySpec>, ctx: StatusContext): Record<string, unknown> {
  const route = requestReplyRoute(m);
  const conditions: Condition[] = [condition("Addressable", "True", "Addressable")];
  let ready = readyCondition(true, "RequestReplyReady");
  if (!ctx.exists("Broker", route.broker)) ready = readyCondition(false, "BrokerDoesNotExist", `Broker "${route.broker}" does not exist`);
  else {
    try {
      signingKeys(ctx.env, route);
    } catch (e) {
      ready = readyCondition(false, "SigningKeyMissing", (e as Error).message);
    }
  }
  return {
    conditions: [ready, ...conditions],
    address: {
      url: `${ctx.baseUrl}/${requestReplyPath(m.metadata.namespace!, m.metadata.name)}`,
      audience: audienceOf("RequestReply", m.metadata.namespace!, m.metadata.name),
    },
  };
}
