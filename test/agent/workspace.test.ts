/** Workspaces: made fresh, kept inside their root, removed small or large. */
import { mkdir, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
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
});
