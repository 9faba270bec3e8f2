/**
 * How long a forge asks us to wait before the next call, read from its answer's headers:
 * `retry-after` (seconds) first, else an exhausted quota's reset time
 * (`x-ratelimit-remaining: 0` with `x-ratelimit-reset`, epoch seconds, as GitHub sends).
 * Null when the answer asks for nothing.
 */
export type ResponseHeaders = Record<string, string | number | undefined>;

export function rateLimitWaitSeconds(headers: ResponseHeaders | undefined, nowMs: number): number | null {
  if (!headers) return null;
  const retryAfter = Number(headers["retry-after"]);
  if (headers["retry-after"] !== undefined && Number.isFinite(retryAfter) && retryAfter >= 0) return retryAfter;
  if (String(headers["x-ratelimit-remaining"]) !== "0") return null;
  const reset = Number(headers["x-ratelimit-reset"]);
  if (headers["x-ratelimit-reset"] === undefined || !Number.isFinite(reset)) return null;
  return Math.max(0, Math.ceil(reset - nowMs / 1000));
}
