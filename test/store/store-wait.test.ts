/** Waiting for the store at start (src/store/store-wait.ts), on virtual time. */
import { describe, expect, it } from "vitest";
import type { Database } from "../../src/store/database.js";
import { StoreStartError } from "../../src/store/errors.js";
import { describeDatabaseUrl, waitForStore } from "../../src/store/store-wait.js";
import { VirtualClock } from "../helpers/virtual-clock.js";

const refused = () => Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:6543"), { code: "ECONNREFUSED" });

/** A store whose `select 1` fails with what `answers` gives for each attempt (null: it answers). */
function storeAnswering(answers: (attempt: number) => Error | null): { db: Database; attempts: () => number } {
  let attempts = 0;
  const db = {
    query: () => {
      const error = answers(++attempts);
      return error ? Promise.reject(error) : Promise.resolve({ rows: [{ "?column?": 1 }], rowCount: 1 });
    },
  } as unknown as Database;
  return { db, attempts: () => attempts };
}

/** Runs the wait on `clock`, moving time on until it settles. */
async function waitOn(clock: VirtualClock, db: Database, waitMs: number, lines: string[]): Promise<unknown> {
  let outcome: { error?: unknown } | null = null;
  waitForStore(db, "postgres://hodei:secret@db.internal:6543/hodei", {
    waitMs,
    log: (l) => lines.push(l),
    now: () => clock.now().getTime(),
    setTimer: (fn, ms) => clock.setTimer(fn, ms),
  }).then(
    () => (outcome = {}),
    (error: unknown) => (outcome = { error }),
  );
  // Each attempt's failure is handled before time moves on.
  const settle = () => new Promise<void>((r) => setImmediate(r));
  await settle();
  while (!outcome) await clock.advance(100, settle);
  return (outcome as { error?: unknown }).error;
}

describe("waiting for the store at start", () => {
  it("tries again with backoff, one line per attempt, until the store answers", async () => {
    const clock = new VirtualClock();
    const lines: string[] = [];
    const { db, attempts } = storeAnswering((n) => (n < 4 ? refused() : null));
    const started = clock.now().getTime();
    expect(await waitOn(clock, db, 60_000, lines)).toBeUndefined();
    expect(attempts()).toBe(4);
    // 0.5 s, 1 s, 2 s between the attempts.
    expect(clock.now().getTime() - started).toBeGreaterThanOrEqual(3500);
    expect(lines).toEqual([
      "store: Postgres at db.internal:6543/hodei not reachable (connection refused), attempt 1; next in 0.5 s, giving up in 60.0 s (HODEI_STORE_WAIT_MS)",
      "store: Postgres at db.internal:6543/hodei not reachable (connection refused), attempt 2; next in 1.0 s, giving up in 59.5 s (HODEI_STORE_WAIT_MS)",
      "store: Postgres at db.internal:6543/hodei not reachable (connection refused), attempt 3; next in 2.0 s, giving up in 58.5 s (HODEI_STORE_WAIT_MS)",
      "store: Postgres at db.internal:6543/hodei answers (attempt 4, after 3.5 s)",
    ]);
    expect(lines.join("\n")).not.toContain("secret");
  });

  it("gives up after the wait with an error naming DATABASE_URL and HODEI_STORE_WAIT_MS", async () => {
    const clock = new VirtualClock();
    const lines: string[] = [];
    const { db, attempts } = storeAnswering(() => refused());
    const error = await waitOn(clock, db, 10_000, lines);
    expect(error).toBeInstanceOf(StoreStartError);
    expect((error as StoreStartError).setting).toBe("DATABASE_URL");
    expect((error as Error).message).toBe(
      `cannot reach the store: Postgres at db.internal:6543/hodei (DATABASE_URL) did not answer within 10.0 s (HODEI_STORE_WAIT_MS), ${attempts()} attempt(s); last: connection refused`,
    );
    expect(lines).toHaveLength(attempts() - 1);
  });

  it("does not wait for an answer no retry changes", async () => {
    const clock = new VirtualClock();
    const lines: string[] = [];
    const denied = Object.assign(new Error('password authentication failed for user "hodei"'), { code: "28P01" });
    const { db, attempts } = storeAnswering(() => denied);
    const error = await waitOn(clock, db, 60_000, lines);
    expect((error as Error).message).toBe('cannot use the store: Postgres at db.internal:6543/hodei (DATABASE_URL) answered: password authentication failed for user "hodei"');
    expect([attempts(), lines]).toEqual([1, []]);
  });

  it("with no wait, tries once", async () => {
    const clock = new VirtualClock();
    const { db, attempts } = storeAnswering(() => refused());
    expect(await waitOn(clock, db, 0, [])).toBeInstanceOf(StoreStartError);
    expect(attempts()).toBe(1);
  });

  it("names a connection string's host and port, never its password", () => {
    expect(describeDatabaseUrl("postgres://u:pw@10.0.0.5/ci")).toBe("10.0.0.5:5432/ci");
    expect(describeDatabaseUrl("not a url")).toBe("the server in DATABASE_URL");
  });
});
