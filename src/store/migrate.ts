/**
 * Numbered, forward-only SQL migrations, applied at start (the
 * graphile-worker model).
 *
 * Each migration runs in its own transaction, which first takes a
 * transaction-level advisory lock, then inserts its version row, then runs
 * the SQL. Two processes migrating at once therefore queue on the lock, and
 * the later one fails the insert with a unique violation (23505), re-reads
 * the table and moves on. A migration that fails rolls back with its row.
 * Migration files must not contain BEGIN/COMMIT.
 */
import type { Database, Queryable } from "./database.js";
import { MigrationFailedError, MigrationMismatchError } from "./errors.js";
import { defaultMigrationsDir, listMigrations, readMigration, type MigrationFile } from "./migration-files.js";

export interface MigrateOptions {
  /** Defaults to the shipped `src/store/migrations` (see migration-files.ts). */
  dir?: string;
}

export interface MigrateResult {
  /** Migrations this call applied, as `NNNN_name`, in order. */
  applied: string[];
}

/** Key of the advisory lock serialising migrations ("hodei" in ASCII, then 1). */
export const MIGRATION_LOCK_KEY = 0x686f64656901;

const UNIQUE_VIOLATION = "23505";

interface AppliedRow {
  version: number;
  name: string;
}

function sqlState(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

const label = (m: { version: number; name: string }): string => `${String(m.version).padStart(4, "0")}_${m.name}`;

async function lock(tx: Queryable): Promise<void> {
  await tx.query("SELECT pg_advisory_xact_lock($1)", [MIGRATION_LOCK_KEY]);
}

async function readApplied(db: Database): Promise<Map<number, string>> {
  return db.transaction(async (tx) => {
    await lock(tx);
    await tx.query(
      `CREATE TABLE IF NOT EXISTS hodei_migrations (
         version int PRIMARY KEY,
         name text NOT NULL,
         applied_at timestamptz NOT NULL DEFAULT now()
       )`,
    );
    const { rows } = await tx.query<AppliedRow>("SELECT version, name FROM hodei_migrations ORDER BY version");
    return new Map(rows.map((r) => [r.version, r.name]));
  });
}

function checkRecorded(applied: Map<number, string>, files: MigrationFile[], dir: string): void {
  const byVersion = new Map(files.map((f) => [f.version, f]));
  for (const [version, name] of applied) {
    const file = byVersion.get(version);
    if (file?.name !== name) throw new MigrationMismatchError(version, name, file && label(file), dir);
  }
}

async function apply(db: Database, m: MigrationFile, sql: string): Promise<boolean> {
  try {
    await db.transaction(async (tx) => {
      await lock(tx);
      await tx.query("INSERT INTO hodei_migrations (version, name) VALUES ($1, $2)", [m.version, m.name]);
      try {
        await tx.query(sql);
      } catch (err) {
        throw new MigrationFailedError(m.version, m.name, sqlState(err), err);
      }
    });
    return true;
  } catch (err) {
    if (sqlState(err) === UNIQUE_VIOLATION) return false; // another process applied it first
    throw err;
  }
}

export async function migrate(db: Database, opts: MigrateOptions = {}): Promise<MigrateResult> {
  const dir = opts.dir ?? defaultMigrationsDir();
  const files = await listMigrations(dir);
  let recorded = await readApplied(db);
  checkRecorded(recorded, files, dir);
  const applied: string[] = [];
  for (const m of files) {
    if (recorded.has(m.version)) continue;
    if (await apply(db, m, await readMigration(m))) {
      applied.push(label(m));
    } else {
      recorded = await readApplied(db);
      checkRecorded(recorded, files, dir);
    }
  }
  return { applied };
}
