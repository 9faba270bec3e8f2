import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { DataDirInUseError, StoreProcessExitedError, TransactionAbortedError } from "../../src/store/errors.js";
import { Int8RangeError } from "../../src/store/int8.js";
import { openDatabase } from "../../src/store/open.js";
import { BULK_THRESHOLD } from "../../src/store/sidecar/bulk-channel.js";
import { testStore } from "../helpers/databases.js";
import { waitUntil } from "../helpers/wait-until.js";

const store = testStore("pglite");
const holder = fileURLToPath(new URL("./hold-store.ts", import.meta.url));
const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;

/** Running and not a zombie (an orphaned store process is reaped by whatever init there is, maybe late). */
function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

async function storePid(dataDir: string): Promise<number> {
  return Number.parseInt(await readFile(path.join(dataDir, "pg.store.lock"), "utf8"), 10);
}

describe("the embedded store's process", () => {
  it("runs in another process, which holds its own lock and exits on close", async () => {
    const { dataDir } = await store.create();
    const db = await openDatabase({ dataDir });
    const pid = await storePid(dataDir);
    expect(pid).not.toBe(process.pid);
    expect(isRunning(pid)).toBe(true);
    const backend = await db.query<{ pid: number }>("SELECT pg_backend_pid() AS pid");
    expect(backend.rows).toHaveLength(1);
    await db.close();
    expect(isRunning(pid)).toBe(false);
    await expect(readFile(path.join(dataDir, "pg.store.lock"))).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("runs an urgent statement before the background statements queued ahead of it", async () => {
    const { dataDir } = await store.create();
    const db = await openDatabase({ dataDir });
    const done: string[] = [];
    const background = Array.from({ length: 40 }, (_, i) =>
      db.query("SELECT pg_sleep(0.01), $1::int AS i", [i]).then(() => done.push(`background ${i}`)),
    );
    const urgent = db.queryUrgent("SELECT 1 AS one", []).then((r) => {
      done.push("urgent");
      return r.rows;
    });
    expect(await urgent).toEqual([{ one: 1 }]);
    await Promise.all(background);
    // Queued last, it overtook all but the few statements already under way.
    expect(done.indexOf("urgent")).toBeLessThan(5);
    // The background statements kept their own order.
    expect(done.filter((d) => d !== "urgent")).toEqual(Array.from({ length: 40 }, (_, i) => `background ${i}`));
    await db.close();
  });

  it("keeps SQLSTATE codes and the other fields of a failed statement", async () => {
    const db = await store.open();
    await db.query("CREATE TABLE uniq (k text CONSTRAINT uniq_k PRIMARY KEY)");
    await db.query("INSERT INTO uniq VALUES ($1)", ["a"]);
    const dup = await db.query("INSERT INTO uniq VALUES ($1)", ["a"]).catch((e: unknown) => e);
    expect(dup).toBeInstanceOf(Error);
    expect(dup).toMatchObject({ code: "23505", constraint: "uniq_k", table: "uniq" });
    expect((dup as Error).message).toContain("duplicate key");
    // The stack says where the caller was, then where the store process failed.
    expect((dup as Error).stack).toContain("store-process.test.ts");
    expect((dup as Error).stack).toContain("--- in the store process ---");

    const syntax = await db.query("SELEC 1").catch((e: unknown) => e);
    expect(syntax).toMatchObject({ code: "42601" });
    const inTx = await db.transaction((tx) => tx.query("INSERT INTO uniq VALUES ($1)", ["a"])).catch((e: unknown) => e);
    expect(inTx).toMatchObject({ code: "23505" });
  });

  it("rebuilds the store's own errors as their classes", async () => {
    const db = await store.open();
    await db.query("CREATE TABLE once (k int PRIMARY KEY)");
    const aborted = await db
      .transaction(async (tx) => {
        await tx.query("INSERT INTO once VALUES (1)");
        await tx.query("INSERT INTO once VALUES (1)").catch(() => undefined);
      })
      .catch((e: unknown) => e);
    expect(aborted).toBeInstanceOf(TransactionAbortedError);
    expect((await db.query("SELECT count(*)::int AS n FROM once")).rows).toEqual([{ n: 0 }]);
    await expect(db.query("SELECT 9007199254740993::int8 AS big")).rejects.toBeInstanceOf(Int8RangeError);
  });

  it("commits, rolls back, and carries values of each type across", async () => {
    const db = await store.open();
    await db.query("CREATE TABLE v (n int8, at timestamptz, doc jsonb, raw bytea, tags text[], ids int8[])");
    const at = new Date("2026-01-02T03:04:05.678Z");
    await db.transaction((tx) =>
      tx.query("INSERT INTO v VALUES ($1, $2, $3, $4, $5, $6)", [42, at, { a: [1, "x"] }, Buffer.from([1, 2, 255]), ["p", "q"], "{7,8}"]),
    );
    const boom = new Error("changed my mind");
    await expect(
      db.transaction(async (tx) => {
        await tx.query("INSERT INTO v (n) VALUES (1)");
        throw boom;
      }),
    ).rejects.toBe(boom);
    const { rows, rowCount } = await db.query("SELECT * FROM v");
    expect(rowCount).toBe(1);
    expect(rows[0]).toEqual({ n: 42, at, doc: { a: [1, "x"] }, raw: new Uint8Array([1, 2, 255]), tags: ["p", "q"], ids: [7, 8] });
  });

  it("carries large text and bytes parameters over the bulk pipe, in order, in and out of transactions", async () => {
    const db = await store.open();
    await db.query("CREATE TABLE big (n int PRIMARY KEY, body text, raw bytea)");
    // Multi-byte characters: the frame length is in bytes, not characters.
    const text = (n: number) => `${n}:` + "ä€🚀 line\n".repeat(4000 + n);
    const bytes = (n: number) => Buffer.alloc(BULK_THRESHOLD + n, n);
    const writes = Array.from({ length: 12 }, (_, n) =>
      n % 3 === 2
        ? db.transaction((tx) => tx.query("INSERT INTO big VALUES ($1, $2, $3)", [n, text(n), bytes(n)]))
        : db.query("INSERT INTO big VALUES ($1, $2, $3)", [n, n % 2 === 0 ? text(n) : "small", bytes(n)]),
    );
    await Promise.all(writes);
    const { rows } = await db.query<{ n: number; body: string; raw: Uint8Array }>("SELECT * FROM big ORDER BY n");
    expect(rows).toHaveLength(12);
    for (const row of rows) {
      const n = row.n;
      expect(row.body).toBe(n % 3 === 2 || n % 2 === 0 ? text(n) : "small");
      expect(Buffer.from(row.raw).equals(bytes(n))).toBe(true);
    }
  });

  it("delivers notifications across the boundary until unlistened", async () => {
    const db = await store.open();
    const got: string[] = [];
    const other: string[] = [];
    const stop = await db.listen("Mixed.Case", (p) => got.push(p));
    const stopOther = await db.listen("Mixed.Case", (p) => other.push(p));
    await db.query("SELECT pg_notify($1, $2)", ["Mixed.Case", "one"]);
    await db.transaction((tx) => tx.query("SELECT pg_notify($1, $2)", ["Mixed.Case", "two"]));
    await waitUntil("both notifications arrived", () => got.length === 2, 5_000);
    expect(got).toEqual(["one", "two"]);
    await stop();
    await db.query("SELECT pg_notify($1, $2)", ["Mixed.Case", "three"]);
    await waitUntil("the remaining listener got three", () => other.length === 3, 5_000);
    expect(got).toEqual(["one", "two"]);
    await stopOther();
  });

  it("keeps serving through SIGINT and SIGTERM (Ctrl-C reaches the whole process group; the server decides when it stops)", async () => {
    const { dataDir } = await store.create();
    const db = await openDatabase({ dataDir });
    try {
      const pid = await storePid(dataDir);
      process.kill(pid, "SIGINT");
      process.kill(pid, "SIGTERM");
      await new Promise((r) => setTimeout(r, 300));
      expect(isRunning(pid)).toBe(true);
      expect((await db.query("SELECT 2 AS two")).rows).toEqual([{ two: 2 }]);
    } finally {
      await db.close();
    }
  });

  it("fails what is in flight with StoreProcessExitedError when the store process dies", async () => {
    const { dataDir } = await store.create();
    const db = await openDatabase({ dataDir, log: () => undefined });
    try {
      const pid = await storePid(dataDir);
      const slow = db.query("SELECT pg_sleep(2)");
      process.kill(pid, "SIGKILL");
      const err = await slow.catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StoreProcessExitedError);
      expect(err).toMatchObject({ pid, signal: "SIGKILL", retryable: false });
      await expect(db.query("SELECT 1")).rejects.toBeInstanceOf(StoreProcessExitedError);
    } finally {
      await db.close();
    }
  });

  it("exits when its server is killed with SIGKILL, and the next server opens the store at once", async () => {
    const { dataDir } = await store.create();
    for (let round = 0; round < 2; round++) {
      const server = spawn(process.execPath, ["--import", tsx, holder, dataDir], { stdio: ["ignore", "pipe", "pipe"] });
      let stderr = "";
      server.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
      await new Promise<void>((resolve, reject) => {
        server.stdout.on("data", (d: Buffer) => d.toString().includes("open") && resolve());
        server.on("exit", (code) => reject(new Error(`holder exited ${code}: ${stderr}`)));
      });
      const pid = await storePid(dataDir);
      expect(isRunning(pid)).toBe(true);
      server.kill("SIGKILL");
      await new Promise((r) => server.once("exit", r));
      // Opened right away: the new store process waits for the old one, which is on its way out.
      const db = await openDatabase({ dataDir });
      try {
        expect(isRunning(pid)).toBe(false);
        expect((await db.query("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);
      } finally {
        await db.close();
      }
    }
  });

  it("waits for a previous store process that still holds its lock, then opens", async () => {
    const { dataDir } = await store.create();
    const previous = spawn(process.execPath, ["-e", "setTimeout(() => {}, 60000)"], { stdio: "ignore" });
    await writeFile(path.join(dataDir, "pg.store.lock"), `${previous.pid}\n`);
    const lines: string[] = [];
    const db = await openDatabase({
      dataDir,
      log: (l) => {
        lines.push(l);
        // The previous store process exits only once the new one has said it waits for it.
        if (l.startsWith("Waiting for the previous store process")) previous.kill();
      },
    });
    try {
      expect(lines).toContain(`Waiting for the previous store process (pid ${previous.pid}) to exit…`);
      expect(previous.signalCode).toBe("SIGTERM");
      expect(await storePid(dataDir)).not.toBe(previous.pid);
    } finally {
      previous.kill("SIGKILL");
      await db.close();
    }
  });

  it("still refuses a second server on the same directory at once, naming the first", async () => {
    const { dataDir } = await store.create();
    const db = await openDatabase({ dataDir });
    try {
      const started = Date.now();
      const err = await openDatabase({ dataDir }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DataDirInUseError);
      expect(err).toMatchObject({ pid: process.pid });
      expect(Date.now() - started).toBeLessThan(2_000);
    } finally {
      await db.close();
    }
  });
});
