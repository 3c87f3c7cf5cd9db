/**
 * Knative's trigger filters with Knative's exact tri-state semantics
 * (eventing pkg/eventfilter: attributes, and subscriptionsapi exact/prefix/suffix/all/any/not/cesql),
 * plus the CEL dialect and the older `sourceAndType`. Filters are validated and compiled once per
 * trigger change; evaluation does no parsing.
 *
 * Pass and NoFilter deliver, only Fail drops: `deliver = result !== "fail"`.
 */
import type { CloudEvent } from "../cloudevents/event.ts";
import type { FieldError } from "../delivery/policy.ts";
import { lookupAttribute } from "./attributes.ts";
import { compileCel, type FilterScratch } from "./cel.ts";
import { compileCesql } from "./cesql/index.ts";

export type FilterResult = "pass" | "fail" | "nofilter";
/**
 * `scratch` is per event, shared by every trigger evaluated on it: what one filter derives from the
 * event (the CEL view, parsed data) the next one reuses. Omitted, each call starts fresh.
 */
export type CompiledFilter = (event: CloudEvent, scratch?: FilterScratch) => FilterResult;
export type { FilterScratch };

/** The filter parts of a Trigger (or a FilterReview) spec. */
export interface TriggerFilterSpec {
  filter?: { attributes?: Record<string, string> | null; sourceAndType?: { source?: string; type?: string } } | null;
  filters?: unknown[] | null;
}

const NAME = /^[a-z][a-z0-9]*$/;
/** Knative's materialisation order: the first non-empty dialect of an object is the one used. */
const DIALECTS = ["exact", "prefix", "suffix", "all", "any", "not", "cesql", "cel"] as const;
type Dialect = (typeof DIALECTS)[number];

const noFilter: CompiledFilter = () => "nofilter";

export type CompileResult = { filter: CompiledFilter } | { causes: FieldError[] };

/** Validate and compile; every cause is reported, with its field path under `spec`. */
export function compileTriggerFilter(spec: TriggerFilterSpec, path = "spec"): CompileResult {
  const causes: FieldError[] = [];
  let filter = noFilter;
  if (spec.filters !== undefined && spec.filters !== null && !Array.isArray(spec.filters)) {
    causes.push({ field: `${path}.filters`, message: "must be a list" });
  } else if (spec.filters && spec.filters.length > 0) {
    filter = all(compileList(spec.filters, `${path}.filters`, causes));
  } else if (spec.filter !== undefined && spec.filter !== null) {
    filter = compileLegacy(spec.filter, `${path}.filter`, causes);
  }
  return causes.length > 0 ? { causes } : { filter };
}

function compileLegacy(filter: unknown, path: string, causes: FieldError[]): CompiledFilter {
  if (typeof filter !== "object" || filter === null || Array.isArray(filter)) {
    causes.push({ field: path, message: "must be an object" });
    return noFilter;
  }
  const f = filter as TriggerFilterSpec["filter"] & Record<string, unknown>;
  for (const key of Object.keys(f)) {
    if (key !== "attributes" && key !== "sourceAndType") causes.push({ field: `${path}.${key}`, message: "unknown field" });
  }
  if (f.attributes !== undefined && f.attributes !== null) {
    const attrs = stringMap(f.attributes, `${path}.attributes`, causes, true);
    return attributesFilter(attrs);
  }
  if (f.sourceAndType !== undefined && f.sourceAndType !== null) {
    const st = stringMap(f.sourceAndType, `${path}.sourceAndType`, causes, true);
    for (const key of Object.keys(st)) {
      if (key !== "source" && key !== "type") causes.push({ field: `${path}.sourceAndType.${key}`, message: "unknown field" });
    }
    return sourceAndTypeFilter(st.source ?? "", st.type ?? "");
  }
  return noFilter;
}

/** Inside lists an object with no dialect is skipped, as Knative does; `undefined` marks that. */
function compileList(list: unknown[], path: string, causes: FieldError[]): CompiledFilter[] {
  const out: CompiledFilter[] = [];
  list.forEach((item, i) => {
    const f = compileOne(item, `${path}[${i}]`, causes);
    if (f) out.push(f);
  });
  return out;
}

function compileOne(item: unknown, path: string, causes: FieldError[]): CompiledFilter | undefined {
  if (typeof item !== "object" || item === null || Array.isArray(item)) {
    causes.push({ field: path, message: "must be an object with one filter dialect" });
    return undefined;
  }
  const obj = item as Record<string, unknown>;
  for (const key of Object.keys(obj)) {
    if (!(DIALECTS as readonly string[]).includes(key)) {
      causes.push({ field: `${path}.${key}`, message: `unknown filter dialect; expected one of ${DIALECTS.join(", ")}` });
    }
  }
  const present = DIALECTS.filter((d) => obj[d] !== undefined && obj[d] !== null);
  if (present.length > 1) {
    causes.push({ field: path, message: `only one dialect per filter object; found ${present.join(", ")}` });
    return undefined;
  }
  const dialect: Dialect | undefined = present[0];
  if (dialect === undefined) return undefined;
  const value = obj[dialect];
  const at = `${path}.${dialect}`;
  switch (dialect) {
    case "exact":
    case "prefix":
    case "suffix": {
      const map = stringMap(value, at, causes, false);
      const keys = Object.keys(map);
      return keys.length === 0 ? undefined : matchFilter(dialect, map);
    }
    case "all":
    case "any": {
      if (!Array.isArray(value)) {
        causes.push({ field: at, message: "must be a list of filters" });
        return undefined;
      }
      const children = compileList(value, at, causes);
      if (children.length === 0) return undefined;
      return dialect === "all" ? all(children) : any(children);
    }
    case "not": {
      if (typeof value !== "object" || Array.isArray(value)) {
        causes.push({ field: at, message: "must be a filter object" });
        return undefined;
      }
      const inner = compileOne(value, at, causes) ?? noFilter;
      return not(inner);
    }
    case "cesql":
    case "cel": {
      if (typeof value !== "string") {
        causes.push({ field: at, message: "must be a string expression" });
        return undefined;
      }
      if (value.trim() === "") return undefined;
      return dialect === "cesql" ? cesqlFilter(value, at, causes) : celFilter(value, at, causes);
    }
    default:
      return unhandled(dialect);
  }
}

