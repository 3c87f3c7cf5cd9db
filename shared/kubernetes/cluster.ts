/** Turns a ScaledObject's `spec.cluster` into a fetch function and credentials from the Worker env. */
import type { ClusterConnection } from "../autoscaling/scaled-object.ts";
import { secretReader } from "../secrets.ts";
import type { ClusterCredentials, FetchLike } from "./client.ts";

type Env = Record<string, unknown>;

export function connectCluster(conn: ClusterConnection, env: Env, globalFetch: FetchLike = fetch): { fetch: FetchLike; credentials: ClusterCredentials } {
  const secret = secretReader(env);
  const credentials: ClusterCredentials = { url: conn.url, token: secret(conn.secretKeyRef.name, "spec.cluster.secretKeyRef.name") };
  if (conn.access) {
    credentials.access = {
      clientId: secret(conn.access.clientIdSecretKeyRef.name, "spec.cluster.access.clientIdSecretKeyRef.name"),
      clientSecret: secret(conn.access.clientSecretSecretKeyRef.name, "spec.cluster.access.clientSecretSecretKeyRef.name"),
    };
  }
  if (!conn.vpcService) return { fetch: globalFetch, credentials };
  const binding = env[conn.vpcService] as { fetch?: FetchLike } | undefined;
  if (typeof binding?.fetch !== "function") throw new Error(`spec.cluster.vpcService: no Workers VPC binding named ${conn.vpcService}`);
  return { fetch: (url, init) => binding.fetch!(url, init), credentials };
}
