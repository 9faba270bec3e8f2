import { lstat, mkdir, readFile, readdir, readlink, stat, symlink, utimes, writeFile } from "node:fs/promises";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { copyListedTreeSync, copyTree, listTree } from "../../src/agent/copy-tree.js";
import { RunFilesCache } from "../../src/agent/run-files-cache.js";
import { tempDir } from "../helpers/databases.js";

/** A fetch that writes a small tree and counts its calls. */
function fetcher(content = "hello\n") {
  const calls: string[] = [];
  const fetch = async (dir: string) => {
    calls.push(dir);
    await writeFile(path.join(dir, "README"), content);
  };
  return { calls, fetch };
}

describe("RunFilesCache", () => {
  it("fetches a run's files once and gives every attempt its own copy", async () => {
    const cache = new RunFilesCache({ parent: await tempDir("hodei-cache-") });
    const f = fetcher();
    const a = await tempDir("hodei-ws-");
    const b = await tempDir("hodei-ws-");
    await Promise.all([cache.fill("run-1", a, f.fetch), cache.fill("run-1", b, f.fetch)]);
    expect(f.calls).toHaveLength(1);
    // An attempt that changes its files changes nothing for the next one.
    await writeFile(path.join(a, "README"), "changed by a stage\n");
    const c = await tempDir("hodei-ws-");
    await cache.fill("run-1", c, f.fetch);
    expect(f.calls).toHaveLength(1);
    expect(await readFile(path.join(b, "README"), "utf8")).toBe("hello\n");
    expect(await readFile(path.join(c, "README"), "utf8")).toBe("hello\n");
    await cache.dispose();
  });

  it("does not keep a failed fetch: the next attempt fetches again", async () => {
    const cache = new RunFilesCache({ parent: await tempDir("hodei-cache-") });
    let calls = 0;
    const flaky = async (dir: string) => {
      calls++;
      if (calls === 1) throw new Error("connection reset");
      await writeFile(path.join(dir, "README"), "second try\n");
    };
    await expect(cache.fill("run-1", await tempDir("hodei-ws-"), flaky)).rejects.toThrow("connection reset");
    const ws = await tempDir("hodei-ws-");
    await cache.fill("run-1", ws, flaky);
    expect(calls).toBe(2);
    expect(await readFile(path.join(ws, "README"), "utf8")).toBe("second try\n");
    await cache.dispose();
  });

  it("keeps at most maxRuns runs, dropping the least recently used, and removes everything on dispose", async () => {
    const parent = await tempDir("hodei-cache-");
    const cache = new RunFilesCache({ parent, maxRuns: 2, idleMs: 10 * 60_000 });
    const f = fetcher();
    for (const run of ["r1", "r2", "r1", "r3"]) await cache.fill(run, await tempDir("hodei-ws-"), f.fetch);
    expect(f.calls).toHaveLength(3);
    // r2 was least recently used when r3 came: its files are gone, r1's are not.
    // The eviction removes r2's files in the background: wait for it (50 ms was not always enough under load).
    const [root] = await readdir(parent);
    await expect.poll(() => readdir(path.join(parent, root!)).then((d) => d.length), { timeout: 10_000, interval: 20 }).toBe(2);
    await cache.fill("r1", await tempDir("hodei-ws-"), f.fetch);
    expect(f.calls).toHaveLength(3);
    await cache.fill("r2", await tempDir("hodei-ws-"), f.fetch);
    expect(f.calls).toHaveLength(4);
    await cache.dispose();
    expect(await readdir(parent)).toEqual([]);
  });

  it("drops a run not used for idleMs", async () => {
    const cache = new RunFilesCache({ parent: await tempDir("hodei-cache-"), idleMs: 20 });
    const f = fetcher();
    await cache.fill("r1", await tempDir("hodei-ws-"), f.fetch);
    await new Promise((r) => setTimeout(r, 60));
    await cache.fill("r1", await tempDir("hodei-ws-"), f.fetch);
    expect(f.calls).toHaveLength(2);
    await cache.dispose();
  });

  it("removes the cache directories of agents that are gone, and only those", async () => {
    const parent = await tempDir("hodei-cache-");
    // A pid that is certainly not running: a child that has exited.
    const dead = spawnSync("true").pid;
    await mkdir(path.join(parent, `hodei-agent-files-${dead}-abc`));
    await mkdir(path.join(parent, `hodei-agent-files-${process.ppid}-def`));
    const cache = new RunFilesCache({ parent });
    await cache.fill("r1", await tempDir("hodei-ws-"), fetcher().fetch);
    const names = await readdir(parent);
    expect(names).not.toContain(`hodei-agent-files-${dead}-abc`);
    expect(names).toContain(`hodei-agent-files-${process.ppid}-def`);
    await cache.dispose();
  });
});

