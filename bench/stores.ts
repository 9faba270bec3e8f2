/**
 * A fresh store for a benchmark: a PGlite directory, or a new database on
 * DATABASE_URL's server. A PGlite directory is a copy of one initialised and
 * migrated data directory made once per `npm run bench` process, so a
 * benchmark that needs many fresh stores (recovery) does not pay PGlite's
 * initdb (3–15 s) each time.
 */
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { cp, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { migrate } from "../src/store/migrate.js";
import { openDatabase } from "../src/store/open.js";

export type BenchStore = "pglite" | "postgres";

export interface FreshStore {
  databaseUrl?: string;
  dataDir: string;
  dispose(): Promise<void>;
}

export function benchStores(): BenchStore[] {
  return process.env.DATABASE_URL ? ["pglite", "postgres"] : ["pglite"];
}

let pgliteTemplate: Promise<string> | undefined;

/** A migrated PGlite directory (`HODEI_DATA_DIR/pg`), removed when the process exits. */
function template(): Promise<string> {
  pgliteTemplate ??= (async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), "hodei-bench-template-"));
    const db = await openDatabase({ dataDir });
    try {
      await migrate(db);
    } finally {
      await db.close();
    }
    process.once("exit", () => rmSync(dataDir, { recursive: true, force: true }));
    return path.join(dataDir, "pg");
  })();
  return pgliteTemplate;
}

export async function freshStore(kind: BenchStore): Promise<FreshStore> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), "hodei-bench-"));
  if (kind === "pglite") {
    await cp(await template(), path.join(dataDir, "pg"), { recursive: true });
    return { dataDir, dispose: () => rm(dataDir, { recursive: true, force: true }) };
  }
  const server = process.env.DATABASE_URL!;
  const name = `hodei_bench_${randomBytes(4).toString("hex")}`;
  const admin = new pg.Client({ connectionString: server });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(server);
  url.pathname = `/${name}`;
  return {
    databaseUrl: url.toString(),
    dataDir,
    async dispose() {
      const c = new pg.Client({ connectionString: server });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
