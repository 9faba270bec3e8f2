/**
 * The store port on PGlite, Postgres compiled to WASM, embedded in the process.
 *
 * PGlite has a single connection. `db.transaction` holds PGlite's transaction
 * mutex, and plain `db.query` calls wait on the same mutex, so a query issued
 * while a transaction runs waits for it rather than joining it (tested in
 * test/store/pglite.test.ts). The corollary: inside `transaction(fn)`, `fn`
 * must use its `tx`, never the database, or it waits for itself.
 */
import { PGlite, TransactionAbortedError as PgliteAbortedError, type Results } from "@electric-sql/pglite";
import pg from "pg";
import type { Database, Queryable, QueryResult, Unlisten } from "../database.js";
import { ChannelHandlers } from "../channel-handlers.js";
import { TransactionAbortedError } from "../errors.js";
import { INT8_ARRAY_OID, INT8_OID, parseInt8 } from "../int8.js";
import { fromWasmErrno } from "./wasm-errno.js";

export interface PgliteOptions {
  /** A directory, or "memory://" for a throwaway in-memory database. */
  dataDir: string;
  /** Postgres settings (`-c name=value` at start), on top of PGlite's own start parameters. */
  settings?: Readonly<Record<string, string>>;
}

/**
 * The embedded store's settings. PGlite's WASM heap touches all of
 * shared_buffers at start: its default 128MB alone is ~115 MB of RSS, idle.
 * 16MB keeps the working set of a CI server (run events, leases, deliveries)
 * and leaves the rest to the OS page cache, which PGlite reads through.
 */
export const EMBEDDED_SETTINGS: Readonly<Record<string, string>> = { shared_buffers: "16MB" };

function toResult<R>(res: Results<R>): QueryResult<R> {
  // `rowCount` is the command tag's count, as pg reports it; older PGlite
  // versions only have the cumulative `affectedRows`.
  return { rows: res.rows, rowCount: res.rowCount ?? res.affectedRows ?? res.rows.length };
}

function parseInt8Array(text: string): (number | null)[] {
  // int8[] literals are `{1,2,NULL}`: no quoting or nesting for integers.
  const inner = text.slice(1, -1);
  if (inner === "") return [];
  return inner.split(",").map((x) => (x === "NULL" ? null : parseInt8(x)));
}

interface PgliteQueryable {
  query<T>(query: string, params?: unknown[]): Promise<Results<T>>;
  exec(query: string): Promise<Results[]>;
}

function queryable(target: PgliteQueryable): Queryable {
  return {
    async query<R>(text: string, params?: readonly unknown[]): Promise<QueryResult<R>> {
      if (params && params.length > 0) return toResult(await target.query<R>(text, [...params]));
      // Without parameters pg uses the simple protocol, which allows several
      // statements (migrations); exec is PGlite's equivalent.
      const results = await target.exec(text);
      const last = results[results.length - 1];
      return last ? toResult(last as Results<R>) : { rows: [], rowCount: 0 };
    },
  };
}

export class PgliteDatabase implements Database {
  readonly kind = "pglite";
  private readonly handlers = new ChannelHandlers(
    async (channel) => {
      await this.db.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
    },
    async (channel) => {
      if (!this.db.closed) await this.db.query(`UNLISTEN ${pg.escapeIdentifier(channel)}`);
    },
  );
  private readonly stopNotifications: () => void;

  private constructor(
    private readonly db: PGlite,
    private readonly dataDir: string,
  ) {
    this.stopNotifications = db.onNotification((channel, payload) => {
      this.handlers.deliver(channel, payload);
    });
  }

  static async open(opts: PgliteOptions): Promise<PgliteDatabase> {
    const settings = Object.entries(opts.settings ?? {}).flatMap(([name, value]) => ["-c", `${name}=${value}`]);
    let db: PGlite;
    try {
      db = await PGlite.create(opts.dataDir, {
        startParams: [...PGlite.defaultStartParams, ...settings],
        parsers: { [INT8_OID]: parseInt8, [INT8_ARRAY_OID]: parseInt8Array },
      });
    } catch (error) {
      throw fromWasmErrno(error, opts.dataDir);
    }
    return new PgliteDatabase(db, opts.dataDir);
  }

  async query<R = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<QueryResult<R>> {
    try {
      return await queryable(this.db).query<R>(text, params);
    } catch (error) {
      throw fromWasmErrno(error, this.dataDir);
    }
  }

  /** In process, PGlite's own queue is the only one; the store process (sidecar/) puts these first in its own. */
  queryUrgent<R = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<QueryResult<R>> {
    return this.query<R>(text, params);
  }

  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    try {
      return await this.db.transaction((tx) => fn(queryable(tx)));
    } catch (err) {
      throw err instanceof PgliteAbortedError ? new TransactionAbortedError() : fromWasmErrno(err, this.dataDir);
    }
  }

  /**
   * PGlite's own `listen` splices the channel into SQL unescaped and folds
   * its case; this keeps exact channel names, as the Postgres adapter does.
   */
  listen(channel: string, onNotify: (payload: string) => void): Promise<Unlisten> {
    return this.handlers.add(channel, onNotify);
  }

  async close(): Promise<void> {
    this.stopNotifications();
    this.handlers.clear();
    if (!this.db.closed) await this.db.close();
  }
}
