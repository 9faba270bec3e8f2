/** Bare mirrors of local repositories: incremental fetch, files at a commit, changed files, exact checkouts. */
import { chmod, readFile, readdir, readlink, stat, symlink } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { CommitNotFoundError, GitMirrors, RepoUrlError } from "../../src/git/mirror.js";
import { tempDir } from "../helpers/databases.js";
import { createRepo } from "./repos.js";

async function mirrors(allowFileRepos = true) {
  return new GitMirrors({ root: await tempDir("hodei-mirrors-"), allowFileRepos });
}

describe("git mirrors", () => {
  it("fetches a commit, reads its files, lists changes and materialises that exact commit", async () => {
    const repo = await createRepo();
    const first = await repo.commit({ ".hodei/pipeline.yml": "stages: {a: {run: echo 1}}\n", "src/a.txt": "one\n", "docs/x.md": "x\n" });
    const second = await repo.commit({ "src/a.txt": "two\n", "docs/x.md": null });
    const m = await mirrors();
    await m.ensureCommit(repo.url, second);
    expect(await m.readFile(repo.url, first, "src/a.txt")).toBe("one\n");
    expect(await m.readFile(repo.url, second, "docs/x.md")).toBeNull();
    expect(await m.listFiles(repo.url, second, ".hodei")).toEqual([".hodei/pipeline.yml"]);
    expect(await m.changedFiles(repo.url, first, second)).toEqual(["docs/x.md", "src/a.txt"]);
    expect(await m.changedFiles(repo.url, null, second)).toBeNull();

    const dest = path.join(await tempDir(), "checkout");
    await m.materialise(repo.url, first, dest);
    expect(await readFile(path.join(dest, "src/a.txt"), "utf8")).toBe("one\n");
    expect((await readdir(dest)).sort()).toEqual([".hodei", "docs", "src"]);
  });

  it("reads a commit's whole message, subject and body, and refuses what is not a full SHA", async () => {
    const repo = await createRepo();
    const sha = await repo.commit({ "a.txt": "a\n" }, "Subject line\n\nBody [skip ci]\nlast line");
    const m = await mirrors();
    await m.ensureCommit(repo.url, sha);
    expect((await m.commitMessage(repo.url, sha)).trimEnd()).toBe("Subject line\n\nBody [skip ci]\nlast line");
    await expect(m.commitMessage(repo.url, "HEAD")).rejects.toBeInstanceOf(RepoUrlError);
  });

  it("fetches incrementally: a later push is found, and a PR branch's changes come from the merge base", async () => {
    const repo = await createRepo();
    const base = await repo.commit({ "a.txt": "a\n" });
    const m = await mirrors();
    await m.ensureCommit(repo.url, base);
    repo.git("checkout", "--quiet", "-b", "feature");
    const head = await repo.commit({ "feature.txt": "f\n" });
    repo.git("checkout", "--quiet", "main");
    const mainLater = await repo.commit({ "main-only.txt": "m\n" });
    await m.ensureCommit(repo.url, head);
    await m.ensureCommit(repo.url, mainLater);
    expect(await m.changedSinceMergeBase(repo.url, mainLater, head)).toEqual(["feature.txt"]);
  });

  it("refuses file:// unless allowed, other schemes, credentials in URLs and short SHAs; a missing commit is CommitNotFoundError", async () => {
    const repo = await createRepo();
    const sha = await repo.commit({ "a.txt": "a\n" });
    await expect((await mirrors(false)).ensureCommit(repo.url, sha)).rejects.toThrow(RepoUrlError);
    const m = await mirrors();
    expect(() => m.checkUrl("ssh://git@example.com/a/b.git")).toThrow(RepoUrlError);
    expect(() => m.checkUrl("ext::sh -c touch% /tmp/pwned")).toThrow(RepoUrlError);
    expect(() => m.checkUrl("https://user:pw@example.com/a/b.git")).toThrow(RepoUrlError);
    await expect(m.ensureCommit(repo.url, sha.slice(0, 7))).rejects.toThrow(RepoUrlError);
    await expect(m.ensureCommit(repo.url, "f".repeat(40))).rejects.toThrow(CommitNotFoundError);
  });

  it("never writes the forge credential into the mirror's config", async () => {
    const repo = await createRepo();
    const sha = await repo.commit({ "a.txt": "a\n" });
    const m = await mirrors();
    await m.ensureCommit(repo.url, sha, { auth: { header: "Authorization: Basic c2VjcmV0LXRva2Vu" } });
    const config = await readFile(path.join(m.dirOf(repo.url), "config"), "utf8");
    expect(config).not.toContain("c2VjcmV0LXRva2Vu");
    expect(config).not.toContain("extraHeader");
  });

  it("reads several files with one process (null for a missing file or a directory) and diffs only against a commit it has", async () => {
    const repo = await createRepo();
    const first = await repo.commit({ ".hodei/pipeline.yml": "a: 1\n", "lib/x.txt": "x\n", "b.bin": "\u00e9t\u00e9\n" });
    const second = await repo.commit({ "lib/x.txt": "y\n", "new.txt": "n\n" });
    const m = await mirrors();
    await m.ensureCommit(repo.url, second);
    expect(await m.readFiles(repo.url, second, [".hodei/pipeline.ts", ".hodei/pipeline.yml", "lib", "b.bin", "lib/x.txt"])).toEqual([null, "a: 1\n", null, "\u00e9t\u00e9\n", "y\n"]);
    expect(await m.changedFiles(repo.url, first, second)).toEqual(["lib/x.txt", "new.txt"]);
    // A previous head the mirror never saw (a force-push's old head): every file counts as changed.
    expect(await m.changedFiles(repo.url, "e".repeat(40), second)).toBeNull();
  });

  it("materialises with file modes and symlinks, and says CommitNotFoundError for a commit the mirror lacks", async () => {
    const repo = await createRepo();
    await repo.commit({ "run.sh": "#!/bin/sh\necho hi\n", "dir/target.txt": "t\n" });
    await chmod(path.join(repo.dir, "run.sh"), 0o755);
    await symlink("dir/target.txt", path.join(repo.dir, "link"));
    const sha = await repo.commit({});
    const m = await mirrors();
    await m.ensureCommit(repo.url, sha);
    const dest = path.join(await tempDir(), "checkout");
    await m.materialise(repo.url, sha, dest);
    expect((await stat(path.join(dest, "run.sh"))).mode & 0o111).not.toBe(0);
    expect(await readlink(path.join(dest, "link"))).toBe("dir/target.txt");
    expect(await readFile(path.join(m.dirOf(repo.url), "config"), "utf8")).toMatch(/bare = true/);
    await expect(m.materialise(repo.url, "d".repeat(40), path.join(await tempDir(), "other"))).rejects.toThrow(CommitNotFoundError);
  });
});
