/**
 * Test databases for both store backends.
 *
 * PGlite always runs. Each `open()` gets a copy of one initialised data
 * directory (made once per machine and PGlite version under the OS temp
 * directory), which opens in about half a second instead of initdb's 3–15 s.
 *
 * Real Postgres runs whenever DATABASE_URL is set: each `open()` creates a
 * fresh `hodei_test_<random>` database on that server, so parallel test files
 * never share state. Databases and data directories are removed after the
 * file only when all of its tests passed, so a failure can be inspected (the
 * paths are printed). With CI set and DATABASE_URL unset, the Postgres suites
 * fail rather than skip.
 */
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { cp, mkdir, mkdtemp, rename, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, beforeEach, describe } from "vitest";
import { PgliteDatabase } from "../../src/store/adapters/pglite.js";
import type { Database, Queryable } from "../../src/store/database.js";
import { migrate } from "../../src/store/migrate.js";
import { openDatabase } from "../../src/store/open.js";

export type StoreKind = "pglite" | "postgres";

export interface TestStore {
  readonly kind: StoreKind;
  /** A new, empty (unmigrated) database. Closed and cleaned up after the file. */
  open(): Promise<Database>;
  /** A new database migrated with the real migrations (src/store/migrations). */
  openMigrated(): Promise<Database>;
  /**
   * Where a new empty database lives, to open it several times: a connection
   * string for Postgres, a HODEI_DATA_DIR for PGlite. Cleaned up after the file.
   */
  create(): Promise<{ databaseUrl?: string; dataDir: string }>;
}

const cleanups: (() => Promise<void>)[] = [];
const kept: string[] = [];

const removals: (() => Promise<void>)[] = [];
let failed = false;

// Registered on the importing test file's root suite, so they cover every test in it.
beforeEach(({ onTestFailed }) => {
  onTestFailed(() => {
    failed = true;
  });
});
afterAll(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  if (failed && kept.length > 0) console.warn(`Kept for inspection:\n  ${kept.join("\n  ")}`);
  for (const removal of failed ? [] : removals.splice(0)) await removal();
});

/** Closes `db` once, however often it is asked to, and again after the file. */
function tracked(db: Database): Database {
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => (closing ??= db.close());
  cleanups.push(close);
  return {
    kind: db.kind,
    query: <R>(text: string, params?: readonly unknown[]) => db.query<R>(text, params),
    queryUrgent: <R>(text: string, params?: readonly unknown[]) => db.queryUrgent<R>(text, params),
    transaction: <T>(fn: (tx: Queryable) => Promise<T>) => db.transaction(fn),
    listen: (channel, onNotify) => db.listen(channel, onNotify),
    close,
  };
}

// --- PGlite ---------------------------------------------------------------

function pgliteVersion(): string {
  const pkg = new URL("../../node_modules/@electric-sql/pglite/package.json", import.meta.url);
  return (JSON.parse(readFileSync(pkg, "utf8")) as { version: string }).version;
}

let template: Promise<string> | undefined;

/** An initialised PGlite data directory shared by all test files (read-only). */
function pgliteTemplate(): Promise<string> {
  template ??= (async () => {
    const dir = path.join(os.tmpdir(), `hodei-pglite-template-${pgliteVersion()}`);
    if (existsSync(path.join(dir, "PG_VERSION"))) return dir;
    const building = await mkdtemp(`${dir}-building-`);
    const db = await PgliteDatabase.open({ dataDir: building });
    await db.close();
    // Atomic publish; a concurrent builder that lost the race just discards its copy.
    await rename(building, dir).catch(async () => rm(building, { recursive: true, force: true }));
    return dir;
  })();
  return template;
}

async function createPgliteDataDir(): Promise<string> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), "hodei-test-"));
  await cp(await pgliteTemplate(), path.join(dataDir, "pg"), { recursive: true });
  kept.push(dataDir);
  removals.push(() => rm(dataDir, { recursive: true, force: true }));
  return dataDir;
}

// --- Postgres -------------------------------------------------------------

function serverUrl(): string {
  const url = process.env.DATABASE_URL;
  if (url) return url;
  throw new Error(
    process.env.CI
      ? "Postgres is required in CI: set DATABASE_URL (e.g. postgres://postgres@127.0.0.1:5432/test)"
      : "DATABASE_URL is not set",
  );
}

async function adminQuery(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: serverUrl() });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

async function createPostgresDatabase(): Promise<string> {
  const name = `hodei_test_${randomBytes(6).toString("hex")}`;
  await adminQuery(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
  const url = new URL(serverUrl());
  url.pathname = `/${name}`;
  kept.push(`${url.origin}/${name}`);
  removals.push(() => adminQuery(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`));
  return url.toString();
}

// --- Public API -----------------------------------------------------------

/** The backends this run covers: PGlite always; Postgres with DATABASE_URL, or in CI (where it then fails). */
export function storeKinds(): StoreKind[] {
  return process.env.DATABASE_URL || process.env.CI ? ["pglite", "postgres"] : ["pglite"];
}

export function testStore(kind: StoreKind): TestStore {
  const create = async (): Promise<{ databaseUrl?: string; dataDir: string }> =>
    kind === "postgres"
      ? // A data directory of its own, not the shared tmpdir: a control plane removes what it finds in
        // checkouts/ and sources/ at start (leftovers.ts), which deleted concurrent tests' run files.
        { databaseUrl: await createPostgresDatabase(), dataDir: await tempDir("hodei-pgdata-") }
      : { dataDir: await createPgliteDataDir() };
  const open = async (): Promise<Database> => tracked(await openDatabase(await create()));
  return {
    kind,
    create,
    open,
    async openMigrated() {
      const db = await open();
      await migrate(db);
      return db;
    },
  };
}

/** Runs `fn` as a suite once per backend in `storeKinds()`. */
export function describeEachStore(name: string, fn: (store: TestStore) => void): void {
  for (const kind of storeKinds()) {
    describe(`${name} [${kind}]`, () => {
      if (kind === "postgres") {
        beforeAll(() => {
          serverUrl(); // throws in CI without DATABASE_URL
        });
      }
      fn(testStore(kind));
    });
  }
}

/**
 * A suite only Postgres can run (connections, concurrency across processes).
 * Defined when `storeKinds()` includes Postgres, so in CI it fails without DATABASE_URL.
 */
export function describePostgres(name: string, fn: (store: TestStore) => void): void {
  if (!storeKinds().includes("postgres")) return;
  describe(`${name} [postgres]`, () => {
    beforeAll(() => {
      serverUrl();
    });
    fn(testStore("postgres"));
  });
}

/** A migrated database of `kind` for other test files; closed and cleaned up after the file. */
export function openTestDatabase(kind: StoreKind = process.env.DATABASE_URL ? "postgres" : "pglite"): Promise<Database> {
  return testStore(kind).openMigrated();
}

/** Makes a directory for a test's own files, removed after a passing file. */
export async function tempDir(prefix = "hodei-test-"): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  await mkdir(dir, { recursive: true });
  kept.push(dir);
  removals.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}
