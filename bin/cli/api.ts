/** The router's public HTTP API as the CLI calls it; any refusal becomes an ApiError carrying the server's Status. */
import { type Context, contextFrom } from "./args.ts";
import type { Cli } from "./io.ts";

export interface Cause {
  field?: string;
  message?: string;
}

/** A Kubernetes Status, or the `{error, field}` body that event ingress answers with. */
export interface ErrorBody {
  kind?: string;
  reason?: string;
  message?: string;
  code?: number;
  details?: { name?: string; kind?: string; causes?: Cause[] };
  error?: string;
  field?: string;
}

/** The API refused (non-2xx) or could not be reached (`status` 0). Exit code 1. */
export class ApiError extends Error {
  readonly status: number;
  readonly body: ErrorBody;
  /** What the user can do about it, when the CLI knows better than the server. */
  readonly hint?: string;
  constructor(status: number, body: ErrorBody, message: string, hint?: string) {
    super(message);
    this.status = status;
    this.body = body;
    if (hint) this.hint = hint;
  }
}

export interface ApiResponse<T> {
  status: number;
  body: T;
  /** The texts of the server's `Warning: 299 - "..."` headers (unknown fields with ?fieldValidation=Warn). */
  warnings: string[];
}

/** Every warning text of a (possibly comma-joined) `Warning` header. */
export function warningsOf(header: string | null): string[] {
  return [...(header ?? "").matchAll(/\d{3} \S+ "((?:[^"\\]|\\.)*)"/g)].map((m) => m[1].replace(/\\(.)/g, "$1"));
}

/** Longest wait for one API call: a router that hangs fails the command instead of the script. */
export const REQUEST_TIMEOUT_MS = 30_000;

export interface Api {
  ctx: Context;
  call<T = unknown>(
    method: string,
    path: string,
    init?: { body?: string | Uint8Array; headers?: Record<string, string>; auth?: boolean },
  ): Promise<ApiResponse<T>>;
}

export function createApi(ctx: Context, fetchImpl: typeof fetch): Api {
  return {
    ctx,
    async call<T>(method: string, path: string, init: { body?: string | Uint8Array; headers?: Record<string, string>; auth?: boolean } = {}) {
      const headers: Record<string, string> = { accept: "application/json", ...init.headers };
      if (init.auth !== false && ctx.token) headers.authorization = `Bearer ${ctx.token}`;
      let res: Response;
      try {
        res = await fetchImpl(`${ctx.server}${path}`, { method, headers, body: init.body, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
      } catch (e) {
        const cause = (e as Error & { cause?: Error }).cause?.message ?? (e as Error).message;
        throw new ApiError(0, {}, `cannot reach the router at ${ctx.server}: ${cause}`);
      }
      const text = await res.text();
      let body: unknown = text;
      if (text !== "" && (res.headers.get("content-type") ?? "").includes("json")) {
        try {
          body = JSON.parse(text);
        } catch {
          // keep the text: describeError shows it as it came
        }
      }
      if (!res.ok) {
        const hint =
          res.status === 401 && !ctx.token && init.auth !== false
            ? "pass --token or set EDGE_EVENTING_TOKEN (the router's ADMIN_TOKEN, or an OIDC token for the management API's audience)"
            : undefined;
        throw new ApiError(res.status, typeof body === "object" && body !== null ? (body as ErrorBody) : { message: String(body) }, `HTTP ${res.status}`, hint);
      }
      return { status: res.status, body: body as T, warnings: warningsOf(res.headers.get("warning")) };
    },
  };
}

/** kubectl's wording: `Error from server (Reason): message`, then every cause on its own line. */
export function describeError(e: ApiError): string {
  if (e.status === 0) return `error: ${e.message}\n`;
  const b = e.body;
  const reason = b.reason ?? String(e.status);
  const causes = b.details?.causes ?? [];
  let text: string;
  if (causes.length > 0 && reason === "Invalid") {
    const subject = b.details?.kind ? `${b.details.kind} "${b.details.name ?? ""}" is invalid` : (b.message ?? "invalid");
    text = `Error from server (${reason}): ${subject}\n${causes.map((c) => `  * ${c.field || "(object)"}: ${c.message ?? ""}\n`).join("")}`;
  } else {
    const message = b.message ?? b.error ?? "";
    text = `Error from server (${reason}): ${message}${b.field ? ` (field: ${b.field})` : ""}\n`;
  }
  return e.hint ? `${text}hint: ${e.hint}\n` : text;
}

/** The API a command's parsed flags point at. */
export const apiFor = (values: { server?: unknown; token?: unknown; namespace?: unknown }, cli: Cli): Api => createApi(contextFrom(values, cli.env), cli.fetch);
