/**
 * Which store errors mean "the store is unavailable" (transient: the same
 * call can succeed once the store answers again) rather than "this call is
 * wrong" (a constraint violation, a syntax error: retrying cannot help).
 *
 * Transient: the server refused or dropped the connection, was shut down by
 * an operator or a crash, cannot accept connections yet, or has no room to
 * write (Postgres SQLSTATE 53100 disk_full, ENOSPC from PGlite's file system).
 */

/** Why the store could not be reached, in words for an operator's log line. */
export type StoreUnavailableReason = "connection refused" | "connection lost" | "store shutting down" | "store starting up" | "disk full" | "timed out";

/** Node socket error codes that mean the connection could not be made or was lost. */
const CONNECTION_CODES: Record<string, StoreUnavailableReason> = {
  ECONNREFUSED: "connection refused",
  ECONNRESET: "connection lost",
  EPIPE: "connection lost",
  ENOTCONN: "connection lost",
  EHOSTUNREACH: "connection refused",
  ENETUNREACH: "connection refused",
  ETIMEDOUT: "timed out",
  ENOSPC: "disk full",
  EDQUOT: "disk full",
};

/** Postgres SQLSTATEs of an unavailable server (class 08 connection exceptions, 57P0x shutdowns, 53100 disk full). */
const SQLSTATES: Record<string, StoreUnavailableReason> = {
  "08000": "connection lost",
  "08003": "connection lost",
  "08006": "connection lost",
  "08001": "connection refused",
  "08004": "connection refused",
  "57P01": "store shutting down", // admin_shutdown
  "57P02": "store shutting down", // crash_shutdown
  "57P03": "store starting up", // cannot_connect_now
  "53100": "disk full",
};

/** Messages of `pg` (and PGlite) that carry no code. */
const MESSAGES: [RegExp, StoreUnavailableReason][] = [
  [/connection terminated/i, "connection lost"],
  [/connection (?:was )?closed|client has encountered a connection error|not queryable/i, "connection lost"],
  [/the database system is (?:starting up|in recovery mode)/i, "store starting up"],
  [/the database system is shutting down|terminating connection due to administrator command/i, "store shutting down"],
  [/no space left on device|could not extend file/i, "disk full"],
  [/timeout exceeded when trying to connect/i, "timed out"],
];

/**
 * The reason the store is unavailable if `error` says so, else null (the
 * error is about the call itself and must not be retried as an outage).
 * Looks through `cause` chains and AggregateErrors (`pg` reports a refused
 * dual-stack connect as one).
 */
export function storeUnavailableReason(error: unknown, depth = 0): StoreUnavailableReason | null {
  if (depth > 5 || typeof error !== "object" || error === null) return null;
  const e = error as { code?: unknown; errno?: unknown; message?: unknown; cause?: unknown; errors?: unknown };
  if (typeof e.code === "string") {
    const byCode = CONNECTION_CODES[e.code] ?? SQLSTATES[e.code];
    if (byCode) return byCode;
    // Any other SQLSTATE is the server answering about this statement.
    if (/^[0-9A-Z]{5}$/.test(e.code)) return null;
  }
  if (typeof e.message === "string") {
    for (const [pattern, reason] of MESSAGES) if (pattern.test(e.message)) return reason;
  }
  if (Array.isArray(e.errors)) {
    for (const inner of e.errors) {
      const reason = storeUnavailableReason(inner, depth + 1);
      if (reason) return reason;
    }
  }
  return e.cause === undefined ? null : storeUnavailableReason(e.cause, depth + 1);
}

export function isStoreUnavailable(error: unknown): boolean {
  return storeUnavailableReason(error) !== null;
}

/**
 * The line a background pass logs when it fails, or null: a store outage is
 * named once while it lasts (`wasDown`: the pass before failed the same way),
 * in the words the rest of the server uses, never as a raw socket error.
 */
export function passFailureLine(error: unknown, wasDown: boolean): { line: string | null; storeDown: boolean } {
  const reason = storeUnavailableReason(error);
  if (reason) return { line: wasDown ? null : `pass failed, tried again when the store answers: ${reason}`, storeDown: true };
  return { line: `pass failed: ${error instanceof Error ? error.message : String(error)}`, storeDown: false };
}
