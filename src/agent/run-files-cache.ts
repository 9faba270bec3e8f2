/**
 * The run's files, fetched from the server once per run and agent, and
 * copied into each attempt's fresh workspace. A run's files never change
 * (the commit, or the snapshot `hodei run` took), so every attempt still
 * starts from the same files (SPEC 1); a chain of stages on one agent just
 * does not fetch and unpack them again for each.
 *
 * Bounded: the `maxRuns` most recently used runs are kept, and a run not
 * used for `idleMs` is dropped at the next fill. Everything lives under one
 * directory named after the agent's pid, removed on `dispose`; directories
 * of agents that died without disposing are removed by the next agent that
 * starts on the machine.
 */
import { mkdir, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { copyListedTreeSync, copyTree, listTree, type TreeEntry } from "./copy-tree.js";

const PREFIX = "hodei-agent-files-";
/** A run's files up to this many entries are listed once and copied with synchronous calls. */
const LISTED_TREE_ENTRIES = 64;

interface Entry {
  dir: string;
  ready: Promise<void>;
  /** The files listed once fetched, if they are few; null: copied with copyTree. */
  listed: TreeEntry[] | null;
  lastUsed: number;
  users: number;
}

export interface RunFilesCacheOptions {
  maxRuns?: number;
  idleMs?: number;
  /** Where the cache directory goes (default: the OS's temporary directory). */
  parent?: string;
}

export class RunFilesCache {
  private root: Promise<string> | null = null;
  private readonly entries = new Map<string, Entry>();
  private readonly maxRuns: number;
  private readonly idleMs: number;
  private readonly parent: string;
  private made = 0;

  constructor(options: RunFilesCacheOptions = {}) {
    this.maxRuns = options.maxRuns ?? 4;
    this.idleMs = options.idleMs ?? 10 * 60_000;
    this.parent = options.parent ?? tmpdir();
  }

  /**
   * Puts the run's files into `into` (an empty directory): fetched by
   * `fetch` into the cache the first time, copied from there every time.
   * A failed fetch is not kept: the next fill fetches again.
   */
  async fill(runId: string, into: string, fetch: (dir: string) => Promise<void>): Promise<void> {
    const root = await this.directory();
    this.expire();
    let entry = this.entries.get(runId);
    if (!entry) {
      // A directory of its own per entry: a dropped entry's removal can never hit a newer one.
      const dir = path.join(root, `${++this.made}`);
      const created: Entry = { dir, lastUsed: Date.now(), users: 0, ready: Promise.resolve(), listed: null };
      created.ready = (async () => {
        await mkdir(dir, { mode: 0o700 });
        await fetch(dir);
        created.listed = await listTree(dir, LISTED_TREE_ENTRIES);
      })();
      created.ready.catch(() => {
        if (this.entries.get(runId) === created) this.entries.delete(runId);
        void rm(dir, { recursive: true, force: true });
      });
      this.entries.set(runId, created);
      entry = created;
    }
    entry.users++;
    entry.lastUsed = Date.now();
    try {
      await entry.ready;
      if (entry.listed) copyListedTreeSync(entry.dir, entry.listed, into);
      else await copyTree(entry.dir, into);
    } finally {
      entry.users--;
      this.evict();
    }
  }

  /** Removes the cache and everything in it. */
  async dispose(): Promise<void> {
    const root = this.root;
    this.root = null;
    this.entries.clear();
    if (root) await rm(await root, { recursive: true, force: true });
  }

  private directory(): Promise<string> {
    this.root ??= (async () => {
      await removeOrphans(this.parent);
      return mkdtemp(path.join(this.parent, `${PREFIX}${process.pid}-`));
    })();
    return this.root;
  }

  private expire(): void {
    const now = Date.now();
    for (const [runId, entry] of this.entries) {
      if (entry.users === 0 && now - entry.lastUsed > this.idleMs) this.drop(runId, entry);
    }
  }

  private evict(): void {
    if (this.entries.size <= this.maxRuns) return;
    const idle = [...this.entries].filter(([, e]) => e.users === 0).sort(([, a], [, b]) => a.lastUsed - b.lastUsed);
    for (const [runId, entry] of idle.slice(0, this.entries.size - this.maxRuns)) this.drop(runId, entry);
  }

  private drop(runId: string, entry: Entry): void {
    this.entries.delete(runId);
    void entry.ready.then(
      () => rm(entry.dir, { recursive: true, force: true }),
      () => undefined,
    );
  }
}

/** Cache directories of agents on this machine whose process is gone. */
async function removeOrphans(parent: string): Promise<void> {
  let names: string[];
  try {
    names = await readdir(parent);
  } catch {
    return;
  }
  for (const name of names) {
    const match = new RegExp(`^${PREFIX}(\\d+)-`).exec(name);
    if (!match || alive(Number(match[1]))) continue;
    await rm(path.join(parent, name), { recursive: true, force: true });
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but is not ours.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
