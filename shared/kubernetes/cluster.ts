/** Turns a ScaledObject's `spec.cluster` into a fetch function and credentials from the Worker env. */
import type { ClusterConnection } from "../autoscaling/scaled-object.ts";
import type { ClusterCredentials, FetchLike } from "./client.ts";

type Env = Record<string, unknown>;

function secret(env: Env, name: string, field: string): string {
  const value = env[name];
  if (typeof value !== "string" || value === "") throw new Error(`${field}: Worker secret ${name} is not set (wrangler secret put ${name})`);
  return value;
}

export function connectCluster(conn: ClusterConnection, env: Env, globalFetch: FetchLike = fetch): { fetch: FetchLike; credentials: ClusterCredentials } {
  const credentials: ClusterCredentials = { url: conn.url, token: secret(env, conn.secretKeyRef.name, "spec.cluster.secretKeyRef") };
  if (conn.access) {
    credentials.access = {
      clientId: secret(env, conn.access.clientIdSecretKeyRef.name, "spec.cluster.access.clientIdSecretKeyRef"),
      clientSecret: secret(env, conn.access.clientSecretSecretKeyRef.name, "spec.cluster.access.clientSecretSecretKeyRef"),
    };
  }
  if (!conn.vpcService) return { fetch: globalFetch, credentials };
  const binding = env[conn.vpcService] as { fetch?: FetchLike } | undefined;
  if (typeof binding?.fetch !== "function") throw new Error(`spec.cluster.vpcService: no Workers VPC binding named ${conn.vpcService}`);
  return { fetch: (url, init) => binding.fetch!(url, init), credentials };
}
