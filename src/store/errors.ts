/**
 * Store errors. Each carries the data a caller needs to act on it, and
 * `retryable` says whether trying the same thing again can help.
 */

export abstract class StoreError extends Error {
  abstract readonly retryable: boolean;
}

/** COMMIT answered ROLLBACK: a statement failed inside the transaction and was caught. */
export class TransactionAbortedError extends StoreError {
  override readonly name = "TransactionAbortedError";
  readonly retryable = false;
  constructor() {
    super("COMMIT rolled back a transaction in which a statement had failed");
  }
}

/** Another live process holds the embedded database's directory. */
export class DataDirInUseError extends StoreError {
  override readonly name = "DataDirInUseError";
  readonly retryable = true;
  constructor(
    readonly dataDir: string,
    readonly pid: number,
    readonly lockFile: string,
  ) {
    super(
      `HODEI_DATA_DIR ${dataDir} is in use by process ${pid}; stop it, or point HODEI_DATA_DIR elsewhere ` +
        `(if no such process runs, remove ${lockFile})`,
    );
  }
}

/** The embedded store's process (store-process.ts) exited; what was in flight did not complete. */
export class StoreProcessExitedError extends StoreError {
  override readonly name = "StoreProcessExitedError";
  readonly retryable = false;
  constructor(
    readonly pid: number,
    readonly exitCode: number | null,
    readonly signal: NodeJS.Signals | null,
  ) {
    super(`the embedded store's process (pid ${pid}) exited (${signal ? `signal ${signal}` : `code ${exitCode}`})`);
  }
}

/** The migrations on disk disagree with the ones recorded in the database. */
export class MigrationMismatchError extends StoreError {
  override readonly name = "MigrationMismatchError";
  readonly retryable = false;
  constructor(
    readonly version: number,
    readonly recordedName: string,
    readonly fileName: string | undefined,
    readonly dir: string,
  ) {
    super(
      fileName === undefined
        ? `migration ${version} (${recordedName}) is recorded in hodei_migrations but its file is missing from ${dir}`
        : `migration ${version} is recorded as "${recordedName}" but the file in ${dir} is "${fileName}"; ` +
            `applied migrations must not be renamed or edited`,
    );
  }
}

/** A migration file that breaks the NNNN_name.sql rules. */
export class MigrationFileError extends StoreError {
  override readonly name = "MigrationFileError";
  readonly retryable = false;
  constructor(
    readonly file: string,
    readonly reason: string,
  ) {
    super(`migration file ${file}: ${reason}`);
  }
}

/** A migration's SQL failed; its transaction was rolled back and it stays unapplied. */
export class MigrationFailedError extends StoreError {
  override readonly name = "MigrationFailedError";
  readonly retryable = false;
  constructor(
    readonly version: number,
    readonly migrationName: string,
    /** The failing statement's SQLSTATE (not `code`, so it is never mistaken for a race). */
    readonly sqlState: string | undefined,
    override readonly cause: unknown,
  ) {
    super(`migration ${version}_${migrationName} failed${sqlState ? ` (SQLSTATE ${sqlState})` : ""}: ${String(cause)}`, {
      cause,
    });
  }
}

/**
 * The store could not be used at start: not reachable within the wait, or
 * it refused us, or its data directory cannot hold it. `setting` names the
 * variable to look at; `hodei` exits with 69 on it (README "Exit codes").
 */
export class StoreStartError extends StoreError {
  override readonly name = "StoreStartError";
  readonly retryable = false;
  constructor(
    readonly setting: "DATABASE_URL" | "HODEI_DATA_DIR",
    message: string,
    override readonly cause: unknown,
  ) {
    super(message, { cause });
  }
}
