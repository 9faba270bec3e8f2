/** Sizes as pipelines and server settings write them: `512m`, `2g`, `64k`, or bytes (also as a number). Null when it is not one. */
const UNITS: Record<string, number> = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

export function parseSize(value: string | number): number | null {
  if (typeof value === "number") return Number.isInteger(value) && value > 0 ? value : null;
  const m = /^(\d+)([kmg]?)i?b?$/i.exec(value.trim());
  const unit = UNITS[(m?.[2] ?? "").toLowerCase()];
  if (!m?.[1] || unit === undefined || Number(m[1]) === 0) return null;
  return Number(m[1]) * unit;
}

/** Docker refuses containers with less memory than this. */
export const MIN_CONTAINER_MEMORY = 6 * 1024 ** 2;
