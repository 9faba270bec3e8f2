/**
 * The store port on PGlite running in a child process (store-process.ts) that
 * this one starts and owns: the embedded Postgres as a managed sidecar. The
 * server's event loop only sends requests and receives replies; the WASM
 * Postgres runs, and keeps its memory, in the child.
 *
 * Semantics are the in-process adapter's (adapters/pglite.ts): one
 * connection, a query issued while a transaction runs waits for it, errors
 * keep their fields (SQLSTATE `code`, `constraint`, ...), int8 is parsed in
 * the child as it is in process (int8.ts).
 */
import { fork, type ChildProcess } from "node:child_process";
import type { Writable } from "node:stream";
import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { Database, Queryable, QueryResult, Unlisten } from "../database.js";
import { ChannelHandlers } from "../channel-handlers.js";
import { DataDirInUseError, StoreProcessExitedError, TransactionAbortedError } from "../errors.js";
import { Int8RangeError } from "../int8.js";
import { StoreFileSystemError } from "../adapters/wasm-errno.js";
import { sendBulk } from "./bulk-channel.js";
import type { Request, StoreMessage, WireError } from "./protocol.js";

export interface StoreProcessOptions {
  /** The PGlite directory (HODEI_DATA_DIR/pg). */
  dataDir: string;
  /** The store process's own lock file. */
  lockFile: string;
  /** How long the store process waits for a previous one still holding `lockFile` to exit. */
  lockWaitMs: number;
  log: (msg: string) => void;
}

type Pending = { resolve: (value: unknown) => void; reject: (err: Error) => void; stack: string | undefined };

// Distributive, so each request keeps its own fields without its id.
type Body = Request extends infer R ? (R extends Request ? Omit<R, "id"> : never) : never;

/** The child's entry: compiled JS next to this file, or the TypeScript source under tsx (tests). */
function entry(): { file: string; execArgv: string[] } {
  const here = import.meta.url;
  if (!here.endsWith(".ts")) return { file: fileURLToPath(new URL("./store-process.js", here)), execArgv: [] };
  const tsx = pathToFileURL(createRequire(here).resolve("tsx")).href;
  return { file: fileURLToPath(new URL("./store-process.ts", here)), execArgv: ["--import", tsx] };
}

/** Only what the store process needs: the server's secrets stay out of its environment. */
function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const key of ["PATH", "TMPDIR", "TZ", "LANG"]) if (process.env[key] !== undefined) env[key] = process.env[key];
  return env;
}

function fromWire(wire: WireError, callerStack: string | undefined): Error {
  const f = wire.fields;
  let err: Error;
  if (wire.name === "TransactionAbortedError") err = new TransactionAbortedError();
  else if (wire.name === "DataDirInUseError") err = new DataDirInUseError(String(f.dataDir), Number(f.pid), String(f.lockFile));
  else if (wire.name === "Int8RangeError") err = new Int8RangeError(String(f.text));
  else if (wire.name === "StoreFileSystemError") err = new StoreFileSystemError(String(f.code), Number(f.errno), String(f.dataDir));
  else {
    const cause = wire.cause && fromWire(wire.cause, undefined);
    err = Object.assign(new Error(wire.message, cause ? { cause } : undefined), f);
    err.name = wire.name;
  }
  // Where the caller asked, then where the store process failed.
  const callerFrames = callerStack?.split("\n").slice(1).join("\n") ?? "";
  const storeFrames = wire.stack?.split("\n").slice(1).join("\n") ?? "";
  err.stack = `${err.name}: ${err.message}\n${callerFrames}\n    --- in the store process ---\n${storeFrames}`;
  return err;
}

export class PgliteProcessDatabase implements Database {
  readonly kind = "pglite";
  private readonly pending = new Map<number, Pending>();
  private readonly handlers = new ChannelHandlers(
    async (channel) => {
      await this.request({ op: "listen", channel });
    },
    async (channel) => {
      if (!this.exited && !this.closing) await this.request({ op: "unlisten", channel });
    },
  );
  private nextId = 1;
  private exited: StoreProcessExitedError | undefined;
  private readonly exit: Promise<void>;
  private closing: Promise<void> | undefined;

  private readonly bulk: Writable;

  private constructor(
    private readonly child: ChildProcess,
    private readonly log: (msg: string) => void,
  ) {
    this.bulk = child.stdio[4] as Writable;
    // A failed write means the store process is gone: its 'exit' rejects what is pending.
    this.bulk.on("error", (err) => this.log(`store process bulk pipe: ${err.message}`));
    this.exit = new Promise((resolve) => {
      child.once("exit", (code, signal) => {
        this.exited = new StoreProcessExitedError(child.pid ?? 0, code, signal);
        for (const p of this.pending.values()) p.reject(this.exited);
        this.pending.clear();
        if (!this.closing) this.log(this.exited.message);
        resolve();
      });
    });
    // 'error' (spawn failure, a send on a closed channel) is followed by 'exit' or a rejected request.
    child.on("error", (err) => this.log(`store process: ${err.message}`));
    child.on("message", (msg: StoreMessage) => this.receive(msg));
    this.updateRef();
  }

