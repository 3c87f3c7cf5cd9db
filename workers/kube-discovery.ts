/**
 * The parts of the Kubernetes API that kubectl reads before it does anything (shared/kube-api): version,
 * discovery, OpenAPI v3, and core v1 events for `kubectl describe` (the router keeps no Kubernetes
 * events: the list is empty). Everything but `/version` goes through the API's authorization (workers/auth.ts), as the rest of the API.
 */
import { Hono } from "hono";
import { coreResources, coreVersions, groupList, namespaceObject, resourceList, versionInfo } from "../shared/kube-api/discovery.ts";
import { groupVersionDocument, openApiRoot } from "../shared/kube-api/openapi.ts";
import { isValidNamespace } from "../shared/resources/manifest.ts";
import { failure } from "../shared/resources/status.ts";

export const kubeDiscovery = new Hono<{ Bindings: Env }>();

const notFound = (what: string) => failure(404, "NotFound", `${what} not found`);

kubeDiscovery.get("/version", (c) => c.json(versionInfo()));

kubeDiscovery.get("/api", (c) => c.json(coreVersions()));
kubeDiscovery.get("/api/v1", (c) => c.json(coreResources()));
kubeDiscovery.get("/apis", (c) => c.json(groupList()));
kubeDiscovery.get("/apis/:group/:version", (c) => {
  const list = resourceList(c.req.param("group"), c.req.param("version"));
  return list ? c.json(list) : c.json(notFound(`${c.req.param("group")}/${c.req.param("version")}`), 404);
});
kubeDiscovery.get("/openapi/v3", (c) => c.json(openApiRoot()));
kubeDiscovery.get("/openapi/v3/apis/:group/:version", (c) => {
  const doc = groupVersionDocument(c.req.param("group"), c.req.param("version"));
  // The hash in the URL names this content: clients may cache it for good.
  return doc
    ? c.json(doc, 200, { "cache-control": "public, immutable, max-age=86400" })
    : c.json(notFound(`OpenAPI for ${c.req.param("group")}/${c.req.param("version")}`), 404);
});

const noEvents = (c: { json: (body: unknown) => Response }) => c.json({ kind: "EventList", apiVersion: "v1", metadata: {}, items: [] });
kubeDiscovery.get("/api/v1/events", (c) => noEvents(c));
kubeDiscovery.get("/api/v1/namespaces/:namespace/events", (c) =>
  isValidNamespace(c.req.param("namespace")) ? noEvents(c) : c.json(notFound("namespace"), 404),
);
kubeDiscovery.get("/api/v1/namespaces/:namespace", (c) => {
  const name = c.req.param("namespace");
  return isValidNamespace(name)
    ? c.json(namespaceObject(name))
    : c.json(failure(404, "NotFound", `namespaces "${name}" not found`, { name, kind: "namespaces" }), 404);
});
