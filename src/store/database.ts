/**
 * The store port: the only thing the rest of Hodei knows about its database.
 *
 * Two thin adapters implement it, `pg` against `DATABASE_URL` and PGlite
 * embedded in `HODEI_DATA_DIR`; the SQL is Postgres either way, so there is
 * one code path above this file (the pg-boss model).
 */

export interface QueryResult<R> {
  rows: R[];
  /** Rows returned (SELECT) or changed (INSERT/UPDATE/DELETE); 0 for other commands. */
  rowCount: number;
}

/**
 * Both adapters return the same JS types: timestamptz as Date, json/jsonb as
 * parsed values, int8 as number (RangeError beyond 2^53), arrays as arrays.
 * Parameters: pass jsonb as an object or a JSON string; a JS array bound to a
 * jsonb parameter must be JSON.stringify'd (pg would send an array literal).
 */
export interface Queryable {
  /**
   * With parameters, one statement ($1, $2, ...). Without parameters, `text`
   * may hold several statements and the result is the last one's.
   */
  query<R = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<QueryResult<R>>;
}

export type Unlisten = () => Promise<void>;

export interface Database extends Queryable {
  readonly kind: "postgres" | "pglite";
  /** Runs `fn` in one transaction: committed when it resolves, rolled back when it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /**
   * Subscribes to NOTIFY on `channel`. A notification is only a latency hint:
   * whoever wakes up must read the database to decide anything.
   */
  listen(channel: string, onNotify: (payload: string) => void): Promise<Unlisten>;
  /**
   * `query` for a statement someone is waiting on (a webhook's 202): the
   * embedded store, whose one connection runs statements one at a time, runs
   * it before the statements queued for background work; on Postgres it runs
   * on connections of its own, never waiting for one background work holds.
   */
  queryUrgent<R = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<QueryResult<R>>;
  close(): Promise<void>;
}