  /** Starts the store process and opens the database in it; the process is gone again if this throws. */
  static async open(opts: StoreProcessOptions): Promise<PgliteProcessDatabase> {
    const { file, execArgv } = entry();
    const child = fork(file, [], {
      serialization: "advanced",
      // fd 4: the bulk pipe (bulk-channel.ts).
      stdio: ["ignore", "inherit", "inherit", "ipc", "pipe"],
      execArgv,
      env: childEnv(),
    });
    const db = new PgliteProcessDatabase(child, opts.log);
    try {
      await db.request({ op: "open", dataDir: opts.dataDir, lockFile: opts.lockFile, lockWaitMs: opts.lockWaitMs });
    } catch (err) {
      await db.close().catch(() => undefined);
      throw err;
    }
    return db;
  }

  /** The store process's pid (for RSS figures and tests). */
  get pid(): number {
    return this.child.pid ?? 0;
  }

  query<R = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<QueryResult<R>> {
    return this.statement(text, params, {});
  }

  queryUrgent<R = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<QueryResult<R>> {
    return this.statement(text, params, { urgent: true });
  }

  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    const tx = (await this.request({ op: "begin" })) as number;
    const queryable: Queryable = {
      query: <R>(text: string, params?: readonly unknown[]) => this.statement<R>(text, params, { tx }),
    };
    let result: T;
    try {
      result = await fn(queryable);
    } catch (err) {
      await this.request({ op: "end", tx, commit: false }).catch(() => undefined);
      throw err;
    }
    await this.request({ op: "end", tx, commit: true });
    return result;
  }

  listen(channel: string, onNotify: (payload: string) => void): Promise<Unlisten> {
    return this.handlers.add(channel, onNotify);
  }

  /** Closes the database in the store process and waits for the process to exit. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.handlers.clear();
      let failure: Error | undefined;
      if (!this.exited) {
        await this.request({ op: "close" }).catch((err: unknown) => {
          if (!(err instanceof StoreProcessExitedError)) failure = err instanceof Error ? err : new Error(String(err));
        });
      }
      // Closing the channel is what makes the store process exit.
      if (this.child.connected) this.child.disconnect();
      this.child.ref();
      await this.exit;
      if (failure) throw failure;
    })();
    return this.closing;
  }

  private statement<R>(text: string, params: readonly unknown[] | undefined, how: { tx?: number; urgent?: boolean }): Promise<QueryResult<R>> {
    if (this.exited) return Promise.reject(this.exited);
    // The large parameters go to the bulk pipe now, in the order of the requests.
    const moved = sendBulk(this.bulk, params);
    return this.request({ op: "query", text, params: moved.params, bulk: moved.bulk, ...how }) as Promise<QueryResult<R>>;
  }

  private request(body: Body): Promise<unknown> {
    if (this.exited) return Promise.reject(this.exited);
    const id = this.nextId++;
    const stack = new Error().stack;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, stack });
      try {
        this.child.send({ ...body, id });
      } catch (err) {
        // Not cloneable (a function in the parameters), or the channel is closed.
        this.pending.delete(id);
        reject(err instanceof Error ? err : new Error(String(err)));
      }
      this.updateRef();
    });
  }

  private receive(msg: StoreMessage): void {
    if ("notify" in msg) {
      this.handlers.deliver(msg.notify, msg.payload);
      return;
    }
    if ("log" in msg) {
      this.log(msg.log);
      return;
    }
    const p = this.pending.get(msg.id);
    if (!p) return;
    this.pending.delete(msg.id);
    this.updateRef();
    if (msg.ok) p.resolve(msg.value);
    else p.reject(fromWire(msg.error, p.stack));
  }

  /**
   * An idle store process does not keep this process alive (like a socket to
   * Postgres would not); one with requests in flight does, so the replies arrive.
   */
  private updateRef(): void {
    const channel = this.child.channel as { ref(): void; unref(): void } | undefined | null;
    const bulk = this.bulk as Writable & { ref?(): void; unref?(): void };
    if (this.pending.size > 0 || this.closing) {
      this.child.ref();
      channel?.ref();
      bulk.ref?.();
    } else {
      this.child.unref();
      channel?.unref();
      bulk.unref?.();
    }
  }
}
