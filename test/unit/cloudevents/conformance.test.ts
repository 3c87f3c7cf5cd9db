/**
 * The upstream conformance data (cloudevents/conformance YAML events, the HTTP binding's Gherkin
 * feature) and the official JSON Schema, read in place.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import type { CloudEvent } from "../../../shared/cloudevents/index.ts";
import { decodeHttp, decodeStructured, encodeBinary, encodeStructured } from "../../../shared/cloudevents/index.ts";
import { LIMITS, REQUIRED, enc, expectRefused, only, post, structured, testdata } from "./helpers.ts";

interface YamlEvent {
  file: string;
  ContextAttributes: Record<string, string | Record<string, string>>;
  TransportExtensions?: Record<string, string>;
  Data?: string;
}

/** Every event of the YAML files, every scalar a string (the failsafe schema keeps `1.0` as "1.0"). */
const yamlEvents: YamlEvent[] = ["yaml/v1.yaml", "yaml/v03.yaml", "yaml/v1.0/v1_minimum.yaml", "yaml/v0.3/v03_minimum.yaml"].flatMap((file) =>
  parseAllDocuments(readFileSync(testdata(file), "utf8"), { schema: "failsafe" }).map((doc) => ({ file, ...(doc.toJS() as Omit<YamlEvent, "file">) })),
);

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** Attributes as the YAML states them, extensions flattened (HTTP trims header values). */
function expectedAttributes(event: YamlEvent, trim: boolean): Record<string, string> {
  const { Extensions, ...core } = event.ContextAttributes as Record<string, string> & { Extensions?: Record<string, string> };
  const out: Record<string, string> = { ...core };
  for (const [name, value] of Object.entries(Extensions ?? {})) out[name] = trim ? value.trim() : value;
  return out;
}

/** The structured body the conformance tool would send: data as JSON when the media type allows. */
function structuredBody(attributes: Record<string, string>, data: string | undefined): string {
  const members = Object.entries(attributes).map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`);
  const contentType = attributes.datacontenttype;
  const jsonType = contentType === undefined || /json/.test(contentType);
  if (data !== undefined) members.push(`"data":${jsonType && isJson(data) ? data : JSON.stringify(data)}`);
  return `{${members.join(",")}}`;
}

/**
 * Both round trips. Structured: the same event, except that whitespace around a binary-mode JSON
 * body is not part of a JSON member's value. Binary: the same strings and the same bytes.
 */
function expectRoundTrips(event: CloudEvent) {
  const data = event.data?.kind === "json" ? { kind: "json", json: event.data.json.trim() } : event.data;
  expect(decodeStructured(encodeStructured(event))).toEqual(data ? { ...event, data } : event);
  const { headers, body } = encodeBinary(event);
  const back = only(decodeHttp(headers, body ?? new Uint8Array(), LIMITS));
  const strings = Object.fromEntries(Object.entries(event.attributes).map(([k, v]) => [k, String(v)]));
  if (event.data?.kind === "json" && strings.datacontenttype === undefined) strings.datacontenttype = "application/json";
  expect(back.attributes).toEqual(strings);
  const bytes = (e: CloudEvent) =>
    !e.data ? undefined : e.data.kind === "binary" ? e.data.bytes : enc.encode(e.data.kind === "json" ? e.data.json : e.data.text);
  expect(bytes(back)).toEqual(bytes(event));
}

describe("conformance YAML events", () => {
  it("reads every event of the four files", () => {
    expect(yamlEvents).toHaveLength(15);
  });

  describe.each(yamlEvents.map((e, i) => [`${e.file} #${i} ${e.ContextAttributes.id}`, e] as const))("%s", (_, event) => {
    it("decodes in binary mode, data byte for byte, and round-trips", () => {
      const attributes = expectedAttributes(event, true);
      const headers: Record<string, string> = { ...event.TransportExtensions };
      for (const [name, value] of Object.entries(attributes)) {
        headers[name === "datacontenttype" ? "content-type" : `ce-${name}`] = value;
      }
      const decoded = only(post(headers, event.Data));
      expect(decoded.attributes).toEqual(attributes);
      const contentType = attributes.datacontenttype;
      if (contentType !== undefined && /json/.test(contentType)) {
        expect(decoded.data).toEqual({ kind: "json", json: event.Data });
      } else {
        expect(decoded.data).toEqual({ kind: "binary", bytes: enc.encode(event.Data) });
      }
      expectRoundTrips(decoded);
    });

    it("decodes in structured mode, data as it came, and round-trips", () => {
      const attributes = expectedAttributes(event, true);
      const decoded = only(structured(structuredBody(attributes, event.Data)));
      expect(decoded.attributes).toEqual(attributes);
      const contentType = attributes.datacontenttype;
      const jsonType = contentType === undefined || /json/.test(contentType);
      const expected = jsonType && isJson(event.Data!) ? { kind: "json", json: event.Data!.trim() } : { kind: "text", text: event.Data };
      expect(decoded.data).toEqual(expected);
      expectRoundTrips(decoded);
    });
  });

  it("refuses the extension value with the YAML block scalar's newline in structured mode (core spec: no control characters)", () => {
    const event = yamlEvents.find((e) => e.file === "yaml/v1.yaml")!;
    const attributes = expectedAttributes(event, false);
    expect(attributes.comexampleextension2).toBe('{"othervalue": 5}\n');
    expectRefused(structured(structuredBody(attributes, event.Data)), 400, "comexampleextension2");
  });
});

