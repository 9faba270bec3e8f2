/**
 * Opens the store: Postgres when `DATABASE_URL` is given, otherwise the
 * embedded PGlite in `HODEI_DATA_DIR/pg`, run in a store process this one
 * starts and owns (sidecar/), guarded by `HODEI_DATA_DIR/pg.lock` (this
 * process) and `HODEI_DATA_DIR/pg.store.lock` (the store process).
 */
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { PgliteDatabase } from "./adapters/pglite.js";
import { PgliteProcessDatabase } from "./sidecar/store-client.js";
import { PostgresDatabase } from "./adapters/postgres.js";
import type { Database, Queryable, QueryResult, Unlisten } from "./database.js";
import { lockDataDir, type DataDirLock } from "./data-dir-lock.js";
import { StoreFileSystemError } from "./adapters/wasm-errno.js";
import { StoreStartError } from "./errors.js";
import { storeUnavailableReason } from "./store-unavailable.js";

export interface OpenDatabaseOptions {
  /** A Postgres connection string; when set, `dataDir` is not used. */
  databaseUrl?: string;
  /** `HODEI_DATA_DIR`; "memory://" opens a throwaway in-memory PGlite in this process (tests). */
  dataDir: string;
  /** Progress and connection trouble, one line each. */
  log?: (msg: string) => void;
}

export const MEMORY_DATA_DIR = "memory://";

/**
 * How long a new store process waits for the previous one to exit: after a
 * SIGKILL of its server, the old store process rolls back, closes PGlite and
 * exits within 5 s (store-process.ts); the rest is slack for a loaded machine.
 */
const PREVIOUS_STORE_WAIT_MS = 15_000;

export async function openDatabase(opts: OpenDatabaseOptions): Promise<Database> {
  const log = opts.log ?? (() => undefined);
  if (opts.databaseUrl) return new PostgresDatabase({ connectionString: opts.databaseUrl, log });
  if (opts.dataDir === MEMORY_DATA_DIR) return PgliteDatabase.open({ dataDir: MEMORY_DATA_DIR });

  const dataDir = path.resolve(opts.dataDir);
  const pgDir = path.join(dataDir, "pg");
  await mkdir(dataDir, { recursive: true });
  const lock = await lockDataDir(dataDir, path.join(dataDir, "pg.lock"));
  try {
    const firstStart = !existsSync(path.join(pgDir, "PG_VERSION"));
    log(
      firstStart
        ? `Initialising the embedded Postgres in ${pgDir} (first start takes ~15 s)…`
        : `Opening the embedded Postgres in ${pgDir}…`,
    );
    const started = performance.now();
    await mkdir(pgDir, { recursive: true });
    let db: PgliteProcessDatabase;
    try {
      db = await PgliteProcessDatabase.open({ dataDir: pgDir, lockFile: path.join(dataDir, "pg.store.lock"), lockWaitMs: PREVIOUS_STORE_WAIT_MS, log });
    } catch (error) {
      throw embeddedStoreFailure(error, pgDir);
    }
    log(`Embedded Postgres ready in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    return new LockedDatabase(db, lock);
  } catch (err) {
    await lock.release();
    throw err;
  }
}

/**
 * A failure of the embedded store at start in words that say what to do,
 * as a StoreStartError naming HODEI_DATA_DIR, when it is about its disk
 * (full, read-only, not permitted); else `error` as it is.
 */
export function embeddedStoreFailure(error: unknown, pgDir: string): unknown {
  if (error instanceof StoreStartError) return error;
  const what = error instanceof StoreFileSystemError ? error.message : null;
  if (storeUnavailableReason(error) === "disk full") {
    return new StoreStartError(
      "HODEI_DATA_DIR",
      `cannot start the embedded store: no space left on device in ${pgDir}; free space there or point HODEI_DATA_DIR at a larger disk`,
      error,
    );
  }
  if (what) return new StoreStartError("HODEI_DATA_DIR", `cannot start the embedded store: ${what}; check HODEI_DATA_DIR`, error);
  return error;
}

/** The embedded database plus this process's lock, held until closed. */
class LockedDatabase implements Database {
  readonly kind = "pglite";
  constructor(
    private readonly db: Database,
    private readonly lock: DataDirLock,
  ) {}

  query<R = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<QueryResult<R>> {
    return this.db.query<R>(text, params);
  }

  queryUrgent<R = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<QueryResult<R>> {
    return this.db.queryUrgent<R>(text, params);
  }

  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    return this.db.transaction(fn);
  }

  listen(channel: string, onNotify: (payload: string) => void): Promise<Unlisten> {
    return this.db.listen(channel, onNotify);
  }

  async close(): Promise<void> {
    try {
      await this.db.close();
    } finally {
      await this.lock.release();
    }
  }
}
