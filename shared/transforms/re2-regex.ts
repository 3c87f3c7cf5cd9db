/**
 * JSONata's regular expressions on RE2 (re2js), in time linear in the input, whatever the pattern: JSONata
 * takes the engine as its `RegexEngine` option and uses only what this class has (`lastIndex` and `exec`
 * of a global RegExp). A literal `/.../i` keeps its meaning except for what RE2 leaves out on purpose
 * (backreferences, lookahead), which is refused when the expression is compiled.
 */
import { RE2JS } from "re2js";

type Match = string[] & { index: number };

export class Re2Regex {
  lastIndex = 0;
  private readonly re: RE2JS;
  private input: string | null = null;
  private matcher: ReturnType<RE2JS["matcher"]> | null = null;
  /** Told how many characters each search read, so that a run can bound its regular-expression work. */
  private readonly scanned: (chars: number) => void;

  /** `pattern` is the RegExp JSONata's parser made of a literal; only its source and `i`/`m` flags are used. */
  constructor(pattern: RegExp, scanned: (chars: number) => void = () => {}) {
    const flags = (pattern.flags.includes("i") ? RE2JS.CASE_INSENSITIVE : 0) | (pattern.flags.includes("m") ? RE2JS.MULTILINE : 0);
    this.re = RE2JS.compile(RE2JS.translateRegExp(pattern.source), flags);
    this.scanned = scanned;
  }

  /** As RegExp.prototype.exec with the `g` flag: the next match at or after `lastIndex`, which moves past it. */
  exec(input: string): Match | null {
    if (this.input !== input) [this.input, this.matcher] = [input, this.re.matcher(input)];
    const from = this.lastIndex;
    const matcher = this.matcher!;
    if (from > input.length || !matcher.find(from)) {
      this.scanned(input.length - Math.min(from, input.length));
      this.lastIndex = 0;
      return null;
    }
    this.scanned(Math.max(matcher.end() - from, 1));
    const groups = [matcher.group(0) ?? ""];
    for (let i = 1; i <= matcher.groupCount(); i++) groups.push(matcher.group(i) ?? (undefined as never));
    this.lastIndex = matcher.end();
    return Object.assign(groups, { index: matcher.start() });
  }
}
