/**
 * The store process: the embedded Postgres (PGlite) in a child of the server,
 * so its WASM execution and its memory are off the server's event loop and
 * out of the server's heap. Started and owned by store-client.ts; it serves
 * the requests of protocol.ts and nothing else.
 *
 * It lives exactly as long as its server: when the IPC channel closes (the
 * server exited, closed the store, or was killed with SIGKILL) it rolls back
 * open transactions, closes PGlite and exits, within SHUTDOWN_LIMIT_MS; it
 * ignores SIGINT, SIGTERM and SIGHUP, which are its server's to act on.
 *
 * It holds its own lock file (its pid), besides the server's pg.lock: a server
 * restarted after a SIGKILL takes over the dead server's pg.lock at once, and
 * its new store process then waits, bounded, for the old one to let go.
 */
import { mkdir } from "node:fs/promises";
import { Socket } from "node:net";
import path from "node:path";
import { EMBEDDED_SETTINGS, PgliteDatabase } from "../adapters/pglite.js";
import type { Queryable, Unlisten } from "../database.js";
import { lockDataDir, type DataDirLock } from "../data-dir-lock.js";
import { DataDirInUseError } from "../errors.js";
import { BulkReader } from "./bulk-channel.js";
import { toWireError, type Reply, type Request, type StoreMessage } from "./protocol.js";

/** After the channel closes, the longest the process takes before it exits anyway. */
const SHUTDOWN_LIMIT_MS = 5_000;

class RolledBack extends Error {}

interface OpenTransaction {
  tx: Queryable;
  finish(commit: boolean): void;
  done: Promise<void>;
}

let db: PgliteDatabase | undefined;
let lock: DataDirLock | undefined;
const transactions = new Map<number, OpenTransaction>();
const listening = new Map<string, Unlisten>();
let nextTx = 1;
let shuttingDown: Promise<void> | undefined;

function send(msg: StoreMessage): void {
  if (process.connected) process.send?.(msg);
}

function opened(): PgliteDatabase {
  if (!db) throw new Error("the store process has no database open");
  return db;
}

