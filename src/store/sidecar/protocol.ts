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

/**
 * What crosses for an error: its name, message, stack, every primitive own
 * field (SQLSTATE `code`, `constraint`, `pid`, ...) and its cause. Also for
 * a thrown object that is no Error (PGlite's file system throws those): it
 * keeps its name and fields, and gets a message made of them.
 */
export interface WireError {
  name: string;
  message: string;
  stack?: string;
  fields: Record<string, string | number | boolean | null>;
  cause?: WireError;
}

export type Reply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: WireError };

/** A NOTIFY on a channel the server listens to. */
export type Notification = { notify: string; payload: string };

/** A progress line for the server's log (waiting for a previous store process). */
export type LogLine = { log: string };

export type StoreMessage = Reply | Notification | LogLine;

export function toWireError(err: unknown, depth = 0): WireError {
  if (typeof err !== "object" || err === null) return { name: "Error", message: String(err), fields: {} };
  const e = err as { name?: unknown; message?: unknown; stack?: unknown; cause?: unknown };
  const fields: WireError["fields"] = {};
  for (const [key, value] of Object.entries(err)) {
    if (value === null || ["string", "number", "boolean"].includes(typeof value)) fields[key] = value as string | number | boolean | null;
  }
  const name = typeof e.name === "string" && e.name !== "" ? e.name : "Error";
  const message = typeof e.message === "string" ? e.message : `${name} ${JSON.stringify(fields)}`;
  const wire: WireError = { name, message, fields };
  if (typeof e.stack === "string") wire.stack = e.stack;
  if (e.cause !== undefined && depth < 5) wire.cause = toWireError(e.cause, depth + 1);
  return wire;
}
