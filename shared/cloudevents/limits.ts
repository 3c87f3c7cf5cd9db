/**
 * Size limits of context attributes (docs/SECURITY.md). The core specification sets none, but every
 * attribute of an accepted event is kept in memory and storage (source and id in the dedup index for its
 * whole window), so an unbounded one is a way to exhaust a broker. Sizes are UTF-8 bytes, as on the wire;
 * an id or source of a few hundred bytes is plenty (EventBridge: source 256, detail-type 128; Pub/Sub:
 * 100 attributes, values of 1,024 bytes).
 */
export const ATTRIBUTE_LIMITS = {
  /** Characters of an attribute name (the specification says SHOULD be at most 20). */
  nameChars: 64,
  /** Attributes of one event, required ones included; each entry of a 0.3 Map counts as one. */
  count: 100,
  /** UTF-8 bytes of all names and values of one event together. */
  totalBytes: 32 * 1024,
  /** UTF-8 bytes of a value of any attribute not listed in `valueBytesOf`. */
  valueBytes: 4 * 1024,
  valueBytesOf: {
    id: 512,
    source: 1024,
    type: 256,
    subject: 1024,
    datacontenttype: 1024,
    dataschema: 2048,
    schemaurl: 2048,
  } as Readonly<Record<string, number>>,
} as const;

/** The most UTF-8 bytes a value of attribute `name` may take. */
export function valueLimitOf(name: string): number {
  return Object.hasOwn(ATTRIBUTE_LIMITS.valueBytesOf, name) ? ATTRIBUTE_LIMITS.valueBytesOf[name] : ATTRIBUTE_LIMITS.valueBytes;
}

/** UTF-8 bytes of a well-formed string (a surrogate pair counts 2 + 2); one pass over its code units. */
export function utf8Length(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) n += c >= 0x800 && (c < 0xd800 || c > 0xdfff) ? 2 : 1;
  }
  return n;
}

/** A name or value as an error message may quote it: at most 64 characters. */
export function quoted(s: string): string {
  return JSON.stringify(s.length > 64 ? `${s.slice(0, 64)}...` : s);
}
