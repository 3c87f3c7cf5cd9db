/**
 * The flat XML that Alibaba's RocketMQ HTTP API and MNS speak: a root holding records whose
 * children are text (plain, entity-escaped or CDATA). No attributes are read, no element nests
 * one of its own name, so a small reader suffices; anything else is not these APIs' XML.
 */

const ENTITIES: Record<string, string> = { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" };
const CDATA_OPEN = "<![CDATA[";
const CDATA_CLOSE = "]]>";

/**
 * Every scan here moves forward only: the XML comes from a bridge over the network, and patterns that
 * backtrack over unterminated CDATA sections took seconds for a few dozen of them.
 */

/**
 * The start tag `<name ...>` or `<name .../>` at `at` (a `<` followed by `name`): where it ends and whether it
 * closes itself; "other" when a longer name begins there; "unterminated" when no `>` follows at all.
 */
function startTag(xml: string, at: number, name: string): { end: number; empty: boolean } | "other" | "unterminated" {
  const next = xml[at + 1 + name.length];
  if (next !== ">" && next !== "/" && !/\s/.test(next ?? "")) return "other";
  const close = xml.indexOf(">", at + 1 + name.length);
  if (close < 0) return "unterminated";
  return { end: close + 1, empty: xml[close - 1] === "/" };
}

/** Whether `</name>` (with optional white space before `>`) begins at `at`; its end if so. */
function endTag(xml: string, at: number, name: string): number | undefined {
  if (!xml.startsWith(`</${name}`, at)) return undefined;
  let i = at + 2 + name.length;
  while (/\s/.test(xml[i] ?? "")) i++;
  return xml[i] === ">" ? i + 1 : undefined;
}

/** The raw content of every `<name>` element, in document order (self-closing ones are ""). */
export function xmlElements(xml: string, name: string): string[] {
  const out: string[] = [];
  // Once a CDATA section is found unterminated, every later one is too: no need to search again.
  let cdataEndsFrom = 0;
  let i = xml.indexOf(`<${name}`);
  while (i >= 0) {
    const tag = startTag(xml, i, name);
    if (tag === "unterminated") break;
    if (tag === "other") {
      i = xml.indexOf(`<${name}`, i + 1);
      continue;
    }
    if (tag.empty) {
      out.push("");
      i = xml.indexOf(`<${name}`, tag.end);
      continue;
    }
    let p = tag.end;
    let end: number | undefined;
    // The content skips CDATA sections whole, so a body may contain `</Name>` inside CDATA.
    for (p = xml.indexOf("<", p); p >= 0; p = xml.indexOf("<", p)) {
      if (xml.startsWith(CDATA_OPEN, p) && cdataEndsFrom >= 0) {
        const close = xml.indexOf(CDATA_CLOSE, p + CDATA_OPEN.length);
        if (close >= 0) {
          p = close + CDATA_CLOSE.length;
          continue;
        }
        cdataEndsFrom = -1;
      }
      end = endTag(xml, p, name);
      if (end !== undefined) break;
      p++;
    }
    if (end === undefined) break; // no closing tag: not these APIs' XML
    out.push(xml.slice(tag.end, p));
    i = xml.indexOf(`<${name}`, end);
  }
  return out;
}

/** The decoded text of the first `<name>` element, or undefined when there is none. */
export function xmlText(xml: string, name: string): string | undefined {
  const raw = xmlElements(xml, name)[0];
  return raw === undefined ? undefined : decodeXmlText(raw);
}

/** The name of the document's root element, after the prolog's declarations and comments. */
export function xmlRoot(xml: string): string | undefined {
  let i = 0;
  for (;;) {
    while (/\s/.test(xml[i] ?? "")) i++;
    const skip = xml.startsWith("<?", i) ? "?>" : xml.startsWith("<!--", i) ? "-->" : undefined;
    if (!skip) break;
    const close = xml.indexOf(skip, i + 2);
    if (close < 0) return undefined;
    i = close + skip.length;
  }
  return /^<([A-Za-z_][\w.-]*)/.exec(xml.slice(i, i + 256))?.[1];
}

/** Text with CDATA sections unwrapped and entities decoded; an unterminated CDATA section stays as text. */
export function decodeXmlText(raw: string): string {
  let out = "";
  let i = 0;
  while (i < raw.length) {
    const cdata = raw.indexOf(CDATA_OPEN, i);
    const close = cdata < 0 ? -1 : raw.indexOf(CDATA_CLOSE, cdata + CDATA_OPEN.length);
    if (close < 0) return out + decodeEntities(raw.slice(i));
    out += decodeEntities(raw.slice(i, cdata)) + raw.slice(cdata + CDATA_OPEN.length, close);
    i = close + CDATA_CLOSE.length;
  }
  return out;
}

function decodeEntities(text: string): string {
  // Bounded: an entity name is at most 10 characters, so this pattern cannot backtrack far.
  return text.replace(/&(#x[0-9a-fA-F]{1,6}|#[0-9]{1,7}|[a-z]{1,8});/g, (whole, entity: string) => {
    const code = entity.startsWith("#x") ? parseInt(entity.slice(2), 16) : entity.startsWith("#") ? parseInt(entity.slice(1), 10) : undefined;
    if (code === undefined) return ENTITIES[entity] ?? whole;
    return code <= 0x10ffff ? String.fromCodePoint(code) : whole;
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
