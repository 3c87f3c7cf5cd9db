/**
 * A validating JSON scanner that reports where values start and end instead of building them,
 * so the codec can keep `data` as the exact text it arrived as (RFC 8259 grammar).
 */

/** Deepest nesting of arrays and objects accepted in one value (such as an event's data). */
export const MAX_JSON_DEPTH = 512;

export class JsonSyntaxError extends Error {
  readonly position: number;
  constructor(message: string, position: number) {
    super(`invalid JSON at position ${position}: ${message}`);
    this.position = position;
  }
}

const TAB = 0x09,
  LF = 0x0a,
  CR = 0x0d,
  SPACE = 0x20,
  QUOTE = 0x22,
  PLUS = 0x2b,
  COMMA = 0x2c;
const MINUS = 0x2d,
  DOT = 0x2e,
  ZERO = 0x30,
  NINE = 0x39,
  COLON = 0x3a,
  LBRACKET = 0x5b;
const BACKSLASH = 0x5c,
  RBRACKET = 0x5d,
  LBRACE = 0x7b,
  RBRACE = 0x7d;

export function unexpected(text: string, pos: number, expected: string): JsonSyntaxError {
  const found = pos >= text.length ? "end of input" : JSON.stringify(text[pos]);
  return new JsonSyntaxError(`expected ${expected}, found ${found}`, pos);
}

export function skipWhitespace(text: string, pos: number): number {
  for (;;) {
    const c = text.charCodeAt(pos);
    if (c !== SPACE && c !== LF && c !== CR && c !== TAB) return pos;
    pos++;
  }
}

/** Requires the character code `code` at `pos`; returns the position after it. */
export function expectChar(text: string, pos: number, code: number): number {
  if (text.charCodeAt(pos) !== code) throw unexpected(text, pos, JSON.stringify(String.fromCharCode(code)));
  return pos + 1;
}

function isHex(c: number): boolean {
  return (c >= ZERO && c <= NINE) || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x66);
}

/** `pos` at an opening quote; returns the position after the closing quote. */
export function scanString(text: string, pos: number): number {
  pos = expectChar(text, pos, QUOTE);
  for (;;) {
    const c = text.charCodeAt(pos);
    if (c === QUOTE) return pos + 1;
    if (Number.isNaN(c)) throw new JsonSyntaxError("unterminated string", pos);
    if (c < SPACE) throw new JsonSyntaxError("control character in string (must be escaped)", pos);
    if (c === BACKSLASH) {
      const e = text[pos + 1];
      if (e === "u") {
        for (let i = 2; i < 6; i++) {
          if (!isHex(text.charCodeAt(pos + i))) throw new JsonSyntaxError("invalid \\u escape", pos);
        }
        pos += 6;
        continue;
      }
      if (e === undefined || !'"\\/bfnrt'.includes(e)) throw new JsonSyntaxError("invalid escape", pos);
      pos += 2;
      continue;
    }
    pos++;
  }
}

/** The value of a string literal that scanString accepted, between `start` and `end`. */
export function decodeString(text: string, start: number, end: number): string {
  const inner = text.slice(start + 1, end - 1);
  // Escapes are rare; when present the engine's parser decodes the already-validated literal.
  return inner.includes("\\") ? (JSON.parse(text.slice(start, end)) as string) : inner;
}

function scanDigits(text: string, pos: number): number {
  const start = pos;
  while (text.charCodeAt(pos) >= ZERO && text.charCodeAt(pos) <= NINE) pos++;
  if (pos === start) throw unexpected(text, pos, "a digit");
  return pos;
}

function scanNumber(text: string, pos: number): number {
  if (text.charCodeAt(pos) === MINUS) pos++;
  if (text.charCodeAt(pos) === ZERO) pos++;
  else pos = scanDigits(text, pos);
  if (text.charCodeAt(pos) === DOT) pos = scanDigits(text, pos + 1);
  if ((text.charCodeAt(pos) | 0x20) === 0x65) {
    pos++;
    const sign = text.charCodeAt(pos);
    if (sign === PLUS || sign === MINUS) pos++;
    pos = scanDigits(text, pos);
  }
  return pos;
}

function scanLiteral(text: string, pos: number, word: string): number {
  if (!text.startsWith(word, pos)) throw unexpected(text, pos, "a JSON value");
  return pos + word.length;
}

/** A string, number, true, false or null at `pos`; returns its end. */
function scanScalar(text: string, pos: number): number {
  const c = text.charCodeAt(pos);
  if (c === QUOTE) return scanString(text, pos);
  if (c === MINUS || (c >= ZERO && c <= NINE)) return scanNumber(text, pos);
  if (c === 0x74) return scanLiteral(text, pos, "true");
  if (c === 0x66) return scanLiteral(text, pos, "false");
  if (c === 0x6e) return scanLiteral(text, pos, "null");
  throw unexpected(text, pos, "a JSON value");
}

/** `pos` at a member name; returns the position of the member's value. */
function scanMemberName(text: string, pos: number): number {
  pos = scanString(text, pos);
  pos = expectChar(text, skipWhitespace(text, pos), COLON);
  return skipWhitespace(text, pos);
}

/**
 * One JSON value starting exactly at `pos`; returns the position just after it. Iterative, so
 * nesting costs no call stack; MAX_JSON_DEPTH bounds it.
 */
export function scanValue(text: string, pos: number): number {
  const closers: number[] = [];
  for (;;) {
    const c = text.charCodeAt(pos);
    if (c === LBRACE || c === LBRACKET) {
      if (closers.length === MAX_JSON_DEPTH) throw new JsonSyntaxError(`nested deeper than ${MAX_JSON_DEPTH} levels`, pos);
      const close = c === LBRACE ? RBRACE : RBRACKET;
      pos = skipWhitespace(text, pos + 1);
      if (text.charCodeAt(pos) === close) {
        pos++;
      } else {
        closers.push(close);
        if (close === RBRACE) pos = scanMemberName(text, pos);
        continue;
      }
    } else {
      pos = scanScalar(text, pos);
    }
    // A value ended: close finished containers until one continues with a comma.
    for (;;) {
      if (closers.length === 0) return pos;
      pos = skipWhitespace(text, pos);
      const close = closers[closers.length - 1];
      const next = text.charCodeAt(pos);
      if (next === close) {
        closers.pop();
        pos++;
      } else if (next === COMMA) {
        pos = skipWhitespace(text, pos + 1);
        if (close === RBRACE) pos = scanMemberName(text, pos);
        break;
      } else {
        throw unexpected(text, pos, `"," or "${String.fromCharCode(close)}"`);
      }
    }
  }
}

/** True when the whole of `text` is one JSON value (surrounding whitespace allowed). */
export function isJsonText(text: string): boolean {
  try {
    return skipWhitespace(text, scanValue(text, skipWhitespace(text, 0))) === text.length;
  } catch (e) {
    if (e instanceof JsonSyntaxError) return false;
    throw e;
  }
}

/** Throws unless only whitespace follows `pos`. */
export function expectEnd(text: string, pos: number): void {
  pos = skipWhitespace(text, pos);
  if (pos !== text.length) throw unexpected(text, pos, "end of input");
}

export const CHAR = { QUOTE, COMMA, COLON, LBRACE, RBRACE, LBRACKET, RBRACKET } as const;
