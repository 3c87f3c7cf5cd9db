/**
 * CESQL v1 parser: tokens to a syntax tree, following the precedence of the cesql@v1.0.0 ANTLR
 * grammar (spec §2, §3.6), highest first: function calls, NOT, unary minus, LIKE, EXISTS, IN,
 * `* / %`, `+ -`, comparisons, then AND/OR/XOR as one right-associative level (so
 * `a AND b OR c` is `a AND (b OR c)`, exactly as sdk-go and Knative evaluate it).
 */
import { CesqlSyntaxError, tokenize, type Token } from "./lexer.ts";
import { INT_MAX, INT_MIN, type Value } from "./types.ts";

export type LogicOp = "AND" | "OR" | "XOR";
export type BinaryOp = "=" | "!=" | "<" | "<=" | ">" | ">=" | "+" | "-" | "*" | "/" | "%";

export type Node =
  | { type: "literal"; value: Value; position: number }
  | { type: "attribute"; name: string; position: number }
  | { type: "exists"; name: string; position: number }
  | { type: "not" | "negate"; operand: Node; position: number }
  | { type: "binary"; op: BinaryOp; left: Node; right: Node; position: number }
  /** A run of one logic operator, evaluated left to right: `a OR b OR c`. */
  | { type: "logic"; op: LogicOp; operands: Node[]; position: number }
  | { type: "like"; operand: Node; pattern: string; negated: boolean; position: number }
  | { type: "in"; operand: Node; set: Node[]; negated: boolean; position: number }
  | { type: "call"; name: string; args: Node[]; position: number };

/** Longest accepted expression, in UTF-16 code units. */
export const MAX_EXPRESSION_LENGTH = 16384;
/** Deepest nesting of parentheses, prefix operators and calls. */
export const MAX_NESTING = 64;

const KEYWORDS = new Set(["AND", "OR", "XOR", "NOT", "LIKE", "IN", "EXISTS", "TRUE", "FALSE"]);
const IDENTIFIER = /^[a-zA-Z0-9]+$/;
const FUNCTION_NAME = /^[a-zA-Z][a-zA-Z_]*$/;

const COMPARISON = 1;
const ADDITIVE = 2;
const MULTIPLICATIVE = 3;
const IN = 4;
const LIKE = 5;

const BINARY: Record<string, { op: BinaryOp; precedence: number }> = {
  "=": { op: "=", precedence: COMPARISON },
  "!=": { op: "!=", precedence: COMPARISON },
  "<>": { op: "!=", precedence: COMPARISON },
  "<": { op: "<", precedence: COMPARISON },
  "<=": { op: "<=", precedence: COMPARISON },
  ">": { op: ">", precedence: COMPARISON },
  ">=": { op: ">=", precedence: COMPARISON },
  "+": { op: "+", precedence: ADDITIVE },
  "-": { op: "-", precedence: ADDITIVE },
  "*": { op: "*", precedence: MULTIPLICATIVE },
  "/": { op: "/", precedence: MULTIPLICATIVE },
  "%": { op: "%", precedence: MULTIPLICATIVE },
};

export function parse(source: string): Node {
  if (source.length > MAX_EXPRESSION_LENGTH) {
    throw new CesqlSyntaxError("parse", `expression is ${source.length} characters long; the limit is ${MAX_EXPRESSION_LENGTH}`, MAX_EXPRESSION_LENGTH);
  }
  if (source.trim() === "") throw new CesqlSyntaxError("parse", "empty expression", 0);
  return new Parser(tokenize(source)).parseAll();
}

function keyword(token: Token): string | undefined {
  if (token.kind !== "word") return undefined;
  const upper = token.text.toUpperCase();
  return KEYWORDS.has(upper) ? upper : undefined;
}

class Parser {
  private readonly tokens: Token[];
  private at = 0;
  private depth = 0;

  constructor(tokens: Token[]) {
    this.tokens = tokens;
  }

  parseAll(): Node {
    const node = this.parseLogic();
    const rest = this.peek();
    if (rest.kind !== "end") throw this.unexpected(rest, "an operator or the end of the expression");
    return node;
  }

  private peek(offset = 0): Token {
    return this.tokens[Math.min(this.at + offset, this.tokens.length - 1)];
  }

  private next(): Token {
    const token = this.peek();
    if (token.kind !== "end") this.at++;
    return token;
  }

  private expect(kind: Token["kind"], what: string): Token {
    const token = this.next();
    if (token.kind !== kind) throw this.unexpected(token, what);
    return token;
  }

  private unexpected(token: Token, expected: string): CesqlSyntaxError {
    const found = token.kind === "end" ? "end of expression" : token.kind === "string" ? "string literal" : `'${token.text}'`;
    return new CesqlSyntaxError("parse", `expected ${expected}, found ${found}`, token.position);
  }

  private nest<T>(position: number, parse: () => T): T {
    if (++this.depth > MAX_NESTING) throw new CesqlSyntaxError("parse", `nesting deeper than ${MAX_NESTING} levels`, position);
    const node = parse();
    this.depth--;
    return node;
  }

