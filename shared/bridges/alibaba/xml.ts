/**
 * The flat XML that Alibaba's RocketMQ HTTP API and MNS speak: a root holding records whose
 * children are text (plain, entity-escaped or CDATA). No attributes are read, no element nests
 * one of its own name, so a small reader suffices; anything else is not these APIs' XML.
 */

const ENTITIES: Record<string, string> = { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" };

function elementPattern(name: string): RegExp {
  // The content skips CDATA sections whole, so a body may contain `</Name>` inside CDATA.
  return new RegExp(`<${name}(?:\\s[^>]*)?(?:/>|>((?:<!\\[CDATA\\[[\\s\\S]*?\\]\\]>|[^<]|<(?!/${name}\\s*>))*)</${name}\\s*>)`, "g");
}

/** The raw content of every `<name>` element, in document order (self-closing ones are ""). */
export function xmlElements(xml: string, name: string): string[] {
  return [...xml.matchAll(elementPattern(name))].map((m) => m[1] ?? "");
}

/** The decoded text of the first `<name>` element, or undefined when there is none. */
export function xmlText(xml: string, name: string): string | undefined {
  const raw = xmlElements(xml, name)[0];
  return raw === undefined ? undefined : decodeXmlText(raw);
}

/** The name of the document's root element. */
export function xmlRoot(xml: string): string | undefined {
  return /<([A-Za-z_][\w.-]*)/.exec(xml.replace(/<\?[\s\S]*?\?>|<!--[\s\S]*?-->/g, ""))?.[1];
}

export function decodeXmlText(raw: string): string {
  return raw.replace(/<!\[CDATA\[([\s\S]*?)\]\]>|&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);/g, (whole, cdata: string | undefined, entity: string | undefined) => {
    if (cdata !== undefined) return cdata;
    if (entity!.startsWith("#x")) return String.fromCodePoint(parseInt(entity!.slice(2), 16));
    if (entity!.startsWith("#")) return String.fromCodePoint(parseInt(entity!.slice(1), 10));
    return ENTITIES[entity!] ?? whole;
  });
}

export function xmlEscape(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&${Object.keys(ENTITIES).find((k) => ENTITIES[k] === c)};`);
}

/** An `<Error>` document (`Code`, `Message`, `RequestId`, `HostId`). */
export interface AliyunError {
  code: string;
  message: string;
  requestId?: string;
}

export function parseAliyunError(xml: string): AliyunError | undefined {
  if (xmlRoot(xml) !== "Error") return undefined;
  return { code: xmlText(xml, "Code") ?? "", message: xmlText(xml, "Message") ?? "", requestId: xmlText(xml, "RequestId") };
}
