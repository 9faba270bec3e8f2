/**
 * The messages between the server and its store process (store-process.ts),
 * over Node's IPC channel with `serialization: "advanced"` (structured clone:
 * Dates, Uint8Arrays, BigInts and plain objects cross as they are).
 *
 * Large parameters do not cross here: bulk-channel.ts moves them to a pipe of
 * their own and the request lists them in `bulk`, with null in their place.
 *
 * Every request carries an id and gets exactly one reply with that id. A
 * transaction is opened by `begin`, which replies once the store holds
 * PGlite's transaction mutex; its statements name it by `tx`, and `end`
 * commits or rolls it back.
 */

export type Request =
  | { id: number; op: "open"; dataDir: string; lockFile: string; lockWaitMs: number }
  | { id: number; op: "query"; text: string; params?: readonly unknown[]; bulk?: BulkParam[]; tx?: number; urgent?: boolean }
  | { id: number; op: "begin" }
  | { id: number; op: "end"; tx: number; commit: boolean }
  | { id: number; op: "listen"; channel: string }
  | { id: number; op: "unlisten"; channel: string }
  | { id: number; op: "close" };

/** A parameter sent over the bulk pipe: its position and whether it is text or bytes. */
export interface BulkParam {
  index: number;
  kind: "text" | "bytes";
}

/** What crosses for an error: its name, message and every primitive own field (SQLSTATE `code`, `constraint`, `pid`, ...). */
export interface WireError {
  name: string;
  message: string;
  stack?: string;
  fields: Record<string, string | number | boolean | null>;
}

export type Reply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: WireError };

/** A NOTIFY on a channel the server listens to. */
export type Notification = { notify: string; payload: string };

/** A progress line for the server's log (waiting for a previous store process). */
export type LogLine = { log: string };

export type StoreMessage = Reply | Notification | LogLine;

export function toWireError(err: unknown): WireError {
  if (!(err instanceof Error)) return { name: "Error", message: String(err), fields: {} };
  const fields: WireError["fields"] = {};
  for (const [key, value] of Object.entries(err)) {
    if (value === null || ["string", "number", "boolean"].includes(typeof value)) fields[key] = value as string | number | boolean | null;
  }
  return { name: err.name, message: err.message, stack: err.stack, fields };
}
