/**
 * When a failed forge report is tried again: exponential backoff up to a
 * cap, and never sooner than the forge asked (retry-after, or the reset of
 * an exhausted rate-limit quota, see rate-limit.ts). There is no last try:
 * a report is retried until it lands or the forge refuses it for good.
 */
import { ForgeError } from "./forge.js";

export interface ReportBackoff {
  /** The wait after the first failure; doubled after each further one. */
  baseMs: number;
  /** The longest wait backoff alone reaches (HODEI_FORGE_REPORT_MAX_BACKOFF_MS). */
  maxMs: number;
}

export const DEFAULT_REPORT_BACKOFF: ReportBackoff = { baseMs: 1000, maxMs: 300_000 };

/** A rate-limit wait longer than this (a clock far off) is not believed. */
const LONGEST_ASKED_MS = 3_600_000;

/**
 * The wait after failure number `attempts` (1 = the first). `jitter` (about
 * 1, e.g. 0.8-1.2) spreads servers that failed together; the forge's asked
 * wait is honoured as it is.
 */
export function reportDelayMs(attempts: number, policy: ReportBackoff, askedSeconds: number | null, jitter = 1): number {
  const backoff = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, attempts - 1)) * jitter;
  const asked = askedSeconds !== null ? Math.min(LONGEST_ASKED_MS, askedSeconds * 1000) : 0;
  return Math.round(Math.max(backoff, asked));
}

/**
 * A refusal that no retry can change: a 4xx other than a rate limit (the
 * repository or check is gone, the body is invalid, no permission), or a
 * request that could not even be made (no App installation). Network
 * errors, 5xx, rate limits and anything that is not a forge answer (a
 * store outage while rendering) are tried again.
 */
export function isPermanentRefusal(error: unknown): error is ForgeError {
  return error instanceof ForgeError && !error.retryable;
}
