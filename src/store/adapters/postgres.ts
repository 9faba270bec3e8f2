/**
 * The store port on a real Postgres server, through a `pg` Pool.
 */
import pg from "pg";
import type { Database, Queryable, QueryResult, Unlisten } from "../database.js";
import { TransactionAbortedError } from "../errors.js";
import { INT8_ARRAY_OID, INT8_OID, parseInt8 } from "../int8.js";
import { PgListener, type Log } from "./pg-listener.js";

export interface PostgresOptions {
  connectionString: string;
  /** Where connection trouble is reported; the adapter never throws it at the process. */
  log?: Log;
  max?: number;
}

const TEXT_ARRAY_OID = 1009;

/** Per-pool type parsers, so Hodei's choices never leak into other users of `pg`. */
function typeParsers(): pg.CustomTypesConfig {
  const getParser = pg.types.getTypeParser as (oid: number, format?: "text" | "binary") => (v: string) => unknown;
  const textArray = getParser(TEXT_ARRAY_OID, "text") as (v: string) => (string | null)[];
  return {
    getTypeParser: ((oid: number, format?: "text" | "binary") => {
      if (oid === INT8_OID) return parseInt8;
      if (oid === INT8_ARRAY_OID) return (v: string) => textArray(v).map((x) => (x === null ? null : parseInt8(x)));
      return getParser(oid, format);
    }) as pg.CustomTypesConfig["getTypeParser"],
  };
}

function toResult<R>(res: pg.QueryResult | pg.QueryResult[]): QueryResult<R> {
  // Several statements without parameters answer with one result each.
  const last = Array.isArray(res) ? res[res.length - 1] : res;
  return last ? { rows: last.rows as R[], rowCount: last.rowCount ?? 0 } : { rows: [], rowCount: 0 };
}

function queryable(target: pg.Pool | pg.PoolClient): Queryable {
  return {
    async query<R>(text: string, params?: readonly unknown[]): Promise<QueryResult<R>> {
      const res: pg.QueryResult | pg.QueryResult[] = await target.query(text, params as unknown[] | undefined);
      return toResult<R>(res);
    },
  };
}

export class PostgresDatabase implements Database {
  readonly kind = "postgres";
  private readonly pool: pg.Pool;
  /** Connections of their own for `queryUrgent`: a webhook's insert never waits for one the background work holds. */
  private readonly urgentPool: pg.Pool;
  private readonly listener: PgListener;
  private readonly log: Log;

  constructor(opts: PostgresOptions) {
    this.log = opts.log ?? ((msg) => console.error(`[store] ${msg}`));
    const types = typeParsers();
    this.pool = new pg.Pool({ connectionString: opts.connectionString, types, max: opts.max ?? 10 });
    // An idle client losing its connection must not crash the process; the
    // pool drops it and the next query opens a new one.
    this.pool.on("error", (err) => this.log(`idle Postgres connection failed: ${err.message}`));
    this.urgentPool = new pg.Pool({ connectionString: opts.connectionString, types, max: 2 });
    this.urgentPool.on("error", (err) => this.log(`idle Postgres connection failed: ${err.message}`));
    this.listener = new PgListener({
      connect: () => new pg.Client({ connectionString: opts.connectionString, types }),
      log: this.log,
    });
  }

  async query<R = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<QueryResult<R>> {
    return queryable(this.pool).query<R>(text, params);
  }

  /**
   * On a pool of its own: when runs and deliveries being processed hold all of
   * the main pool's connections, a query there waits in the pool's queue.
   */
  queryUrgent<R = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<QueryResult<R>> {
    return queryable(this.urgentPool).query<R>(text, params);
  }

  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    // A checked-out client has no error listener of the pool's; without this
    // one a dropped connection would be an uncaught 'error' event.
    let broken: Error | undefined;
    const onError = (err: Error): void => {
      broken = err;
    };
    client.on("error", onError);
    try {
      await client.query("BEGIN");
      const result = await fn(queryable(client));
      // Postgres answers COMMIT of a failed transaction with ROLLBACK, not an
      // error; a caller that caught a failed statement must not think it stored.
      const commit = await client.query("COMMIT");
      if (commit.command === "ROLLBACK") throw new TransactionAbortedError();
      return result;
    } catch (err) {
      try {
        await client.query("ROLLBACK");
      } catch (rollbackErr) {
        broken ??= rollbackErr instanceof Error ? rollbackErr : new Error(String(rollbackErr));
      }
      throw err;
    } finally {
      client.removeListener("error", onError);
      client.release(broken);
    }
  }

  listen(channel: string, onNotify: (payload: string) => void): Promise<Unlisten> {
    return this.listener.listen(channel, onNotify);
  }

  async close(): Promise<void> {
    await this.listener.close();
    await this.pool.end();
    await this.urgentPool.end();
  }
}
