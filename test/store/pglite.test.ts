import { spawn } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { DataDirInUseError } from "../../src/store/errors.js";
import { MEMORY_DATA_DIR, openDatabase } from "../../src/store/open.js";
import { tempDir, testStore } from "../helpers/databases.js";

const store = testStore("pglite");

describe("PGlite adapter", () => {
  it("makes a query issued during a transaction wait for the transaction", async () => {
    const db = await store.open();
    await db.query("CREATE TABLE seen (v text)");
    const order: string[] = [];
    let entered!: () => void;
    const inside = new Promise<void>((r) => (entered = r));
    const tx = db.transaction(async (t) => {
      await t.query("INSERT INTO seen VALUES ($1)", ["from the transaction"]);
      entered();
      await new Promise((r) => setTimeout(r, 200));
      order.push("tx done");
    });
    await inside;
    const outside = db.query<{ v: string }>("SELECT v FROM seen").then((r) => {
      order.push("query done");
      return r.rows;
    });
    await tx;
    // Had the query joined the transaction, it would have run before "tx done".
    expect(await outside).toEqual([{ v: "from the transaction" }]);
    expect(order).toEqual(["tx done", "query done"]);
  });

  it("keeps data across a close and a second start of the same directory", async () => {
    const { dataDir } = await store.create();
    const first = await openDatabase({ dataDir });
    await first.query("CREATE TABLE kept (v text)");
    await first.query("INSERT INTO kept VALUES ($1)", ["still here"]);
    await first.close();

    const lines: string[] = [];
    const second = await openDatabase({ dataDir, log: (l) => lines.push(l) });
    try {
      expect((await second.query("SELECT v FROM kept")).rows).toEqual([{ v: "still here" }]);
    } finally {
      await second.close();
    }
    expect(lines[0]).toBe(`Opening the embedded Postgres in ${path.join(dataDir, "pg")}…`);
    expect(lines[1]).toMatch(/^Embedded Postgres ready in \d+\.\d s$/);
  });

  it("announces the first start, which initialises the directory", async () => {
    const dataDir = path.join(await tempDir(), "nested", "data");
    const lines: string[] = [];
    const db = await openDatabase({ dataDir, log: (l) => lines.push(l) });
    await db.close();
    expect(lines[0]).toBe(`Initialising the embedded Postgres in ${path.join(dataDir, "pg")} (first start takes ~15 s)…`);
    expect(lines[1]).toMatch(/^Embedded Postgres ready in /);
  });

  it("refuses a second opener of the same directory while the first is open, then allows it", async () => {
    const { dataDir } = await store.create();
    const first = await openDatabase({ dataDir });
    const err = await openDatabase({ dataDir }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataDirInUseError);
    expect(err).toMatchObject({ dataDir, pid: process.pid, lockFile: path.join(dataDir, "pg.lock"), retryable: true });
    expect((err as Error).message).toContain(`HODEI_DATA_DIR ${dataDir} is in use by process ${process.pid}`);
    await first.close();

    const again = await openDatabase({ dataDir });
    await again.close();
  });

  it("refuses a directory locked by another live process", async () => {
    const { dataDir } = await store.create();
    const child = spawn(process.execPath, ["-e", "setTimeout(() => {}, 60000)"], { stdio: "ignore" });
    try {
      await writeFile(path.join(dataDir, "pg.lock"), `${child.pid}\n`);
      await expect(openDatabase({ dataDir })).rejects.toMatchObject({ name: "DataDirInUseError", pid: child.pid });
    } finally {
      child.kill();
    }
  });

  it("takes over a stale lock whose process is gone", async () => {
    const { dataDir } = await store.create();
    const child = spawn(process.execPath, ["-e", ""], { stdio: "ignore" });
    await new Promise((r) => child.on("exit", r));
    const lockFile = path.join(dataDir, "pg.lock");
    await writeFile(lockFile, `${child.pid}\n`);
    const db = await openDatabase({ dataDir });
    expect((await readFile(lockFile, "utf8")).trim()).toBe(String(process.pid));
    await db.close();
  });

  it("opens a throwaway in-memory database", async () => {
    const db = await openDatabase({ dataDir: MEMORY_DATA_DIR });
    try {
      expect(db.kind).toBe("pglite");
      expect((await db.query("SELECT $1::int AS n", [1])).rows).toEqual([{ n: 1 }]);
    } finally {
      await db.close();
    }
  });
});

describe("PGlite data-dir lock", () => {
  it("takes over a lock with this process's pid that this process does not hold (a restarted container's pid 1)", async () => {
    const { dataDir } = await store.create();
    await writeFile(path.join(dataDir, "pg.lock"), `${process.pid}\n`);
    const db = await openDatabase({ dataDir });
    await expect(openDatabase({ dataDir })).rejects.toBeInstanceOf(DataDirInUseError);
    await db.close();
  });
});
