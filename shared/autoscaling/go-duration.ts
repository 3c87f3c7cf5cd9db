/**
 * Go's `time.ParseDuration` syntax, which Knative's annotations use ("60s", "1m30s", "1.5h"),
 * restricted to the units an autoscaler needs. Returns seconds, or null when malformed.
 */
const UNIT_SEC: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600 };
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h)/y;

export function parseGoDuration(text: string): number | null {
  if (text === "0") return 0;
  let sec = 0;
  PART.lastIndex = 0;
  let matched = 0;
  while (PART.lastIndex < text.length) {
    const m = PART.exec(text);
    if (!m) return null;
    sec += Number(m[1]) * UNIT_SEC[m[2]];
    matched++;
  }
  return matched > 0 ? sec : null;
}
