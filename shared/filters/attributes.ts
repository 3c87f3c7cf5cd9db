/**
 * How Knative's attribute-based filters read an event (eventing pkg/eventfilter/attributes LookupAttribute):
 * optional context attributes read as "" when unset, `datamediatype` is derived, `time` is re-serialised
 * the way Go's RFC3339Nano prints it, and an absent extension is "not found" (undefined).
 */
import type { CloudEvent } from "../cloudevents/event.ts";

const OPTIONAL_AS_EMPTY = new Set(["subject", "dataschema", "datacontenttype"]);

export function lookupAttribute(event: CloudEvent, name: string): string | undefined {
  const attrs = event.attributes;
  switch (name) {
    case "schemaurl":
      return lookupAttribute(event, "dataschema");
    case "datamediatype": {
      const ct = attrs.datacontenttype;
      return ct === undefined ? "" : String(ct).split(";")[0].trim();
    }
    case "time":
      return attrs.time === undefined ? "0001-01-01T00:00:00Z" : goRfc3339Nano(String(attrs.time));
  }
  const v = attrs[name] ?? (name === "dataschema" ? attrs.schemaurl : undefined);
  if (v === undefined) return OPTIONAL_AS_EMPTY.has(name) ? "" : undefined;
  return typeof v === "string" ? v : String(v);
}

/** RFC 3339 as Go formats a parsed time with RFC3339Nano: fraction without trailing zeros, `Z` for UTC. */
export function goRfc3339Nano(time: string): string {
  const m = /^(\d{4}-\d{2}-\d{2})[Tt](\d{2}:\d{2}:\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})$/.exec(time);
  if (!m) return time;
  const fraction = (m[3] ?? "").slice(0, 9).replace(/0+$/, "");
  const zone = m[4] === "z" || m[4] === "Z" || m[4] === "+00:00" ? "Z" : m[4];
  return `${m[1]}T${m[2]}${fraction ? `.${fraction}` : ""}${zone}`;
}
