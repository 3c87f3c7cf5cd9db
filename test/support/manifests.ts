/** Manifests through the router's resource API, the same way in workerd and over HTTP. */
import { expect } from "vitest";
import { auth } from "./client.ts";

/** How a test reaches the router by path: its own worker in workerd, `wrangler dev` over HTTP in Node. */
export type RouterFetch = (path: string, init?: RequestInit) => Promise<Response>;

/** PUT a manifest (an object as JSON, a string as YAML) to `path`; the router's answer, whatever it is. */
export function putManifest(fetchRouter: RouterFetch, path: string, manifest: unknown): Promise<Response> {
  const yaml = typeof manifest === "string";
  return fetchRouter(path, {
    method: "PUT",
    headers: { ...auth, "content-type": yaml ? "application/yaml" : "application/json" },
    body: yaml ? manifest : JSON.stringify(manifest),
  });
}

/** PUT a manifest and fail the test, with the router's answer, unless it is accepted; the object stored. */
export async function applyManifest(fetchRouter: RouterFetch, path: string, manifest: unknown): Promise<any> {
  const r = await putManifest(fetchRouter, path, manifest);
  expect(r.status, await r.clone().text()).toBeLessThan(300);
  return r.json();
}

/** An EventPolicy manifest and its path. */
export const eventPolicy = (name: string, spec: Record<string, unknown>) => ({
  apiVersion: "eventing.knative.dev/v1alpha1",
  kind: "EventPolicy",
  metadata: { name },
  spec,
});
export const eventPolicyPath = (namespace: string, name: string) => `/apis/eventing.knative.dev/v1alpha1/namespaces/${namespace}/eventpolicies/${name}`;
