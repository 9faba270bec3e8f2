/**
 * The identity this control-plane process owns runs under. A process that
 * restarts with the same identity takes its runs back at once instead of
 * waiting for its old ownership to lapse. PGlite admits one process per data
 * directory, so it needs no more than a constant; on a shared Postgres each
 * process keeps its id in its own data directory (or takes HODEI_NODE_ID).
 */
import { randomUUID } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";

export async function nodeIdentity(options: { databaseUrl?: string; dataDir: string; configured?: string }): Promise<string> {
  if (options.configured) return options.configured;
  if (!options.databaseUrl) return "embedded";
  const file = path.join(path.resolve(options.dataDir), "node-id");
  try {
    const id = (await readFile(file, "utf8")).trim();
    if (id) return id;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  const id = `node-${randomUUID()}`;
  await mkdir(path.dirname(file), { recursive: true });
  // Two processes racing here both end up reading the one that won.
  await writeFile(file, `${id}\n`, { flag: "wx" }).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== "EEXIST") throw error;
  });
  return (await readFile(file, "utf8")).trim();
}
