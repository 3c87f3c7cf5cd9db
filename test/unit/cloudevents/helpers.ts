import { expect } from "vitest";
import type { CloudEvent, InputError } from "../../../shared/cloudevents/index.ts";
import { decodeHttp } from "../../../shared/cloudevents/index.ts";

export const enc = new TextEncoder();
export const dec = new TextDecoder();

export const testdata = (path: string) => new URL(`../../fixtures/cloudevents-conformance/${path}`, import.meta.url);

/** The required attributes of a valid 1.0 event. */
export const REQUIRED = { specversion: "1.0", id: "A234-1234-1234", source: "/mycontext", type: "com.example.someevent" };

export const LIMITS = { maxBatchEvents: 10 };

/** A request through the ingress codec. */
export function post(headers: Record<string, string>, body: string | Uint8Array = "") {
  return decodeHttp(new Headers(headers), typeof body === "string" ? enc.encode(body) : body, LIMITS);
}

export function structured(body: string | Record<string, unknown>) {
  return post({ "content-type": "application/cloudevents+json" }, typeof body === "string" ? body : JSON.stringify(body));
}

export function binary(headers: Record<string, string>, body: string | Uint8Array = "") {
  const ce: Record<string, string> = {};
  for (const [name, value] of Object.entries(REQUIRED)) ce[`ce-${name}`] = value;
  return post({ ...ce, ...headers }, body);
}

/** The single event of a successful decode (fails the test otherwise). */
export function only(result: ReturnType<typeof decodeHttp>): CloudEvent {
  if ("status" in result) throw new Error(`refused: ${JSON.stringify(result)}`);
  expect(result.events).toHaveLength(1);
  return result.events[0];
}

export function expectRefused(result: unknown, status: InputError["status"], field?: string): InputError {
  const error = result as InputError;
  expect(error).toMatchObject({ status });
  expect(error.field).toBe(field);
  expect(error.error).toEqual(expect.any(String));
  return error;
}
