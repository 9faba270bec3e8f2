import { readdir, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { expect, it } from "vitest";
import { MigrationFailedError, MigrationFileError, MigrationMismatchError } from "../../src/store/errors.js";
import { migrate } from "../../src/store/migrate.js";
import { openDatabase } from "../../src/store/open.js";
import { describeEachStore, tempDir } from "../helpers/databases.js";

async function migrations(files: Record<string, string>): Promise<string> {
  const dir = await tempDir("hodei-migrations-");
  for (const [name, sql] of Object.entries(files)) await writeFile(path.join(dir, name), sql);
  return dir;
}

const FIRST = {
  "0001_widgets.sql": "CREATE TABLE widgets (id int PRIMARY KEY, name text NOT NULL);",
  "0002_widget_colour.sql": "ALTER TABLE widgets ADD COLUMN colour text;\nCREATE INDEX widgets_colour ON widgets (colour);",
};

describeEachStore("migrate", (store) => {
  it("applies migrations in version order and records them", async () => {
    const db = await store.open();
    const dir = await migrations({
      "0010_later.sql": "INSERT INTO widgets (id, name, colour) VALUES (1, 'w', 'red');",
      ...FIRST,
      "README.md": "not a migration",
    });
    expect(await migrate(db, { dir })).toEqual({ applied: ["0001_widgets", "0002_widget_colour", "0010_later"] });
    const { rows } = await db.query<{ version: number; name: string; applied_at: Date }>(
      "SELECT version, name, applied_at FROM hodei_migrations ORDER BY version",
    );
    expect(rows.map((r) => [r.version, r.name])).toEqual([
      [1, "widgets"],
      [2, "widget_colour"],
      [10, "later"],
    ]);
    expect(rows[0]!.applied_at).toBeInstanceOf(Date);
    expect((await db.query("SELECT colour FROM widgets")).rows).toEqual([{ colour: "red" }]);
  });

  it("is idempotent and applies only new migrations later", async () => {
    const db = await store.open();
    const dir = await migrations({ "0001_widgets.sql": FIRST["0001_widgets.sql"] });
    expect((await migrate(db, { dir })).applied).toEqual(["0001_widgets"]);
    expect((await migrate(db, { dir })).applied).toEqual([]);
    await writeFile(path.join(dir, "0002_widget_colour.sql"), FIRST["0002_widget_colour.sql"]);
    expect((await migrate(db, { dir })).applied).toEqual(["0002_widget_colour"]);
    expect((await migrate(db, { dir })).applied).toEqual([]);
  });

  it("refuses a renamed migration file", async () => {
    const db = await store.open();
    const dir = await migrations(FIRST);
    await migrate(db, { dir });
    await rename(path.join(dir, "0002_widget_colour.sql"), path.join(dir, "0002_widget_color.sql"));
    const err = await migrate(db, { dir }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MigrationMismatchError);
    expect(err).toMatchObject({ version: 2, recordedName: "widget_colour", fileName: "0002_widget_color" });
  });

  it("refuses when an applied migration's file disappeared", async () => {
    const db = await store.open();
    const dir = await migrations(FIRST);
    await migrate(db, { dir });
    await rm(path.join(dir, "0001_widgets.sql"));
    await expect(migrate(db, { dir })).rejects.toMatchObject({
      name: "MigrationMismatchError",
      version: 1,
      fileName: undefined,
    });
  });

  it("rolls back a failing migration and leaves it unapplied", async () => {
    const db = await store.open();
    const dir = await migrations({
      ...FIRST,
      "0003_broken.sql": "CREATE TABLE gadgets (id int);\nINSERT INTO nowhere VALUES (1);",
    });
    const err = await migrate(db, { dir }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MigrationFailedError);
    expect(err).toMatchObject({ version: 3, migrationName: "broken", sqlState: "42P01" });
    const versions = await db.query("SELECT version FROM hodei_migrations ORDER BY version");
    expect(versions.rows).toEqual([{ version: 1 }, { version: 2 }]);
    expect((await db.query("SELECT to_regclass('gadgets') AS t")).rows).toEqual([{ t: null }]);

    await writeFile(path.join(dir, "0003_broken.sql"), "CREATE TABLE gadgets (id int);");
    expect((await migrate(db, { dir })).applied).toEqual(["0003_broken"]);
  });

  it("reports a migration whose own SQL violates a unique constraint as failed, not as a race", async () => {
    const db = await store.open();
    const dir = await migrations({
      "0001_dupes.sql": "CREATE TABLE d (k int PRIMARY KEY); INSERT INTO d VALUES (1), (1);",
    });
    await expect(migrate(db, { dir })).rejects.toMatchObject({ name: "MigrationFailedError", sqlState: "23505" });
  });

  it("refuses badly named and duplicate migration files", async () => {
    const db = await store.open();
    await expect(migrate(db, { dir: await migrations({ "1_widgets.sql": "" }) })).rejects.toBeInstanceOf(MigrationFileError);
    await expect(
      migrate(db, { dir: await migrations({ "0001_a.sql": "SELECT 1", "0001_b.sql": "SELECT 1" }) }),
    ).rejects.toBeInstanceOf(MigrationFileError);
  });

  it("applies the shipped migrations", async () => {
    const db = await store.open();
    const shipped = (await readdir(new URL("../../src/store/migrations/", import.meta.url))).filter((f) => f.endsWith(".sql"));
    const { applied } = await migrate(db);
    expect(applied).toEqual(shipped.sort().map((f) => f.replace(/\.sql$/, "")));
  });

  it("lets concurrent migrators on one database apply each migration once", async () => {
    const where = await store.create();
    const dir = await migrations({
      ...FIRST,
      "0003_slow.sql": "SELECT pg_sleep(0.2); CREATE TABLE counters (n int);",
      "0004_seed.sql": "INSERT INTO counters VALUES (1);",
    });
    if (store.kind === "pglite") {
      // One process may hold a PGlite directory; concurrency is within it.
      const db = await openDatabase(where);
      try {
        const results = await Promise.all([migrate(db, { dir }), migrate(db, { dir })]);
        expect(results.flatMap((r) => r.applied).sort()).toEqual(["0001_widgets", "0002_widget_colour", "0003_slow", "0004_seed"]);
        expect((await db.query("SELECT n FROM counters")).rows).toEqual([{ n: 1 }]);
      } finally {
        await db.close();
      }
      return;
    }
    const dbs = await Promise.all([1, 2, 3].map(() => openDatabase(where)));
    try {
      const results = await Promise.all(dbs.map((db) => migrate(db, { dir })));
      expect(results.flatMap((r) => r.applied).sort()).toEqual(["0001_widgets", "0002_widget_colour", "0003_slow", "0004_seed"]);
      expect((await dbs[0]!.query("SELECT n FROM counters")).rows).toEqual([{ n: 1 }]);
      expect((await dbs[0]!.query("SELECT count(*) AS n FROM hodei_migrations")).rows).toEqual([{ n: 4 }]);
    } finally {
      await Promise.all(dbs.map((db) => db.close()));
    }
  });
});