async function takeLock(dataDir: string, file: string, waitMs: number): Promise<DataDirLock> {
  const deadline = Date.now() + waitMs;
  let announced = false;
  for (;;) {
    try {
      return await lockDataDir(dataDir, file);
    } catch (err) {
      if (!(err instanceof DataDirInUseError) || Date.now() >= deadline) throw err;
      if (!announced) send({ log: `Waiting for the previous store process (pid ${err.pid}) to exit…` });
      announced = true;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

async function open(dataDir: string, lockFile: string, lockWaitMs: number): Promise<void> {
  if (db) throw new Error("the store process already has a database open");
  lock = await takeLock(path.dirname(dataDir), lockFile, lockWaitMs);
  try {
    await mkdir(dataDir, { recursive: true });
    db = await PgliteDatabase.open({ dataDir, settings: EMBEDDED_SETTINGS });
  } catch (err) {
    await lock.release();
    lock = undefined;
    throw err;
  }
}

/** Resolves with the transaction's id once PGlite's transaction mutex is held. */
function begin(): Promise<number> {
  const database = opened();
  const id = nextTx++;
  return new Promise((resolve, reject) => {
    let finish!: (commit: boolean) => void;
    const decided = new Promise<boolean>((r) => (finish = r));
    let started = false;
    const done = database.transaction(async (tx) => {
      started = true;
      transactions.set(id, { tx, finish, done });
      resolve(id);
      if (!(await decided)) throw new RolledBack();
    });
    done.catch((err: unknown) => {
      if (!started) reject(err instanceof Error ? err : new Error(String(err)));
    });
  });
}

async function end(id: number, commit: boolean): Promise<void> {
  const open = transactions.get(id);
  if (!open) throw new Error(`no open transaction ${id}`);
  open.finish(commit);
  try {
    await open.done;
  } catch (err) {
    if (!(err instanceof RolledBack)) throw err;
  } finally {
    transactions.delete(id);
  }
}

async function listen(channel: string): Promise<void> {
  if (listening.has(channel)) return;
  listening.set(channel, await opened().listen(channel, (payload) => send({ notify: channel, payload })));
}

async function unlisten(channel: string): Promise<void> {
  const stop = listening.get(channel);
  listening.delete(channel);
  await stop?.();
}

/**
 * PGlite runs one statement at a time and queues the rest in arrival order.
 * Statements outside transactions, and `begin`, go through this queue
 * instead, one at a time, urgent ones first: a webhook's insert waits for
 * the statement running, not for the background work queued before it.
 * Statements of an open transaction (which holds PGlite's mutex) and `end`
 * go straight to PGlite, or they would wait for the queue they block.
 */
const waiting: { urgent: (() => void)[]; normal: (() => void)[] } = { urgent: [], normal: [] };
let running = false;

let chosen = false;

function inTurn<T>(urgent: boolean, work: () => Promise<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    (urgent ? waiting.urgent : waiting.normal).push(() => {
      work()
        .then(resolve, reject)
        .finally(() => {
          running = false;
          chooseNext();
        });
    });
    // Not at once: the requests read in this turn of the event loop (PGlite
    // blocked it while the last statement ran) are all queued before one is
    // chosen. Starting the first to arrive ran everything in arrival order,
    // an urgent insert behind every statement sent before it (a webhook's
    // answer took 0.2-0.9 s behind 30 loops of 50 ms statements, growing).
    chooseNext();
  });
}

function chooseNext(): void {
  if (chosen) return;
  chosen = true;
  setImmediate(() => {
    chosen = false;
    next();
  });
}

function next(): void {
  if (running) return;
  const job = waiting.urgent.shift() ?? waiting.normal.shift();
  if (!job) return;
  running = true;
  job();
}


/** Called as the request arrives: a query claims its bulk parameters in arrival order. */
function handle(req: Request): Promise<unknown> {
  if (req.op !== "query") return handleOther(req);
  const params = bulk.resolve(req.params, req.bulk);
  if (req.tx === undefined) return inTurn(req.urgent === true, async () => opened().query(req.text, await params));
  const target = transactions.get(req.tx)?.tx;
  if (!target) return Promise.reject(new Error(`no open transaction ${req.tx}`));
  return params.then((p) => target.query(req.text, p));
}

async function handleOther(req: Exclude<Request, { op: "query" }>): Promise<unknown> {
  switch (req.op) {
    case "open":
      return open(req.dataDir, req.lockFile, req.lockWaitMs);
    case "begin":
      return inTurn(false, begin);
    case "end":
      return end(req.tx, req.commit);
    case "listen":
      return listen(req.channel);
    case "unlisten":
      return unlisten(req.channel);
    case "close":
      return shutdown();
  }
}

/** Rolls back what the server left open, closes PGlite and releases the lock; once. */
function shutdown(): Promise<void> {
  shuttingDown ??= (async () => {
    for (const open of transactions.values()) open.finish(false);
    await Promise.allSettled([...transactions.values()].map((t) => t.done));
    try {
      await db?.close();
    } finally {
      await lock?.release();
    }
  })();
  return shuttingDown;
}

process.on("message", (req: Request) => {
  handle(req).then(
    (value) => send({ id: req.id, ok: true, value } satisfies Reply),
    (err: unknown) => send({ id: req.id, ok: false, error: toWireError(err) } satisfies Reply),
  );
});

// Ctrl-C reaches the whole foreground process group, and a service manager may
// signal every process of the service: the server must still be able to store
// what it does while it stops. So only the channel closing ends this process.
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(signal, () => undefined);

process.on("disconnect", () => {
  setTimeout(() => process.exit(1), SHUTDOWN_LIMIT_MS);
  shutdown().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(`[store] closing the embedded Postgres failed: ${String(err)}`);
      process.exit(1);
    },
  );
});

if (!process.connected) {
  console.error("the store process is started by the Hodei server (store-client.ts), not by hand");
  process.exit(2);
}
/** Reads fd 4, the bulk pipe its server opened (bulk-channel.ts); set up once the process knows it has a server. */
const bulk = new BulkReader(new Socket({ fd: 4, readable: true, writable: false }));
