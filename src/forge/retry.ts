/** Retries forge calls that can succeed later (rate limits, 5xx, network), with exponential backoff. */
import { ForgeError } from "./forge.js";

export interface RetryPolicy {
  attempts: number;
  baseMs: number;
  maxMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 6, baseMs: 500, maxMs: 30_000 };

export async function withRetry<T>(fn: () => Promise<T>, policy: RetryPolicy, isStopped: () => boolean = () => false): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (error) {
      const retryable = error instanceof ForgeError && error.retryable;
      if (!retryable || attempt >= policy.attempts || isStopped()) throw error;
      const backoff = Math.min(policy.maxMs, policy.baseMs * 2 ** (attempt - 1));
      const asked = error.retryAfterSeconds !== null ? Math.min(policy.maxMs, error.retryAfterSeconds * 1000) : 0;
      await new Promise((r) => setTimeout(r, Math.max(backoff, asked) * (0.8 + Math.random() * 0.4)));
    }
  }
}
