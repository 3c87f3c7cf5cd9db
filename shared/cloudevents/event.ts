/**
 * A CloudEvent as the router keeps it. Nothing here is normalised: attributes keep the
 * JSON type they arrived with (binary mode: strings) and data keeps its exact bytes or
 * JSON text, so an event leaves the router as it came in (Knative: never modify data).
 */
export type AttributeValue = string | number | boolean | AttributeMap;
/** A CloudEvents 0.3 Map-typed extension (String-indexed; 1.0 dropped the type). */
export type AttributeMap = { readonly [key: string]: string | number | boolean };

export type EventData =
  /** Raw JSON text: structured `data` with a JSON media type (or none), or a binary JSON body. */
  | { kind: "json"; json: string }
  /** Structured `data` that was a JSON string under a non-JSON media type. */
  | { kind: "text"; text: string }
  /** Bytes: a binary-mode body, or structured `data_base64`. */
  | { kind: "binary"; bytes: Uint8Array };

export interface CloudEvent {
  /** Context attributes and extensions by name, in arrival order. */
  attributes: Record<string, AttributeValue>;
  data?: EventData;
}

/** A refused input: the HTTP status to answer and the JSON body `{error, field}` (API.md §1). */
export interface InputError {
  status: 400 | 413 | 415;
  error: string;
  field?: string;
}
