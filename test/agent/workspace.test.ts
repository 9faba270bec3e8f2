/** Workspaces: made fresh, kept inside their root, removed small or large. */
import { mkdir, readFile, stat, symlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { tempDir } from "../helpers/databases.js";
import { prepareWorkspace, removeWorkspace, WorkdirEscapeError } from "../../src/agent/workspace.js";

const gone = (p: string) => stat(p).then(
  () => false,
  (e: NodeJS.ErrnoException) => e.code === "ENOENT",
);

describe("workspaces", () => {
  it("resolves the workdir inside the checkout and refuses one that leaves it, leaving nothing behind", async () => {
    const ws = await prepareWorkspace("sub/dir", async (root) => {
      await mkdir(path.join(root, "sub", "dir"), { recursive: true });
    });
    expect(ws.cwd).toBe(path.join(ws.root, "sub", "dir"));
    await ws.dispose();
    expect(await gone(ws.root)).toBe(true);
    let escaped = "";
    await expect(
      prepareWorkspace("../elsewhere", (root) => {
        escaped = root;
        return Promise.resolve();
      }),
    ).rejects.toBeInstanceOf(WorkdirEscapeError);
    expect(escaped).toBe("");
  });

  it("removes a small workspace and one a stage filled with thousands of files", async () => {
    for (const files of [3, 3000]) {
      const ws = await prepareWorkspace(".", async (root) => {
        await mkdir(path.join(root, "out", "deep"), { recursive: true });
        for (let i = 0; i < files; i++) await writeFile(path.join(root, "out", "deep", `f${i}`), "x");
      });
      await removeWorkspace(ws.root);
      expect(await gone(ws.root)).toBe(true);
    }
  });

  it("removes links, not what they point to, in a small workspace and in a large one", async () => {
    for (const files of [3, 300]) {
      const outside = await tempDir("hodei-outside-");
      await writeFile(path.join(outside, "keep"), "kept");
      const ws = await prepareWorkspace(".", async (root) => {
        await mkdir(path.join(root, "a", "b"), { recursive: true });
        for (let i = 0; i < files; i++) await writeFile(path.join(root, "a", "b", `f${i}`), "x");
        await symlink(outside, path.join(root, "a", "to-dir"));
        await symlink(path.join(outside, "keep"), path.join(root, "to-file"));
        await symlink(path.join(outside, "missing"), path.join(root, "dangling"));
      });
      await removeWorkspace(ws.root);
      expect(await gone(ws.root)).toBe(true);
      expect(await readFile(path.join(outside, "keep"), "utf8")).toBe("kept");
    }
  });
});
