/**
 * Waiting for the store at start (issue 16): a Postgres that is not up yet
 * (a database container started with the server, a fail-over in progress)
 * is tried again with backoff for at most `waitMs` (HODEI_STORE_WAIT_MS),
 * with one log line per attempt saying what was tried and why it failed.
 * Then, or at once for an answer no retry can change (a wrong password, a
 * database that does not exist), a StoreStartError naming DATABASE_URL.
 */
import { withClockTimeout } from "../engine/clock-timeout.js";
import type { Database } from "./database.js";
import { StoreStartError } from "./errors.js";
import { storeUnavailableReason } from "./store-unavailable.js";

export interface StoreWaitOptions {
  /** The longest to keep trying; 0 tries once. */
  waitMs: number;
  log: (message: string) => void;
  /** First pause between attempts; doubles up to `maxDelayMs`. */
  firstDelayMs?: number;
  maxDelayMs?: number;
  /** The longest one attempt may take (a host that drops packets never refuses). */
  attemptTimeoutMs?: number;
  now?: () => number;
  /** Calls `fn` in `ms`; the result cancels it. Must keep the process alive: nothing else does while the server starts. */
  setTimer?: (fn: () => void, ms: number) => () => void;
}

const refTimer = (fn: () => void, ms: number): (() => void) => {
  const timer = setTimeout(fn, ms);
  return () => clearTimeout(timer);
};

/** `host:port` of a connection string, never its password. */
export function describeDatabaseUrl(url: string): string {
  try {
    const u = new URL(url);
    const host = u.hostname || u.searchParams.get("host") || "localhost";
    return `${host}:${u.port || "5432"}${u.pathname && u.pathname !== "/" ? u.pathname : ""}`;
  } catch {
    return "the server in DATABASE_URL";
  }
}

class AttemptTimeout extends Error {
  constructor(readonly ms: number) {
    super(`no answer within ${ms} ms`);
  }
}

/** Resolves once `db` answers a query; throws StoreStartError when it did not within `waitMs`. */
export async function waitForStore(db: Database, databaseUrl: string, options: StoreWaitOptions): Promise<void> {
  const now = options.now ?? Date.now;
  const setTimer = options.setTimer ?? refTimer;
  const target = `Postgres at ${describeDatabaseUrl(databaseUrl)}`;
  const started = now();
  const deadline = started + options.waitMs;
  const attemptTimeoutMs = options.attemptTimeoutMs ?? 5000;
  let delay = options.firstDelayMs ?? 500;
  for (let attempt = 1; ; attempt++) {
    try {
      await withClockTimeout(db.query("SELECT 1"), attemptTimeoutMs, setTimer, () => new AttemptTimeout(attemptTimeoutMs));
      if (attempt > 1) options.log(`store: ${target} answers (attempt ${attempt}, after ${seconds(now() - started)} s)`);
      return;
    } catch (error) {
      const reason = error instanceof AttemptTimeout ? `timed out: ${error.message}` : storeUnavailableReason(error);
      if (reason === null) {
        throw new StoreStartError("DATABASE_URL", `cannot use the store: ${target} (DATABASE_URL) answered: ${(error as Error).message}`, error);
      }
      const left = deadline - now();
      if (left <= 0) {
        throw new StoreStartError(
          "DATABASE_URL",
          `cannot reach the store: ${target} (DATABASE_URL) did not answer within ${seconds(options.waitMs)} s (HODEI_STORE_WAIT_MS), ` +
            `${attempt} attempt(s); last: ${reason}`,
          error,
        );
      }
      const pause = Math.min(delay, left);
      options.log(`store: ${target} not reachable (${reason}), attempt ${attempt}; next in ${seconds(pause)} s, giving up in ${seconds(left)} s (HODEI_STORE_WAIT_MS)`);
      await new Promise<void>((resolve) => setTimer(resolve, pause));
      delay = Math.min(options.maxDelayMs ?? 5000, delay * 2);
    }
  }
}

function seconds(ms: number): string {
  return (ms / 1000).toFixed(1);
}
