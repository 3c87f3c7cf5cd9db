/**
 * Kubernetes' server-side field validation (`?fieldValidation=Strict|Warn|Ignore`, Strict by default as
 * kubectl sends it): unknown and duplicated fields are refused with a 400 naming them (Strict), or
 * dropped with a `Warning` header each (Warn), or dropped silently (Ignore). A value of the wrong type is a
 * 422 Invalid in every mode, as a CRD's schema validation answers it.
 */
import type { KindInfo } from "./kinds.ts";
import type { ParsedManifest } from "./manifest.ts";
import { checkSchema } from "./schema.ts";
import { schemaOf } from "./schemas.ts";
import { failure, invalid, type KubeStatus } from "./status.ts";

export const FIELD_VALIDATION = ["Strict", "Warn", "Ignore"] as const;
export type FieldValidation = (typeof FIELD_VALIDATION)[number];

/** The query parameter's mode, or the 400 Kubernetes answers to a value it does not know. */
export function fieldValidationOf(param: string | undefined): FieldValidation | KubeStatus {
  if (param === undefined || param === "") return "Strict";
  if ((FIELD_VALIDATION as readonly string[]).includes(param)) return param as FieldValidation;
  return failure(400, "BadRequest", `fieldValidation parameter unsupported: ${param}: use one of ${FIELD_VALIDATION.join(", ")}`);
}

/**
 * The manifest to store (unknown fields pruned) with the warnings to send, or the Status that refuses it.
 * Warnings and messages use Kubernetes' wording (`unknown field "spec.x"`, `duplicate field "spec.y"`).
 */
export function decodeManifest(
  info: KindInfo,
  version: string,
  body: ParsedManifest,
  mode: FieldValidation,
): { value: unknown; warnings: string[] } | KubeStatus {
  const found = checkSchema(body.value, schemaOf(info.kind, version));
  const name = (body.value as { metadata?: { name?: unknown } } | null)?.metadata?.name;
  const named = typeof name === "string" ? name : undefined;
  if (found.invalid.length > 0) return invalid(info.kind, named, found.invalid);
  const problems = [
    ...body.duplicates.map((field) => ({ field, message: "duplicate field", text: `duplicate field "${field}"` })),
    ...found.unknown.map(({ field, hint }) => ({
      field,
      message: hint ? `unknown field (did you mean "${hint}"?)` : "unknown field",
      text: `unknown field "${field}"${hint ? ` (did you mean "${hint}"?)` : ""}`,
    })),
  ];
  if (problems.length > 0 && mode === "Strict") {
    const message = `${info.kind} in version "${version}" cannot be handled as a ${info.kind}: strict decoding error: ${problems.map((p) => p.text).join(", ")}`;
    return failure(400, "BadRequest", message, { name: named, kind: info.plural, causes: problems.map(({ field, message }) => ({ field, message })) });
  }
  return { value: found.pruned, warnings: mode === "Warn" ? problems.map((p) => p.text) : [] };
}

/** An RFC 9111 `Warning` header value as the Kubernetes API server sends it (code 299, agent `-`). */
export function warningHeader(text: string): string {
  return `299 - "${text.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;
}
