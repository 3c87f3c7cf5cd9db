/**
 * ISO 8601 durations as Knative's DeliverySpec writes them (`PT0.2S`, `PT1M`, `P1D`).
 * Years and months have no fixed length: they are refused, as a delivery delay never needs them.
 */
const DURATION = /^P(?:(\d+(?:\.\d+)?)W)?(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$/;
const UNIT_MS = [7 * 86_400_000, 86_400_000, 3_600_000, 60_000, 1_000];

/** Milliseconds, or null when `text` is not such a duration. */
export function parseDuration(text: string): number | null {
  const m = DURATION.exec(text);
  if (!m || text === "P" || text.endsWith("T")) return null;
  let ms = 0;
  for (let i = 0; i < UNIT_MS.length; i++) if (m[i + 1] !== undefined) ms += Number(m[i + 1]) * UNIT_MS[i];
  return Math.round(ms);
}