const copies: [string, (from: string, to: string) => Promise<void>][] = [
  ["copyTree", copyTree],
  [
    "copyListedTreeSync",
    async (from, to) => {
      const listed = await listTree(from, 64);
      if (!listed) throw new Error("the tree was not listed");
      copyListedTreeSync(from, listed, to);
    },
  ],
];

describe.each(copies)("%s", (_name, copy) => {
  it("copies files with their modes and times, directories and symbolic links", async () => {
    const from = await tempDir("hodei-tree-");
    await mkdir(path.join(from, "bin"), { mode: 0o750 });
    await writeFile(path.join(from, "bin", "run.sh"), "#!/bin/sh\necho hi\n", { mode: 0o755 });
    await writeFile(path.join(from, "data.txt"), "data\n", { mode: 0o600 });
    await utimes(path.join(from, "data.txt"), new Date("2020-01-02T03:04:05Z"), new Date("2020-01-02T03:04:05Z"));
    await utimes(path.join(from, "bin"), new Date("2021-01-02T03:04:05Z"), new Date("2021-01-02T03:04:05Z"));
    await symlink("bin/run.sh", path.join(from, "link"));
    const to = await tempDir("hodei-tree-");
    await copy(from, to);
    expect((await stat(path.join(to, "bin"))).mode & 0o777).toBe(0o750);
    expect((await stat(path.join(to, "bin"))).mtime.toISOString()).toBe("2021-01-02T03:04:05.000Z");
    expect((await stat(path.join(to, "bin", "run.sh"))).mode & 0o777).toBe(0o755);
    expect((await stat(path.join(to, "data.txt"))).mode & 0o777).toBe(0o600);
    expect((await stat(path.join(to, "data.txt"))).mtime.toISOString()).toBe("2020-01-02T03:04:05.000Z");
    expect((await lstat(path.join(to, "link"))).isSymbolicLink()).toBe(true);
    expect(await readlink(path.join(to, "link"))).toBe("bin/run.sh");
    expect(await readFile(path.join(to, "bin", "run.sh"), "utf8")).toBe("#!/bin/sh\necho hi\n");
  });
});

describe("listTree", () => {
  it("lists directories before what they hold, and gives up past its limit", async () => {
    const root = await tempDir("hodei-tree-");
    await mkdir(path.join(root, "a", "b"), { recursive: true });
    await writeFile(path.join(root, "a", "b", "f"), "x");
    expect((await listTree(root, 3))?.map((e) => [e.path, e.kind])).toEqual([
      ["a", "dir"],
      [path.join("a", "b"), "dir"],
      [path.join("a", "b", "f"), "file"],
    ]);
    expect(await listTree(root, 2)).toBeNull();
  });

  it("a run's files past the listing limit are still copied whole (by copyTree)", async () => {
    const cache = new RunFilesCache({ parent: await tempDir("hodei-cache-") });
    const many = async (dir: string) => {
      for (let i = 0; i < 100; i++) await writeFile(path.join(dir, `f${i}`), `${i}\n`);
    };
    const ws = await tempDir("hodei-ws-");
    await cache.fill("run-many", ws, many);
    expect((await readdir(ws)).length).toBe(100);
    expect(await readFile(path.join(ws, "f99"), "utf8")).toBe("99\n");
    await cache.dispose();
  });
});
