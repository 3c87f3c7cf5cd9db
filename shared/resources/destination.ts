/**
 * Knative Destinations (`uri` and/or `ref`) and how the router resolves them: a URL it fetches, or a
 * Broker or EventDisplay inside the router. A URL that points at the router's own broker ingress is
 * resolved to that broker, so a subscriber cannot make an unbounded loop through HTTP.
 */
import type { Destination, FieldError } from "../delivery/policy.ts";
import { addressChannel, addressPath, compositionOfChannel, compositionOfPath, type TransformSpec } from "./composition-address.ts";
import { isValidName, isValidNamespace } from "./manifest.ts";
import type { JobSinkRun } from "./job-sink.ts";
import { JOB_SINKS_PATH, jobSinkAddressPath } from "../kubernetes/job-sink.ts";

export type Target =
  | { kind: "url"; url: string }
  /** A broker, or one of the router's own channels (a source's, a Sequence's, a Parallel's, an EventTransform's). */
  | { kind: "broker"; namespace: string; name: string }
  | { kind: "display"; namespace: string; name: string }
  /** An EventTransform run inside the delivering object; `spec` is absent while the EventTransform does not exist. */
  | { kind: "transform"; namespace: string; name: string; spec?: TransformSpec }
  /** A JobSink: each event becomes a Job in its cluster; `run` is absent while the JobSink does not exist. */
  | { kind: "jobsink"; namespace: string; name: string; run?: JobSinkRun };

export interface ResolveContext {
  /** The router's public base URL (no trailing slash), e.g. https://events.example.com */
  baseUrl: string;
  /**
   * Every host that reaches this router, as `URL.host` spells it (lower case, default port dropped): the
   * base URL's, the request's, and the `ROUTER_ALIASES` (e.g. the workers.dev alias of a custom domain).
   */
  selfHosts: string[];
  /**
   * A Knative Service's URL, `https://{HOST}` by default. `{HOST}` is the Service's host: the
   * resource's `k8s.aliyun.com/domain` annotation when it has one, else `{name}.{namespace}.{DOMAIN}`.
   */
  domainTemplate: string;
  domain: string;
  /** The EventTransforms a `ref` may name, by `namespace/name` (filled in by the control plane when it pushes). */
  transforms?: Record<string, TransformSpec>;
  /** The JobSinks a `ref` may name, by `namespace/name` (filled in by the control plane when it pushes). */
  jobSinks?: Record<string, JobSinkRun>;
}

/**
 * Alibaba's per-resource host of the sink's (or subscriber's) Knative Service: the whole host, e.g.
 * `event-display.default.example.com`, as ACK's manifests write it.
 */
export const DOMAIN_ANNOTATION = "k8s.aliyun.com/domain";

const SERVICE = { group: "serving.knative.dev", kind: "Service" };
const BROKER = { group: "eventing.knative.dev", kind: "Broker" };
const DISPLAY = { group: "edge-eventing.dev", kind: "EventDisplay" };
const TRANSFORM = { group: "eventing.knative.dev", kind: "EventTransform" };
const JOB_SINK = { group: "sinks.knative.dev", kind: "JobSink" };
const FLOWS = [
  { group: "flows.knative.dev", kind: "Sequence" as const },
  { group: "flows.knative.dev", kind: "Parallel" as const },
];
const REF_KINDS = [SERVICE, BROKER, DISPLAY, TRANSFORM, JOB_SINK, ...FLOWS];

function isRefKind(ref: { apiVersion?: string; kind: string }, want: { group: string; kind: string }): boolean {
  return ref.kind === want.kind && (ref.apiVersion === undefined || ref.apiVersion.split("/")[0] === want.group);
}

export function validateDestination(value: unknown, path: string, required: boolean): FieldError[] {
  if (value === undefined || value === null) return required ? [{ field: path, message: "is required" }] : [];
  if (typeof value !== "object" || Array.isArray(value)) return [{ field: path, message: "must be an object with uri and/or ref" }];
  const d = value as Record<string, unknown>;
  const causes: FieldError[] = [];
  if (d.uri === undefined && d.ref === undefined) causes.push({ field: path, message: "needs uri or ref" });
  if (d.uri !== undefined) {
    if (typeof d.uri !== "string") causes.push({ field: `${path}.uri`, message: "must be a string" });
    else if (d.ref === undefined && !isHttpUrl(d.uri)) causes.push({ field: `${path}.uri`, message: "must be an absolute http or https URL" });
  }
  if (d.ref !== undefined) {
    const ref = d.ref as Record<string, unknown>;
    if (typeof ref !== "object" || ref === null || typeof ref.kind !== "string" || typeof ref.name !== "string" || ref.name === "") {
      causes.push({ field: `${path}.ref`, message: "must have kind and name" });
    } else if (!REF_KINDS.some((k) => isRefKind(ref as { kind: string; apiVersion?: string }, k))) {
      causes.push({
        field: `${path}.ref`,
        message: `cannot resolve ${String(ref.apiVersion ?? "")} ${ref.kind}: supported are serving.knative.dev/v1 Service, eventing.knative.dev/v1 Broker, eventing.knative.dev/v1alpha1 EventTransform, flows.knative.dev/v1 Sequence and Parallel, sinks.knative.dev/v1alpha1 JobSink, edge-eventing.dev/v1alpha1 EventDisplay`,
      });
    }
  }
  return causes;
}

