import { afterAll, beforeAll, expect, it } from "vitest";
import type { Database } from "../../src/store/database.js";
import { TransactionAbortedError } from "../../src/store/errors.js";
import { Int8RangeError } from "../../src/store/int8.js";
import { openDatabase } from "../../src/store/open.js";
import { describeEachStore, describePostgres } from "../helpers/databases.js";

describeEachStore("store queries", (store) => {
  let db: Database;
  beforeAll(async () => {
    db = await store.open();
    await db.query(`CREATE TABLE t (
      id int8 GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      s text, i int, b int8, j jsonb, ts timestamptz, tags text[], nums int8[]
    )`);
  });
  afterAll(async () => db.close());

  it("reports its kind", () => {
    expect(db.kind).toBe(store.kind);
  });

  it("round-trips parameters and types", async () => {
    const ts = new Date("2024-05-06T07:08:09.123Z");
    const inserted = await db.query<{ id: number }>(
      "INSERT INTO t (s, i, b, j, ts, tags, nums) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
      ["it's \"quoted\" $1", 42, 9007199254740991, { a: [1, "x", null], n: { deep: true } }, ts, ["a", "b,c", ""], [1, 2, 3]],
    );
    expect(inserted.rowCount).toBe(1);
    const id = inserted.rows[0]!.id;
    expect(typeof id).toBe("number");

    const { rows } = await db.query("SELECT s, i, b, j, ts, tags, nums FROM t WHERE id = $1", [id]);
    expect(rows).toEqual([
      {
        s: "it's \"quoted\" $1",
        i: 42,
        b: 9007199254740991,
        j: { a: [1, "x", null], n: { deep: true } },
        ts,
        tags: ["a", "b,c", ""],
        nums: [1, 2, 3],
      },
    ]);
    expect(rows[0]!.ts).toBeInstanceOf(Date);
  });

  it("returns null for NULL, and NULL inside arrays", async () => {
    const { rows } = await db.query("SELECT $1::text AS n, ARRAY[1, NULL]::int8[] AS a, NULL::jsonb AS j", [null]);
    expect(rows).toEqual([{ n: null, a: [1, null], j: null }]);
  });

  it("parses int8 as number, including count(*) and negative values", async () => {
    const { rows } = await db.query("SELECT count(*) AS c, $1::int8 AS neg, '{}'::int8[] AS empty", [-5]);
    expect(rows).toEqual([{ c: expect.any(Number) as number, neg: -5, empty: [] }]);
  });

  it("refuses int8 values that a JS number cannot hold exactly", async () => {
    await expect(db.query("SELECT 9007199254740993::int8 AS big")).rejects.toBeInstanceOf(Int8RangeError);
  });

  it("accepts a JSON string for a jsonb parameter", async () => {
    const { rows } = await db.query("SELECT $1::jsonb AS j", [JSON.stringify([1, { a: 2 }])]);
    expect(rows[0]!.j).toEqual([1, { a: 2 }]);
  });

  it("counts rows as pg does", async () => {
    await db.query("CREATE TABLE counted (n int)");
    expect((await db.query("INSERT INTO counted SELECT generate_series(1, 3)")).rowCount).toBe(3);
    expect((await db.query("UPDATE counted SET n = n + 1 WHERE n > $1", [1])).rowCount).toBe(2);
    expect((await db.query("SELECT * FROM counted")).rowCount).toBe(3);
    expect((await db.query("DELETE FROM counted WHERE n = $1", [4])).rowCount).toBe(1);
  });

  it("runs several statements without parameters and returns the last result", async () => {
    const res = await db.query("CREATE TEMP TABLE multi (n int); INSERT INTO multi VALUES (1), (2); SELECT n FROM multi ORDER BY n");
    expect(res.rows).toEqual([{ n: 1 }, { n: 2 }]);
  });

  it("carries the SQLSTATE on errors", async () => {
    await db.query("CREATE TABLE uniq (k text PRIMARY KEY)");
    await db.query("INSERT INTO uniq VALUES ($1)", ["a"]);
    await expect(db.query("INSERT INTO uniq VALUES ($1)", ["a"])).rejects.toMatchObject({ code: "23505" });
  });

  it("commits a transaction that resolves", async () => {
    const result = await db.transaction(async (tx) => {
      await tx.query("INSERT INTO t (s) VALUES ($1)", ["committed"]);
      return "done";
    });
    expect(result).toBe("done");
    expect((await db.query("SELECT 1 FROM t WHERE s = $1", ["committed"])).rowCount).toBe(1);
  });

  it("rolls back a transaction that throws", async () => {
    const boom = new Error("boom");
    await expect(
      db.transaction(async (tx) => {
        await tx.query("INSERT INTO t (s) VALUES ($1)", ["rolled back"]);
        throw boom;
      }),
    ).rejects.toBe(boom);
    expect((await db.query("SELECT 1 FROM t WHERE s = $1", ["rolled back"])).rowCount).toBe(0);
  });

  it("does not report a commit when a caught statement failure aborted the transaction", async () => {
    await expect(
      db.transaction(async (tx) => {
        await tx.query("INSERT INTO t (s) VALUES ($1)", ["aborted"]);
        await tx.query("SELECT 1/0").catch(() => undefined);
      }),
    ).rejects.toBeInstanceOf(TransactionAbortedError);
    expect((await db.query("SELECT 1 FROM t WHERE s = $1", ["aborted"])).rowCount).toBe(0);
  });

  it("delivers notifications to listeners of the exact channel until unlisten", async () => {
    const got: string[] = [];
    const other: string[] = [];
    const unlisten = await db.listen("Run Events", (p) => got.push(p));
    const unlistenOther = await db.listen("run events", (p) => other.push(p));
    await db.query("SELECT pg_notify($1, $2)", ["Run Events", "one"]);
    await db.transaction(async (tx) => {
      await tx.query("SELECT pg_notify($1, $2)", ["Run Events", "two"]);
    });
    await expect.poll(() => got).toEqual(["one", "two"]);
    expect(other).toEqual([]);

    await unlisten();
    await unlistenOther();
    await db.query("SELECT pg_notify($1, $2)", ["Run Events", "three"]);
    await db.query("SELECT 1"); // PGlite delivers notifications with the next round trip
    await new Promise((r) => setTimeout(r, 100));
    expect(got).toEqual(["one", "two"]);
  });

  it("escapes channel names", async () => {
    const got: string[] = [];
    const channel = `odd"; DROP TABLE t; --`;
    const unlisten = await db.listen(channel, (p) => got.push(p));
    await db.query("SELECT pg_notify($1, $2)", [channel, "x"]);
    await expect.poll(() => got).toEqual(["x"]);
    await unlisten();
    expect((await db.query("SELECT count(*) AS n FROM t")).rowCount).toBe(1);
  });
});

