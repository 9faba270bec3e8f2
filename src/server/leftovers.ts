/**
 * Compensation after a crash: files the control plane made for runs — the
 * snapshots `hodei run` takes (HODEI_DATA_DIR/sources) and the git checkouts
 * of forge runs (HODEI_DATA_DIR/checkouts) — are removed when their run
 * completes; a process that died could not, so at start everything there that
 * no unfinished run still needs goes.
 */
import { readdir, rm } from "node:fs/promises";
import path from "node:path";
import type { Queryable } from "../store/database.js";

export async function sweepLeftovers(options: { db: Queryable; dataDir: string; log?: (m: string) => void }): Promise<string[]> {
  if (options.dataDir === "memory://") return [];
  const { rows } = await options.db.query<{ id: string; path: string | null }>(
    `select r.id, e.data->'source'->>'path' as path
       from runs r join run_events e on e.run_id = r.id and e.seq = 1
      where r.status <> 'completed'`,
  );
  const needed = new Set<string>();
  for (const r of rows) {
    needed.add(path.resolve(options.dataDir, "checkouts", r.id.replace(/[^A-Za-z0-9_-]/g, "_")));
    if (r.path) needed.add(path.resolve(r.path));
  }
  const removed: string[] = [];
  for (const folder of ["sources", "checkouts"]) {
    const root = path.resolve(options.dataDir, folder);
    const entries = await readdir(root).catch(() => [] as string[]);
    for (const name of entries) {
      const dir = path.join(root, name);
      if (needed.has(dir)) continue;
      await rm(dir, { recursive: true, force: true });
      removed.push(dir);
    }
  }
  if (removed.length > 0) options.log?.(`Removed ${removed.length} leftover workspace(s) of finished runs`);
  return removed;
}
