/** Tokens of CESQL v1 (spec §2, the cesql@v1.0.0 ANTLR lexer). */

export type TokenKind = "integer" | "string" | "word" | "operator" | "(" | ")" | "," | "end";

export interface Token {
  kind: TokenKind;
  /** Source text; for strings the unescaped value, for operators the operator. */
  text: string;
  position: number;
}

/** A compile-time failure with the offset it refers to. */
export class CesqlSyntaxError extends Error {
  readonly kind: "parse" | "missingFunction";
  readonly position: number;
  constructor(kind: "parse" | "missingFunction", message: string, position: number) {
    super(message);
    this.kind = kind;
    this.position = position;
  }
}

const OPERATORS = ["!=", "<>", "<=", ">=", "=", "<", ">", "+", "-", "*", "/", "%"];

function isWordChar(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f;
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}

export function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < source.length) {
    const c = source.charCodeAt(i);
    const ch = source[i];
    if (isSpace(c)) {
      i++;
    } else if (ch === "(" || ch === ")" || ch === ",") {
      tokens.push({ kind: ch, text: ch, position: i++ });
    } else if (ch === "'" || ch === '"') {
      i = readString(source, i, tokens);
    } else if (isWordChar(c)) {
      const start = i;
      while (i < source.length && isWordChar(source.charCodeAt(i))) i++;
      const text = source.slice(start, i);
      tokens.push({ kind: /^[0-9]+$/.test(text) ? "integer" : "word", text, position: start });
    } else {
      const op = OPERATORS.find((o) => source.startsWith(o, i));
      if (op === undefined) throw new CesqlSyntaxError("parse", `unexpected character ${JSON.stringify(ch)}`, i);
      tokens.push({ kind: "operator", text: op, position: i });
      i += op.length;
    }
  }
  tokens.push({ kind: "end", text: "end of expression", position: source.length });
  return tokens;
}

/**
 * `'...'` or `"..."`. A backslash always pairs with the next character (so `\'` cannot end the
 * literal), and only the escaped delimiter is unescaped: other pairs such as `\%` stay as
 * written for LIKE (as sdk-go does).
 */
function readString(source: string, start: number, tokens: Token[]): number {
  const quote = source[start];
  let value = "";
  let i = start + 1;
  while (i < source.length && source[i] !== quote) {
    if (source[i] === "\\" && i + 1 < source.length) {
      value += source[i + 1] === quote ? quote : source.slice(i, i + 2);
      i += 2;
    } else {
      value += source[i++];
    }
  }
  if (i >= source.length) throw new CesqlSyntaxError("parse", "unterminated string literal", start);
  tokens.push({ kind: "string", text: value, position: start });
  return i + 1;
}
