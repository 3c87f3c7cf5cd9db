/**
 * The LIKE matcher (spec §3.4.3): `%` is any run of characters, `_` exactly one character
 * (a Unicode code point), `\%` and `\_` match themselves. As in sdk-go, a `\` before any other
 * character is an ordinary character, so `'ab\c' LIKE 'ab\c'` is true.
 * Matching is a linear scan with one backtrack point (O(text x pattern) at worst), never a regex.
 */
const ANY_ONE = -1;
const ANY_RUN = -2;

export type LikeMatcher = (text: string) => boolean;

export function compileLike(pattern: string): LikeMatcher {
  const codes: number[] = [];
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern.charCodeAt(i);
    const next = pattern[i + 1];
    if (c === 0x5c && (next === "%" || next === "_")) {
      codes.push(next.charCodeAt(0));
      i++;
    } else if (c === 0x25) {
      if (codes[codes.length - 1] !== ANY_RUN) codes.push(ANY_RUN);
    } else {
      codes.push(c === 0x5f ? ANY_ONE : c);
    }
  }
  return shortcut(codes) ?? ((text) => matches(text, codes));
}

/** Exact, prefix, suffix and infix patterns (the Subscriptions API dialects written in CESQL) need no scan. */
function shortcut(codes: number[]): LikeMatcher | undefined {
  if (codes.includes(ANY_ONE)) return undefined;
  const runs = codes.reduce((n, c) => (c === ANY_RUN ? n + 1 : n), 0);
  const starts = codes[0] === ANY_RUN;
  const ends = codes[codes.length - 1] === ANY_RUN;
  const literal = String.fromCharCode(...codes.filter((c) => c !== ANY_RUN));
  if (runs === 0) return (text) => text === literal;
  if (runs === 1 && ends) return (text) => text.startsWith(literal);
  if (runs === 1 && starts) return (text) => text.endsWith(literal);
  if (runs === 2 && starts && ends) return (text) => text.includes(literal);
  return undefined;
}

function isHighSurrogatePair(text: string, i: number): boolean {
  const c = text.charCodeAt(i);
  if (c < 0xd800 || c > 0xdbff || i + 1 >= text.length) return false;
  const d = text.charCodeAt(i + 1);
  return d >= 0xdc00 && d <= 0xdfff;
}

function matches(text: string, codes: number[]): boolean {
  let t = 0;
  let p = 0;
  let runAt = -1; // pattern index just after the last `%`
  let runText = 0; // text index that `%` currently extends to
  while (t < text.length) {
    const code = p < codes.length ? codes[p] : ANY_RUN - 1;
    if (code === ANY_RUN) {
      runAt = ++p;
      runText = t;
    } else if (code === ANY_ONE) {
      t += isHighSurrogatePair(text, t) ? 2 : 1;
      p++;
    } else if (code === text.charCodeAt(t)) {
      t++;
      p++;
    } else if (runAt >= 0) {
      runText += isHighSurrogatePair(text, runText) ? 2 : 1;
      t = runText;
      p = runAt;
    } else {
      return false;
    }
  }
  while (p < codes.length && codes[p] === ANY_RUN) p++;
  return p === codes.length;
}
