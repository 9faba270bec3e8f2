/** /healthz's write probe (src/store/write-probe.ts) against real stores that refuse writes in each way it must see. */
import { execFile } from "node:child_process";
import { mkdtemp, open, readdir, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { systemClock } from "../../src/engine/system-clock.js";
import { PostgresDatabase } from "../../src/store/adapters/postgres.js";
import type { Database } from "../../src/store/database.js";
import { migrate } from "../../src/store/migrate.js";
import { StoreWriteProbe } from "../../src/store/write-probe.js";
import { freePort } from "../durability/crash-harness.js";
import { describeEachStore, describePostgres, openTestDatabase, tempDir } from "../helpers/databases.js";
import { VirtualClock } from "../helpers/virtual-clock.js";

const run = promisify(execFile);

describeEachStore("the store's write probe", (store) => {
  it("is ok for a store that takes writes, and leaves nothing in the data directory", async () => {
    const db = await store.openMigrated();
    const dataDir = await tempDir();
    expect(await new StoreWriteProbe({ db, clock: systemClock, dataDir }).check()).toEqual({ ok: true });
    expect(await readdir(dataDir)).toEqual([]);
  });
});

describePostgres("the store's write probe", (store) => {
  it("is not ok for a read-only Postgres, with Postgres's reason", async () => {
    const where = await store.create();
    const setup = new PostgresDatabase({ connectionString: where.databaseUrl! });
    await migrate(setup);
    await setup.close();
    // A standby or a server set read-only answers every write so; this session is set so at connect.
    const readOnly = new PostgresDatabase({ connectionString: `${where.databaseUrl!}?options=${encodeURIComponent("-c default_transaction_read_only=on")}` });
    try {
      expect(await readOnly.query("select 1")).toMatchObject({ rowCount: 1 });
      expect(await new StoreWriteProbe({ db: readOnly, clock: systemClock }).check()).toEqual({
        ok: false,
        reason: "the store refuses writes: cannot execute UPDATE in a read-only transaction",
      });
    } finally {
      await readOnly.close();
    }
  });

  it("is not ok for a Postgres that is down", async () => {
    const down = new PostgresDatabase({ connectionString: `postgres://postgres@127.0.0.1:${await freePort()}/test`, log: () => undefined });
    try {
      expect(await new StoreWriteProbe({ db: down, clock: systemClock }).check()).toEqual({ ok: false, reason: "the store is unavailable (connection refused)" });
    } finally {
      await down.close();
    }
  });
});

describe("the store's write probe on its own", () => {
  let shared: Database;
  beforeAll(async () => {
    shared = await openTestDatabase("pglite");
  });

  /** A store whose urgent statements (the probe's) are counted, and hang when `hang` is set. */
  function countingStore(inner: Database, hang = false): { db: Database; calls: () => number } {
    let calls = 0;
    const db = {
      ...inner,
      queryUrgent: (text: string, params?: readonly unknown[]) => {
        calls++;
        return hang ? new Promise<never>(() => undefined) : inner.queryUrgent(text, params);
      },
    } as Database;
    return { db, calls: () => calls };
  }

  it("keeps its answer for a second, and callers meanwhile share one probe", async () => {
    const clock = new VirtualClock();
    const { db, calls } = countingStore(shared);
    const probe = new StoreWriteProbe({ db, clock });
    const [a, b] = await Promise.all([probe.check(), probe.check()]);
    expect([a, b, calls()]).toEqual([{ ok: true }, { ok: true }, 1]);
    await clock.advance(999);
    await probe.check();
    expect(calls()).toBe(1);
    await clock.advance(1);
    await probe.check();
    expect(calls()).toBe(2);
  });

  it("gives up on a store that does not answer after its timeout", async () => {
    const clock = new VirtualClock();
    const { db } = countingStore(shared, true);
    const answer = new StoreWriteProbe({ db, clock, timeoutMs: 2000 }).check();
    await clock.advance(2000);
    expect(await answer).toEqual({ ok: false, reason: "the store did not answer within 2000 ms" });
  });

  it("is not ok while the engine's own writes wait for the store", async () => {
    const db = shared;
    let outage: string | null = "disk full";
    const probe = new StoreWriteProbe({ db, clock: new VirtualClock(), cacheMs: 0, dataDir: "/var/lib/hodei", outage: () => outage });
    expect(await probe.check()).toEqual({ ok: false, reason: "no space left on device in /var/lib/hodei" });
    outage = null;
    expect(await probe.check()).toEqual({ ok: false, reason: expect.stringContaining("/var/lib/hodei") });
  });

  const asRoot = process.getuid?.() === 0 || process.env.CI ? it : it.skip;
  asRoot("is not ok when the data directory's disk is full, and ok again once there is room", async () => {
    const db = shared;
    const mountPoint = await mkdtemp(path.join(os.tmpdir(), "hodei-probe-full-"));
    await run("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", mountPoint]);
    try {
      const probe = new StoreWriteProbe({ db, clock: systemClock, dataDir: mountPoint, cacheMs: 0 });
      expect(await probe.check()).toEqual({ ok: true });
      const filler = await open(path.join(mountPoint, "filler"), "w");
      await filler.write(Buffer.alloc(2 << 20)).catch((e: NodeJS.ErrnoException) => expect(e.code).toBe("ENOSPC"));
      await filler.close();
      expect(await probe.check()).toEqual({ ok: false, reason: `no space left on device in ${mountPoint}` });
      await rm(path.join(mountPoint, "filler"));
      expect(await probe.check()).toEqual({ ok: true });
    } finally {
      await run("umount", ["-l", mountPoint]);
      await rm(mountPoint, { recursive: true, force: true });
    }
  });
});
