/**
 * A Kubernetes cluster the router calls: the connection a ScaledObject's `spec.cluster` or a
 * KubernetesCluster's `spec` gives (its validation), the annotation that names a KubernetesCluster, and
 * how a connection becomes a fetch function and credentials from the Worker env.
 */
import type { FieldError } from "../delivery/policy.ts";
import type { Manifest } from "../resources/manifest.ts";
import { isSecretName, SECRET_NAME_RULE, secretReader } from "../secrets.ts";
import { isSecureEndpoint, SECURE_ENDPOINT_RULE } from "../transport.ts";
import type { ClusterCredentials, FetchLike } from "./client.ts";

export interface SecretRef {
  name: string;
}

export interface ClusterConnection {
  url: string;
  /** Worker secret holding the ServiceAccount bearer token. */
  secretKeyRef: SecretRef;
  /** Cloudflare Access service token, sent as CF-Access-Client-Id / CF-Access-Client-Secret. */
  access?: { clientIdSecretKeyRef: SecretRef; clientSecretSecretKeyRef: SecretRef };
  /** Name of a Workers VPC service binding that reaches the API server. */
  vpcService?: string;
}

/** On a ScaledObject or a JobSink: the KubernetesCluster (`edge-eventing.dev/v1alpha1`, same namespace) it uses. */
export const CLUSTER_ANNOTATION = "edge-eventing.dev/cluster";

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function secretRef(v: unknown, field: string, errors: FieldError[]): SecretRef {
  if (!isObj(v) || !isSecretName(v.name)) {
    errors.push({ field: `${field}.name`, message: SECRET_NAME_RULE });
    return { name: "" };
  }
  return { name: v.name };
}

/** A connection as given at `at` (`spec.cluster`, or a KubernetesCluster's `spec`), its problems pushed to `errors`. */
export function parseCluster(v: unknown, errors: FieldError[], at = "spec.cluster"): ClusterConnection {
  if (!isObj(v)) {
    errors.push({ field: at, message: "is required: {url, secretKeyRef, access | vpcService}" });
    return { url: "", secretKeyRef: { name: "" } };
  }
  let url = "";
  if (isSecureEndpoint(v.url)) url = new URL(v.url as string).href.replace(/\/$/, "");
  else errors.push({ field: `${at}.url`, message: SECURE_ENDPOINT_RULE });
  const cluster: ClusterConnection = { url, secretKeyRef: secretRef(v.secretKeyRef, `${at}.secretKeyRef`, errors) };
  if (v.access !== undefined) {
    const a = isObj(v.access) ? v.access : {};
    cluster.access = {
      clientIdSecretKeyRef: secretRef(a.clientIdSecretKeyRef, `${at}.access.clientIdSecretKeyRef`, errors),
      clientSecretSecretKeyRef: secretRef(a.clientSecretSecretKeyRef, `${at}.access.clientSecretSecretKeyRef`, errors),
    };
  }
  if (v.vpcService !== undefined) {
    if (typeof v.vpcService !== "string" || !ENV_NAME.test(v.vpcService)) errors.push({ field: `${at}.vpcService`, message: "must be a binding name" });
    else cluster.vpcService = v.vpcService;
    if (v.access !== undefined) errors.push({ field: `${at}.vpcService`, message: "use either access or vpcService, not both" });
  }
  return cluster;
}

/** `edge-eventing.dev/v1alpha1` KubernetesCluster: its spec is a connection. */
export function validateKubernetesCluster(m: Manifest): FieldError[] {
  const errors: FieldError[] = [];
  parseCluster(m.spec, errors, "spec");
  return errors;
}

/** The connection of a stored (valid) KubernetesCluster. */
export function clusterOf(m: Manifest): ClusterConnection {
  return parseCluster(m.spec, [], "spec");
}

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
