/** A run's checkout: made ahead while the run is stored (prepare) and adopted by the run, or made on demand, fetching only what the mirror lacks. */
import { readFile, readdir } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { GitMirrors } from "../../src/git/mirror.js";
import { GitSources } from "../../src/triggers/git-sources.js";
import { tempDir } from "../helpers/databases.js";
import { createRepo } from "../git/repos.js";

async function sources() {
  const root = await tempDir("hodei-sources-");
  return { root: path.join(root, "checkouts"), sources: new GitSources(new GitMirrors({ root: path.join(root, "mirrors"), allowFileRepos: true }), path.join(root, "checkouts")) };
}

describe("git sources", () => {
  it("a run adopts the checkout prepared for its commit; the release after that leaves it in place", async () => {
    const repo = await createRepo();
    const sha = await repo.commit({ "a.txt": "prepared\n" });
    const { root, sources: s } = await sources();
    await s.mirrors.ensureCommit(repo.url, sha);
    const release = s.prepare(repo.url, sha);
    const dir = await s.resolve("run-1", { kind: "git", url: repo.url, sha });
    await release();
    expect(dir).toEqual({ kind: "directory", path: path.join(root, "run-1") });
    expect(await readFile(path.join(dir.path, "a.txt"), "utf8")).toBe("prepared\n");
    expect(await readdir(root)).toEqual(["run-1"]);
  });

  it("a prepared checkout no run took is removed by its release; a run of another commit does not take it", async () => {
    const repo = await createRepo();
    const one = await repo.commit({ "a.txt": "one\n" });
    const two = await repo.commit({ "a.txt": "two\n" });
    const { root, sources: s } = await sources();
    await s.mirrors.ensureCommit(repo.url, two);
    const release = s.prepare(repo.url, one);
    const dir = await s.resolve("run-2", { kind: "git", url: repo.url, sha: two });
    expect(await readFile(path.join(dir.path, "a.txt"), "utf8")).toBe("two\n");
    const entries = await readdir(root);
    expect(entries).toHaveLength(2);
    expect(entries.filter((e) => e.startsWith(".prepared-"))).toHaveLength(1);
    await release();
    expect(await readdir(root)).toEqual(["run-2"]);
  });

  it("a run whose commit the mirror lacks (another server's run, adopted) fetches it first", async () => {
    const repo = await createRepo();
    const sha = await repo.commit({ "a.txt": "fetched\n" });
    const { sources: s } = await sources();
    const dir = await s.resolve("run-3", { kind: "git", url: repo.url, sha });
    expect(await readFile(path.join(dir.path, "a.txt"), "utf8")).toBe("fetched\n");
  });
});
