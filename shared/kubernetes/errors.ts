/** A Kubernetes API failure, carrying the `Status` object's reason when the server sent one. */
export class KubernetesApiError extends Error {
  readonly status: number;
  readonly reason: string;
  constructor(status: number, reason: string, message: string) {
    super(message);
    this.name = "KubernetesApiError";
    this.status = status;
    this.reason = reason;
  }
}

const HINTS: Record<number, string> = {
  401: "the bearer token was refused: check the Worker secret named by spec.cluster.secretKeyRef",
  403: "the ServiceAccount lacks RBAC for this call (get/patch on the scale subresource or revisions; create on jobs and secrets for a JobSink), or an admission check such as a quota refused it",
  404: "the object does not exist in that namespace",
  409: "the object changed while it was being scaled",
  415: "the API server refused the patch content type",
  422: "the API server refused the value",
};

/** Builds the error from a non-2xx response, preferring the server's Status message. */
export async function apiError(method: string, path: string, res: Response): Promise<KubernetesApiError> {
  const text = await res.text();
  let reason = "";
  let detail = "";
  try {
    const status = JSON.parse(text) as { kind?: string; reason?: string; message?: string };
    if (status.kind === "Status") {
      reason = status.reason ?? "";
      detail = status.message ?? "";
    }
  } catch {
    detail = text.slice(0, 200);
  }
  if (res.status >= 300 && res.status < 400) {
    return new KubernetesApiError(
      res.status,
      "AccessDenied",
      `${method} ${path}: redirected to ${res.headers.get("location") ?? "a login page"}: Cloudflare Access refused the service token (spec.cluster.access)`,
    );
  }
  const hint = HINTS[res.status] ?? "unexpected response";
  return new KubernetesApiError(
    res.status,
    reason || String(res.status),
    `${method} ${path}: ${res.status} ${reason} ${detail ? `(${detail}) ` : ""}- ${hint}`.replace(/\s+/g, " "),
  );
}
