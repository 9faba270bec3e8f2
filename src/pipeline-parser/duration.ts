const DURATION = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/;

/** Default stage timeout: 60 minutes. */
export const DEFAULT_TIMEOUT_SECONDS = 3600;

/**
 * Seconds in `90s`, `10m`, `1h30m`, `"120"` or `120`; null if the text is
 * not a duration. Zero is returned as 0 so callers can say why it is refused.
 */
export function parseDuration(value: string | number): number | null {
  if (typeof value === "number") return Number.isSafeInteger(value) && value >= 0 ? value : null;
  if (/^\d+$/.test(value)) return safe(Number(value));
  const m = DURATION.exec(value);
  if (!m || value === "") return null;
  const [, h, min, s] = m;
  return safe(Number(h ?? 0) * 3600 + Number(min ?? 0) * 60 + Number(s ?? 0));
}

function safe(n: number): number | null {
  return Number.isSafeInteger(n) ? n : null;
}