/** A dialect in DIALECTS without a case above fails to compile here. */
function unhandled(dialect: never): never {
  throw new Error(`filter dialect ${String(dialect)} has no compiler`);
}

function stringMap(value: unknown, path: string, causes: FieldError[], allowEmptyValue: boolean): Record<string, string> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    causes.push({ field: path, message: "must be a map of attribute names to strings" });
    return {};
  }
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) {
    if (!NAME.test(k)) causes.push({ field: `${path}.${k}`, message: "attribute names must match ^[a-z][a-z0-9]*$" });
    if (typeof v !== "string") causes.push({ field: `${path}.${k}`, message: "must be a string" });
    else if (!allowEmptyValue && v === "") causes.push({ field: `${path}.${k}`, message: "must not be empty" });
    else out[k] = v;
  }
  return out;
}

/** Legacy `filter.attributes`: every key present; "" matches any non-empty value; nil map is NoFilter. */
function attributesFilter(attrs: Record<string, string>): CompiledFilter {
  const entries = Object.entries(attrs);
  return (event) => {
    for (const [name, want] of entries) {
      const got = lookupAttribute(event, name);
      if (got === undefined || (want === "" ? got === "" : got !== want)) return "fail";
    }
    return "pass";
  };
}

/** Knative's older filter: an empty source or type matches anything. */
function sourceAndTypeFilter(source: string, type: string): CompiledFilter {
  return (event) => ((source === "" || event.attributes.source === source) && (type === "" || event.attributes.type === type) ? "pass" : "fail");
}

const MATCHERS = {
  exact: (got: string, want: string) => got === want,
  prefix: (got: string, want: string) => got.startsWith(want),
  suffix: (got: string, want: string) => got.endsWith(want),
};

function matchFilter(kind: keyof typeof MATCHERS, map: Record<string, string>): CompiledFilter {
  const entries = Object.entries(map);
  const match = MATCHERS[kind];
  return (event) => {
    for (const [name, want] of entries) {
      const got = lookupAttribute(event, name);
      if (got === undefined || !match(got, want)) return "fail";
    }
    return "pass";
  };
}

/** `all`: Fail short-circuits; otherwise the last child's result (so NoFilter can come out). */
function all(children: CompiledFilter[]): CompiledFilter {
  if (children.length === 0) return noFilter;
  if (children.length === 1) return children[0];
  return (event, scratch) => {
    let result: FilterResult = "nofilter";
    for (const child of children) {
      result = child(event, scratch);
      if (result === "fail") return "fail";
    }
    return result;
  };
}

/** `any`: Pass short-circuits; otherwise the last child's result, so any(Fail, NoFilter) delivers. */
function any(children: CompiledFilter[]): CompiledFilter {
  if (children.length === 1) return children[0];
  return (event, scratch) => {
    let result: FilterResult = "nofilter";
    for (const child of children) {
      result = child(event, scratch);
      if (result === "pass") return "pass";
    }
    return result;
  };
}

function not(inner: CompiledFilter): CompiledFilter {
  return (event, scratch) => {
    const r = inner(event, scratch);
    return r === "pass" ? "fail" : r === "fail" ? "pass" : "nofilter";
  };
}

/** CESQL passes only on TRUE without error (Knative, CESQL §4.1). */
function cesqlFilter(expression: string, path: string, causes: FieldError[]): CompiledFilter | undefined {
  const compiled = compileCesql(expression);
  if ("error" in compiled) {
    const at = compiled.error.position === undefined ? "" : ` at position ${compiled.error.position}`;
    causes.push({ field: path, message: `CESQL ${compiled.error.kind} error${at}: ${compiled.error.message}` });
    return undefined;
  }
  const { program } = compiled;
  return (event) => {
    const r = program.evaluate(event);
    return r.errors.length === 0 && r.value === true ? "pass" : "fail";
  };
}

/** CEL passes only on `true`; evaluation errors (missing fields, type errors) fail the event. */
function celFilter(expression: string, path: string, causes: FieldError[]): CompiledFilter | undefined {
  const compiled = compileCel(expression);
  if ("error" in compiled) {
    causes.push({ field: path, message: `CEL: ${compiled.error.message}` });
    return undefined;
  }
  const { program } = compiled;
  return (event, scratch) => (program.matches(event, scratch) ? "pass" : "fail");
}