interface Scenario {
  request: string;
  attributes: [string, string][];
  dataJson: string;
  examples: string[];
}

/** Doc strings lose the indentation of their opening quotes, as Gherkin says. */
function docString(lines: string[], from: number): { text: string; end: number } {
  const indent = lines[from].indexOf('"""');
  let end = from + 1;
  while (!lines[end].trim().startsWith('"""')) end++;
  return {
    text: lines
      .slice(from + 1, end)
      .map((l) => l.slice(indent))
      .join("\n"),
    end,
  };
}

function tableCells(line: string): string[] {
  return line
    .trim()
    .slice(1, -1)
    .split("|")
    .map((c) => c.trim());
}

/** The Scenario Outlines of the HTTP binding feature. */
function scenarios(): Scenario[] {
  const lines = readFileSync(testdata("features/http-protocol-binding.feature"), "utf8").split("\n");
  const out: Scenario[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i].trim().startsWith("Scenario Outline:")) continue;
    const scenario: Scenario = { request: "", attributes: [], dataJson: "", examples: [] };
    let section = "";
    for (i++; i < lines.length && !lines[i].trim().startsWith("Scenario"); i++) {
      const line = lines[i].trim();
      if (line.startsWith('"""')) {
        const { text, end } = docString(lines, i);
        if (section === "request") scenario.request = text;
        else scenario.dataJson = text;
        i = end;
      } else if (line.startsWith("Given an HTTP request")) section = "request";
      else if (line.startsWith("Then the attributes are")) section = "attributes";
      else if (line.startsWith("And the data is equal")) section = "data";
      else if (line.startsWith("Examples:")) section = "examples";
      else if (line.startsWith("|")) {
        const cells = tableCells(line);
        if (section === "attributes" && cells[0] !== "key") scenario.attributes.push([cells[0], cells[1]]);
        if (section === "examples" && cells[0] !== "contentType") scenario.examples.push(cells[0]);
      }
    }
    i--;
    out.push(scenario);
  }
  return out;
}

/** A raw HTTP/1.1 request: header lines, blank line, body. */
function parseRequest(raw: string): { headers: Record<string, string>; body: string } {
  const blank = raw.indexOf("\n\n");
  const headers: Record<string, string> = {};
  for (const line of raw.slice(0, blank).split("\n").slice(1)) {
    const colon = line.indexOf(":");
    headers[line.slice(0, colon).trim()] = line.slice(colon + 1).trim();
  }
  return { headers, body: raw.slice(blank + 2) };
}