function isHttpUrl(s: string): boolean {
  try {
    const u = new URL(s);
    return u.protocol === "http:" || u.protocol === "https:";
  } catch {
    return false;
  }
}

/**
 * Resolve a validated Destination in `namespace`. `annotations` are those of the resource whose sink or
 * subscriber this is (its `k8s.aliyun.com/domain` names that Service's host); dead-letter sinks pass none.
 */
export function resolveDestination(dest: Destination, namespace: string, ctx: ResolveContext, annotations?: Record<string, string>): Target {
  const ref = dest.ref;
  if (ref && isRefKind(ref, BROKER)) return { kind: "broker", namespace: ref.namespace ?? namespace, name: ref.name };
  if (ref && isRefKind(ref, DISPLAY)) return { kind: "display", namespace: ref.namespace ?? namespace, name: ref.name };
  if (ref && isRefKind(ref, TRANSFORM)) {
    const ns = ref.namespace ?? namespace;
    const spec = ctx.transforms?.[`${ns}/${ref.name}`];
    return { kind: "transform", namespace: ns, name: ref.name, ...(spec ? { spec } : {}) };
  }
  if (ref && isRefKind(ref, JOB_SINK)) return jobSinkTarget(ref.namespace ?? namespace, ref.name, ctx);
  const flow = ref && FLOWS.find((k) => isRefKind(ref, k));
  if (ref && flow) return { kind: "broker", namespace: ref.namespace ?? namespace, name: addressChannel(flow.kind, ref.name) };
  let url = dest.uri ?? "";
  if (ref) {
    const ns = ref.namespace ?? namespace;
    const host = annotations?.[DOMAIN_ANNOTATION];
    // A template without {HOST} cannot place an annotated host: the annotation then is the URL's whole authority.
    const template = host !== undefined && !ctx.domainTemplate.includes("{HOST}") ? "https://{HOST}" : ctx.domainTemplate;
    const base = template
      .replaceAll("{HOST}", host ?? `${ref.name}.${ns}.${ctx.domain}`)
      .replaceAll("{name}", ref.name)
      .replaceAll("{namespace}", ns)
      .replaceAll("{DOMAIN}", ctx.domain);
    url = dest.uri ? new URL(dest.uri, base.endsWith("/") ? base : `${base}/`).toString() : base;
  }
  return selfBroker(url, ctx) ?? { kind: "url", url };
}

function jobSinkTarget(namespace: string, name: string, ctx: ResolveContext): Target {
  const run = ctx.jobSinks?.[`${namespace}/${name}`];
  return { kind: "jobsink", namespace, name, ...(run ? { run } : {}) };
}

/**
 * A URL that reaches this router's ingress is a broker (or a Sequence's, Parallel's or EventTransform's
 * address) inside it. Hosts compare as URL parsing normalises them
 * (case, default ports, either scheme: both reach the same Worker) and path segments percent-decoded, as the
 * ingress route decodes them.
 */
function selfBroker(url: string, ctx: ResolveContext): Target | undefined {
  const u = new URL(url);
  if (!ctx.selfHosts.includes(u.host)) return undefined;
  const segments = u.pathname.replace(/\/$/, "").split("/").slice(1).map(decodeSegment);
  if (segments.length === 3 && segments[0] === JOB_SINKS_PATH) {
    const [, namespace, name] = segments;
    return namespace !== undefined && name !== undefined && isValidNamespace(namespace) && isValidName(name) ? jobSinkTarget(namespace, name, ctx) : undefined;
  }
  const composition = segments.length === 3 ? compositionOfPath(segments[0] ?? "") : undefined;
  if (composition) {
    const [, namespace, name] = segments;
    return namespace !== undefined && name !== undefined && isValidNamespace(namespace) && isValidName(name)
      ? { kind: "broker", namespace, name: addressChannel(composition, name) }
      : undefined;
  }
  if (segments.length !== 2) return undefined;
  const [namespace, name] = segments;
  return namespace !== undefined && name !== undefined && isValidNamespace(namespace) && isValidName(name) ? { kind: "broker", namespace, name } : undefined;
}

function decodeSegment(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

/** The hosts of the base URL, the request URL and the configured aliases (comma- or space-separated URLs or hosts). */
export function selfHostsOf(baseUrl: string, requestUrl: string, aliases = ""): string[] {
  const hosts = [
    baseUrl,
    requestUrl,
    ...aliases
      .split(/[\s,]+/)
      .filter((a) => a !== "")
      .map((a) => (a.includes("://") ? a : `https://${a}`)),
  ].flatMap((u) => {
    try {
      return [new URL(u).host];
    } catch {
      return [];
    }
  });
  return [...new Set(hosts)];
}

export function targetUrl(target: Target, baseUrl: string): string {
  switch (target.kind) {
    case "url":
      return target.url;
    case "broker": {
      const composition = compositionOfChannel(target.name);
      return composition ? `${baseUrl}/${addressPath(composition.kind, target.namespace, composition.name)}` : `${baseUrl}/${target.namespace}/${target.name}`;
    }
    case "transform":
      return `${baseUrl}/${addressPath("EventTransform", target.namespace, target.name)}`;
    case "display":
      return `${baseUrl}/display/${target.namespace}/${target.name}`;
    case "jobsink":
      return `${baseUrl}/${jobSinkAddressPath(target.namespace, target.name)}`;
  }
}
