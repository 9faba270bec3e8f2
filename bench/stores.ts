/** A fresh store for a benchmark: a PGlite directory, or a new database on DATABASE_URL's server. */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import pg from "pg";

export type BenchStore = "pglite" | "postgres";

export function benchStores(): BenchStore[] {
  return process.env.DATABASE_URL ? ["pglite", "postgres"] : ["pglite"];
}

export async function freshStore(kind: BenchStore): Promise<{ databaseUrl?: string; dataDir: string; dispose(): Promise<void> }> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), "hodei-bench-"));
  if (kind === "pglite") return { dataDir, dispose: () => rm(dataDir, { recursive: true, force: true }) };
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
