/**
 * PingSource (`sources.knative.dev/v1`): a cron schedule that emits one CloudEvent per tick.
 * Validation follows Knative's ping_validation.go; the event follows its mtping adapter, except
 * that `id` and `time` derive from the tick so a tick fired twice (alarm retry, restart) is
 * deduplicated by the broker on (source, id).
 */
import { Cron } from "croner";
import { decodeBase64 } from "../base64.ts";
import type { CloudEvent, EventData } from "../cloudevents/event.ts";
import { isJsonMediaType } from "../cloudevents/media-type.ts";
import { decodeUtf8 } from "../cloudevents/utf8.ts";
import type { FieldError } from "../delivery/policy.ts";
import { validateDestination } from "../resources/destination.ts";

export interface PingSourceSpec {
  schedule?: string;
  timezone?: string;
  contentType?: string;
  data?: string;
  dataBase64?: string;
  sink?: unknown;
  ceOverrides?: { extensions?: Record<string, string> };
}

export interface PingSourceResource {
  metadata: { namespace: string; name: string };
  spec: PingSourceSpec;
}

export const PING_EVENT_TYPE = "dev.knative.sources.ping";
/** Knative leaves `data-max-size` unlimited by default; a tick's payload here is capped. */
export const PING_DATA_MAX_BYTES = 64 * 1024;
/** Knative's default when `schedule` is empty. */
export const DEFAULT_SCHEDULE = "* * * * *";

const EXTENSION_NAME = /^[a-z0-9]+$/;
const RESERVED_ATTRIBUTES = new Set(["specversion", "id", "source", "type", "datacontenttype", "dataschema", "subject", "time", "data", "data_base64"]);

/**
 * The next tick strictly after `afterMs`, in epoch ms; null when the schedule never fires again.
 * Five fields, or six with leading seconds (robfig/cron as Knative uses it), or a descriptor
 * such as `@hourly`. Throws on an invalid schedule or timezone: validate first.
 */
export function nextTick(schedule: string, timezone: string | undefined, afterMs: number): number | null {
  if (schedule.trim().startsWith("@every")) throw new Error("@every is not supported by PingSource");
  const cron = new Cron(schedule, { paused: true, mode: "5-or-6-parts", timezone: timezone || undefined });
  return cron.nextRun(new Date(afterMs))?.getTime() ?? null;
}

/** Every problem of a PingSource spec, with the field path the management API reports. */
export function validatePingSource(spec: unknown): FieldError[] {
  if (!isObject(spec)) return [{ field: "spec", message: "must be an object" }];
  const errors: FieldError[] = [];
  const str = (name: keyof PingSourceSpec): string | undefined => {
    const v = spec[name];
    if (v === undefined) return undefined;
    if (typeof v !== "string") {
      errors.push({ field: `spec.${name}`, message: "must be a string" });
      return undefined;
    }
    return v;
  };
  const schedule = str("schedule");
  const timezone = str("timezone");
  const contentType = str("contentType");
  const data = str("data");
  const dataBase64 = str("dataBase64");

  let timezoneOk = true;
  if (timezone) {
    try {
      new Intl.DateTimeFormat("en-US", { timeZone: timezone });
    } catch {
      timezoneOk = false;
      errors.push({ field: "spec.timezone", message: `unknown IANA time zone "${timezone}"` });
    }
  }
  try {
    nextTick(schedule || DEFAULT_SCHEDULE, timezoneOk ? timezone : undefined, 0);
  } catch (e) {
    errors.push({ field: "spec.schedule", message: `invalid cron schedule: ${(e as Error).message}` });
  }

  if (data !== undefined && dataBase64 !== undefined) {
    errors.push({ field: "spec.data", message: "data and dataBase64 are mutually exclusive" });
  } else {
    const bytes = data !== undefined ? new TextEncoder().encode(data) : dataBase64 !== undefined ? decodeBase64(dataBase64) : undefined;
    const field = data !== undefined ? "spec.data" : "spec.dataBase64";
    if (bytes === null) errors.push({ field, message: "is not valid base64" });
    else if (bytes && bytes.length > PING_DATA_MAX_BYTES) {
      errors.push({ field, message: `exceeds ${PING_DATA_MAX_BYTES} bytes` });
    } else if (bytes && contentType === "application/json" && !isJsonObject(bytes)) {
      errors.push({ field, message: "must be a JSON object when contentType is application/json" });
    }
  }

  errors.push(...validateDestination(spec.sink, "spec.sink", true));

  const overrides = spec.ceOverrides;
  if (overrides !== undefined) {
    const extensions = isObject(overrides) ? overrides.extensions : undefined;
    if (!isObject(overrides) || (extensions !== undefined && !isObject(extensions))) {
      errors.push({ field: "spec.ceOverrides", message: "extensions must be a map of strings" });
    } else if (extensions) {
      for (const [name, value] of Object.entries(extensions)) {
        const field = `spec.ceOverrides.extensions.${name}`;
        if (!EXTENSION_NAME.test(name)) errors.push({ field, message: "extension names are lower-case letters and digits" });
        else if (RESERVED_ATTRIBUTES.has(name)) errors.push({ field, message: "cannot override a CloudEvents attribute" });
        else if (typeof value !== "string") errors.push({ field, message: "must be a string" });
      }
    }
  }
  return errors;
}

/**
 * The event of one tick of a valid PingSource. `idFn` maps the tick to the event id; the default
 * (the tick's ISO time) is unique per source, and the same for a re-fired tick.
 */
export function pingEvent(source: PingSourceResource, tickMs: number, idFn: (tickMs: number) => string = (ms) => new Date(ms).toISOString()): CloudEvent {
  const { namespace, name } = source.metadata;
  const spec = source.spec;
  const attributes: CloudEvent["attributes"] = {
    specversion: "1.0",
    id: idFn(tickMs),
    source: `/apis/v1/namespaces/${namespace}/pingsources/${name}`,
    type: PING_EVENT_TYPE,
    time: new Date(tickMs).toISOString(),
  };
  if (spec.contentType) attributes.datacontenttype = spec.contentType;
  Object.assign(attributes, spec.ceOverrides?.extensions);
  const bytes = spec.data !== undefined ? new TextEncoder().encode(spec.data) : spec.dataBase64 !== undefined ? decodeBase64(spec.dataBase64) : null;
  return bytes ? { attributes, data: toEventData(bytes, spec.contentType) } : { attributes };
}

function toEventData(bytes: Uint8Array, contentType: string | undefined): EventData {
  const text = contentType && isJsonMediaType(contentType) ? decodeUtf8(bytes) : null;
  return text === null ? { kind: "binary", bytes } : { kind: "json", json: text };
}

function isJsonObject(bytes: Uint8Array): boolean {
  const text = decodeUtf8(bytes);
  if (text === null) return false;
  try {
    return isObject(JSON.parse(text));
  } catch {
    return false;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
