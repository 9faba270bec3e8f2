/**
 * A pid lock file for the embedded database's directory. Two PGlite
 * instances on one directory corrupt it, and PGlite itself does not check.
 *
 * A lock whose pid is no longer running is stale and taken over. Two
 * processes taking over the same stale lock at the same instant can still
 * both win; that needs a crashed holder and a simultaneous double start.
 */
import { readFileSync } from "node:fs";
import { open, readFile, unlink } from "node:fs/promises";
import { DataDirInUseError } from "./errors.js";

/** Lock files this process holds, to tell a second opener here from a stale file left by an earlier process with our pid. */
const held = new Set<string>();

export interface DataDirLock {
  readonly file: string;
  release(): Promise<void>;
}

/**
 * A zombie has exited and holds nothing, but answers signal 0 until reaped; a
 * store process whose server was killed is reparented to an init that may
 * reap late. Linux only (/proc); elsewhere a zombie counts as running.
 */
function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // "pid (comm) S ...": comm may hold spaces and parentheses, the state follows the last ')'.
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) === "Z";
  } catch {
    return false;
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !isZombie(pid);
  } catch (err) {
    // EPERM: it exists, it is just not ours to signal.
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

async function readPid(file: string): Promise<number | undefined> {
  try {
    const pid = Number.parseInt((await readFile(file, "utf8")).trim(), 10);
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}

/** Takes `file` for this process, or throws DataDirInUseError naming the holder. */
export async function lockDataDir(dataDir: string, file: string): Promise<DataDirLock> {
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      const handle = await open(file, "wx");
      try {
        await handle.writeFile(`${process.pid}\n`);
      } finally {
        await handle.close();
      }
      held.add(file);
      return {
        file,
        async release() {
          if (!held.delete(file)) return;
          if ((await readPid(file)) === process.pid) await unlink(file).catch(() => undefined);
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    const pid = await readPid(file);
    // A second PGlite in this process corrupts as well. Our own pid in a lock we
    // do not hold is stale: a container restarted as pid 1 finds its predecessor's.
    if (pid !== undefined && (pid === process.pid ? held.has(file) : isRunning(pid))) {
      throw new DataDirInUseError(dataDir, pid, file);
    }
    // Stale (dead pid) or unreadable (a writer between open and write, or garbage):
    // give a writer a moment, then take it over.
    if (pid === undefined && attempt === 0) {
      await new Promise((r) => setTimeout(r, 50));
      continue;
    }
    await unlink(file).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== "ENOENT") throw e;
    });
  }
  throw new Error(`could not take the lock file ${file}`);
}
