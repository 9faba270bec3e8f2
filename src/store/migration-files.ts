/**
 * Finding and reading the numbered migration files (`NNNN_name.sql`).
 *
 * The SQL is read at run time, so it must be reachable from both the source
 * (`src/store/migrate.ts`, under vitest) and the build (`dist/store/migrate.js`,
 * which tsc emits without the .sql files). The default directory is the first
 * of `./migrations/` next to the module and `../../src/store/migrations/` from
 * it that exists; package.json ships `src/store/migrations` for the second.
 */
import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { MigrationFileError } from "./errors.js";

export interface MigrationFile {
  version: number;
  name: string;
  file: string;
}

const FILE_NAME = /^(\d{4})_([a-z0-9_]+)\.sql$/;

export function defaultMigrationsDir(): string {
  const candidates = [new URL("./migrations/", import.meta.url), new URL("../../src/store/migrations/", import.meta.url)];
  const found = candidates.map((u) => fileURLToPath(u)).find((dir) => existsSync(dir));
  if (!found) throw new MigrationFileError(fileURLToPath(candidates[0]!), "migrations directory not found");
  return found;
}

/** The migration files in `dir`, in version order. Other file types are ignored. */
export async function listMigrations(dir: string): Promise<MigrationFile[]> {
  const files: MigrationFile[] = [];
  for (const entry of await readdir(dir)) {
    if (!entry.endsWith(".sql")) continue;
    const m = FILE_NAME.exec(entry);
    if (!m) throw new MigrationFileError(path.join(dir, entry), "name must be NNNN_name.sql (lower case, digits, _)");
    const version = Number(m[1]);
    if (version === 0) throw new MigrationFileError(path.join(dir, entry), "versions start at 0001");
    files.push({ version, name: m[2]!, file: path.join(dir, entry) });
  }
  files.sort((a, b) => a.version - b.version);
  for (let i = 1; i < files.length; i++) {
    if (files[i]!.version === files[i - 1]!.version) {
      throw new MigrationFileError(files[i]!.file, `version ${files[i]!.version} is also used by ${files[i - 1]!.file}`);
    }
  }
  return files;
}

export function readMigration(m: MigrationFile): Promise<string> {
  return readFile(m.file, "utf8");
}