describe("HTTP protocol binding feature", () => {
  const rows = scenarios().flatMap((s) => s.examples.map((contentType) => ({ ...s, contentType })));

  it("has its 4 example rows", () => {
    expect(rows).toHaveLength(4);
  });

  it.each(rows.map((r) => [r.contentType, r] as const))("Content-Type %s", (contentType, row) => {
    const { headers, body } = parseRequest(row.request.replaceAll("<contentType>", contentType));
    const decoded = only(post(headers, body));
    const expected = Object.fromEntries(row.attributes.map(([k, v]) => [k, v.replace("<contentType>", contentType)]));
    expect(decoded.attributes).toEqual(expected);
    if (decoded.data?.kind !== "json") throw new Error(`expected JSON data, got ${decoded.data?.kind}`);
    expect(JSON.parse(decoded.data.json)).toEqual(JSON.parse(row.dataJson));
    // Byte-faithful: the data is the very text of the body (binary) or of the data member (structured).
    expect(body.includes(decoded.data.json)).toBe(true);
  });
});

describe("JSON Schema (spec-schema/cloudevents.json)", () => {
  const schema = JSON.parse(readFileSync(testdata("spec-schema/cloudevents.json"), "utf8")) as {
    required: string[];
    properties: Record<string, { $ref: string; examples?: unknown[] }>;
    definitions: Record<string, { type: string | string[]; minLength?: number; format?: string }>;
  };
  const definition = (name: string) => schema.definitions[schema.properties[name].$ref.split("/").pop()!];
  const attributeNames = Object.keys(schema.properties).filter((n) => n !== "data" && n !== "data_base64");

  it.each(schema.required)("refuses an event without required %s", (name) => {
    const event: Record<string, unknown> = { ...REQUIRED };
    delete event[name];
    expectRefused(structured(event), 400, name);
  });

  it.each(attributeNames.flatMap((n) => (schema.properties[n].examples ?? []).map((v) => [n, v] as const)))(
    "accepts the example %s = %j and keeps it",
    (name, value) => {
      const decoded = only(structured({ ...REQUIRED, [name]: value }));
      expect(decoded.attributes[name]).toBe(value);
    },
  );

  it.each(attributeNames.filter((n) => definition(n).minLength === 1))("refuses an empty %s", (name) => {
    expectRefused(structured({ ...REQUIRED, [name]: "" }), 400, name);
  });

  it.each(attributeNames.filter((n) => ([] as string[]).concat(definition(n).type).includes("null")))("reads %s: null as absent", (name) => {
    const decoded = only(structured({ ...REQUIRED, [name]: null }));
    expect(decoded.attributes).toEqual(REQUIRED);
  });

  it.each(attributeNames.filter((n) => !([] as string[]).concat(definition(n).type).includes("null")))("refuses %s: null (required)", (name) => {
    expectRefused(structured({ ...REQUIRED, [name]: null }), 400, name);
  });

  it.each(attributeNames)("refuses a non-string %s", (name) => {
    expectRefused(structured({ ...REQUIRED, [name]: 42 }), 400, name);
  });

  const formatCases: Record<string, [string, string]> = {
    "date-time": ["2018-04-05T17:31:00Z", "2018-04-05 17:31:00"],
    uri: ["https://example.com/schema.json", "/schema.json"],
    "uri-reference": ["/sensors/tn-1234567/alerts", "not a uri"],
  };
  it.each(attributeNames.filter((n) => definition(n).format !== undefined))("checks the format of %s", (name) => {
    const [good, bad] = formatCases[definition(name).format!];
    expect(only(structured({ ...REQUIRED, [name]: good })).attributes[name]).toBe(good);
    expectRefused(structured({ ...REQUIRED, [name]: bad }), 400, name);
  });

  it.each((definition("data").type as string[]).map((t) => [t] as const))("keeps data of JSON type %s as its exact text", (type) => {
    const samples: Record<string, string> = {
      object: '{ "a" : 1.0 }',
      string: '"<much wow=\\"xml\\"/>"',
      number: "1.50",
      array: "[ 0 , false ]",
      boolean: "false",
      null: "null",
    };
    const body = `{"specversion":"1.0","id":"1","source":"/s","type":"t","data":${samples[type]}}`;
    expect(only(structured(body)).data).toEqual({ kind: "json", json: samples[type] });
  });

  it("decodes the data_base64 example to bytes", () => {
    const decoded = only(structured({ ...REQUIRED, data_base64: schema.properties.data_base64.examples![0] }));
    expect(decoded.data).toEqual({ kind: "binary", bytes: enc.encode("foob") });
  });
});
