/**
 * What a management request asks, as the API server's RequestInfoFactory reads it from the method and
 * path (`/apis/{group}/{version}/[namespaces/{ns}/]{resource}[/{name}[/{subresource}]]`, `/api/{version}/...`
 * for the core group; any other path is a non-resource request), with the router's own paths mapped:
 * - a broker's history `/apis/edge-eventing.dev/v1alpha1/namespaces/{ns}/brokers/{b}/events` is the
 *   subresource `brokers/events` of group eventing.knative.dev, like the broker's other subresources
 *   (`live`, `metrics`, `deadletters`; a redelivery is `create` on `brokers/deadletters`);
 * - the event display `/display/{ns}/{name}` is `get` on `eventdisplays` of edge-eventing.dev.
 */
import type { Attributes } from "./rules.ts";

const VERBS: Record<string, string> = { POST: "create", GET: "get", HEAD: "get", PUT: "update", PATCH: "patch", DELETE: "delete" };

export function requestAttributes(method: string, pathname: string, query: URLSearchParams): Attributes {
  const verb = VERBS[method.toUpperCase()] ?? method.toLowerCase();
  const parts = pathname
    .split("/")
    .filter((p) => p !== "")
    .map((p) => decodeURIComponent(p));
  if (parts[0] === "display" && parts.length === 3)
    return { verb, apiGroup: "edge-eventing.dev", resource: "eventdisplays", namespace: parts[1], name: parts[2] };
  let rest: string[];
  let apiGroup: string;
  if (parts[0] === "apis" && parts.length >= 4) [apiGroup, rest] = [parts[1], parts.slice(3)];
  else if (parts[0] === "api" && parts.length >= 3) [apiGroup, rest] = ["", parts.slice(2)];
  else return { verb, path: pathname };
  let namespace: string | undefined;
  if (rest[0] === "namespaces" && rest.length > 1) {
    namespace = rest[1];
    // `/api/v1/namespaces/{ns}` is the namespace itself; anything after it is a resource of the namespace.
    if (rest.length > 2) rest = rest.slice(2);
  }
  const [resource, name, subresource] = rest;
  let v = verb;
  if (name === undefined && verb === "get") v = query.get("watch") === "true" || query.get("watch") === "1" ? "watch" : "list";
  if (name === undefined && verb === "delete") v = "deletecollection";
  if (apiGroup === "edge-eventing.dev" && resource === "brokers") apiGroup = "eventing.knative.dev";
  return {
    verb: v,
    apiGroup,
    resource,
    ...(subresource ? { subresource } : {}),
    ...(namespace !== undefined ? { namespace } : {}),
    ...(name !== undefined ? { name } : {}),
  };
}