  /**
   * The logic level. Right-associative: `a AND b OR c` is `a AND (b OR c)`. A run of one operator
   * is one node, since `a OR (b OR c)` and `(a OR b) OR c` evaluate alike (left to right, fail-fast).
   */
  private parseLogic(): Node {
    const operands = [this.parseBinary(COMPARISON)];
    const ops: { op: LogicOp; position: number }[] = [];
    for (let op = keyword(this.peek()); op === "AND" || op === "OR" || op === "XOR"; op = keyword(this.peek())) {
      ops.push({ op, position: this.next().position });
      operands.push(this.parseBinary(COMPARISON));
    }
    if (ops.length === 0) return operands[0];
    let run: Node[] = [operands[operands.length - 1]];
    let { op, position } = ops[ops.length - 1];
    let changes = 0;
    for (let i = ops.length - 1; i >= 0; i--) {
      if (ops[i].op !== op) {
        if (++changes > MAX_NESTING) throw new CesqlSyntaxError("parse", `more than ${MAX_NESTING} alternations of AND, OR and XOR in a row`, ops[i].position);
        run = [{ type: "logic", op, operands: run.reverse(), position }];
        op = ops[i].op;
      }
      position = ops[i].position;
      run.push(operands[i]);
    }
    return { type: "logic", op, operands: run.reverse(), position };
  }

  /** Precedence climbing over comparison, additive and multiplicative operators and postfix IN/LIKE. */
  private parseBinary(min: number): Node {
    let left = this.parseUnary();
    for (;;) {
      const token = this.peek();
      const kw = keyword(token);
      const negated = kw === "NOT" && (keyword(this.peek(1)) === "LIKE" || keyword(this.peek(1)) === "IN");
      const postfix = negated ? keyword(this.peek(1)) : kw;
      if (postfix === "LIKE" && LIKE >= min) {
        if (negated) this.next();
        this.next();
        const pattern = this.expect("string", "a string literal as LIKE pattern");
        left = { type: "like", operand: left, pattern: pattern.text, negated, position: token.position };
      } else if (postfix === "IN" && IN >= min) {
        if (negated) this.next();
        this.next();
        left = { type: "in", operand: left, set: this.parseList(true), negated, position: token.position };
      } else if (token.kind === "operator" && BINARY[token.text].precedence >= min) {
        this.next();
        const { op, precedence } = BINARY[token.text];
        const right = this.parseBinary(precedence + 1);
        left = { type: "binary", op, left, right, position: token.position };
      } else {
        return left;
      }
    }
  }

  private parseUnary(): Node {
    const token = this.peek();
    const kw = keyword(token);
    if (kw === "NOT") {
      this.next();
      return this.nest(token.position, () => ({ type: "not", operand: this.parseUnary(), position: token.position }));
    }
    if (kw === "EXISTS") {
      this.next();
      return { type: "exists", name: this.identifier(this.next()), position: token.position };
    }
    if (token.kind === "operator" && (token.text === "-" || token.text === "+") && this.peek(1).kind === "integer") {
      this.next();
      return this.integer(this.next(), token.text === "-", token.position);
    }
    if (token.kind === "operator" && token.text === "-") {
      this.next();
      return this.nest(token.position, () => ({ type: "negate", operand: this.parseUnary(), position: token.position }));
    }
    return this.parsePrimary();
  }

  private parsePrimary(): Node {
    const token = this.next();
    switch (token.kind) {
      case "integer":
        return this.integer(token, false, token.position);
      case "string":
        return { type: "literal", value: token.text, position: token.position };
      case "(":
        return this.nest(token.position, () => {
          const inner = this.parseLogic();
          this.expect(")", "')'");
          return inner;
        });
      case "word": {
        const kw = keyword(token);
        if (kw === "TRUE" || kw === "FALSE") return { type: "literal", value: kw === "TRUE", position: token.position };
        if (kw !== undefined) throw this.unexpected(token, "a value");
        if (this.peek().kind === "(") return this.call(token);
        return { type: "attribute", name: this.identifier(token), position: token.position };
      }
      default:
        throw this.unexpected(token, "a value");
    }
  }

  private call(name: Token): Node {
    if (!FUNCTION_NAME.test(name.text)) {
      throw new CesqlSyntaxError("parse", `invalid function name '${name.text}': letters and '_', starting with a letter`, name.position);
    }
    const args = this.nest(name.position, () => this.parseList(false));
    return { type: "call", name: name.text.toUpperCase(), args, position: name.position };
  }

  /** `( expr, ... )`: a set for IN (at least one element) or call arguments (may be empty). */
  private parseList(nonEmpty: boolean): Node[] {
    this.expect("(", nonEmpty ? "'(' opening the IN set" : "'('");
    const items: Node[] = [];
    if (!nonEmpty && this.peek().kind === ")") {
      this.next();
      return items;
    }
    for (;;) {
      items.push(this.parseLogic());
      const token = this.next();
      if (token.kind === ")") return items;
      if (token.kind !== ",") throw this.unexpected(token, "',' or ')'");
    }
  }

  private identifier(token: Token): string {
    if (token.kind !== "word" || keyword(token) !== undefined || !IDENTIFIER.test(token.text)) {
      throw this.unexpected(token, "an attribute name ([a-z0-9]+)");
    }
    return token.text.toLowerCase();
  }

  private integer(token: Token, negative: boolean, position: number): Node {
    const value = Number(negative ? `-${token.text}` : token.text);
    if (value < INT_MIN || value > INT_MAX) {
      throw new CesqlSyntaxError("parse", `integer literal ${negative ? "-" : ""}${token.text} is outside the 32-bit range`, position);
    }
    return { type: "literal", value: value === 0 ? 0 : value, position };
  }
}