describePostgres("postgres connections", (store) => {
  async function openWithLog(): Promise<{ db: Database; lines: string[] }> {
    const lines: string[] = [];
    const db = await openDatabase({ ...(await store.create()), log: (l) => lines.push(l) });
    return { db, lines };
  }

  it("re-listens after the LISTEN connection drops, and logs the gap", async () => {
    const { db, lines } = await openWithLog();
    try {
      const got: string[] = [];
      await db.listen("events", (p) => got.push(p));
      const killed = await db.query<{ pid: number }>(
        `SELECT pg_terminate_backend(pid), pid FROM pg_stat_activity
          WHERE datname = current_database() AND query = 'LISTEN "events"'`,
      );
      expect(killed.rowCount).toBe(1);
      await expect.poll(() => lines.join("\n")).toMatch(/LISTEN connection lost/);
      // Notifications in the gap are lost by design; keep nudging until one lands.
      await expect
        .poll(async () => {
          await db.query("SELECT pg_notify($1, $2)", ["events", "after"]);
          return got;
        }, { timeout: 10_000, interval: 200 })
        .toContain("after");
      expect(lines.join("\n")).toMatch(/LISTEN connection restored/);
    } finally {
      await db.close();
    }
  });

  it("survives idle pool connections being terminated", async () => {
    const { db, lines } = await openWithLog();
    try {
      await Promise.all([1, 2, 3].map(() => db.query("SELECT pg_sleep(0.05)")));
      await db.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
          WHERE datname = current_database() AND pid <> pg_backend_pid()`,
      );
      await expect.poll(() => lines.some((l) => l.startsWith("idle Postgres connection failed"))).toBe(true);
      await expect.poll(async () => (await db.query("SELECT 1 AS ok").catch(() => ({ rows: [] }))).rows).toEqual([{ ok: 1 }]);
    } finally {
      await db.close();
    }
  });

  it("does not take a broken transaction connection back into the pool", async () => {
    const db = await openDatabase(await store.create());
    try {
      await expect(
        db.transaction(async (tx) => {
          await tx.query("SELECT pg_terminate_backend(pg_backend_pid())");
        }),
      ).rejects.toBeDefined();
      expect((await db.query("SELECT 1 AS ok")).rows).toEqual([{ ok: 1 }]);
    } finally {
      await db.close();
    }
  });
});
