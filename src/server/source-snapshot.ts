/**
 * The files of a local checkout, copied once per run so every stage attempt
 * starts from the same tree even if the user edits files meanwhile (the
 * `hodei run` path; runs from a forge get their tree from the git mirror).
 * In a git repository that is what git would commit: tracked files plus
 * untracked ones that are not ignored, with their working-tree contents.
 */
import { copyFile, mkdir, readdir, readlink, rm, symlink } from "node:fs/promises";
import path from "node:path";
import { simpleGit } from "simple-git";

const ALWAYS_SKIPPED = new Set([".git", "node_modules", ".hodei-data"]);

export async function snapshotCheckout(checkout: string, destination: string): Promise<{ files: number }> {
  await mkdir(destination, { recursive: true });
  const files = (await gitFiles(checkout)) ?? (await walk(checkout, ""));
  let copied = 0;
  for (const rel of files) {
    const from = path.join(checkout, rel);
    const to = path.join(destination, rel);
    await mkdir(path.dirname(to), { recursive: true });
    try {
      await copyFile(from, to);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "ENOENT") continue; // deleted in the working tree but still in the index
      if (code === "EISDIR" || code === "ENOTSUP") continue; // submodule or special file
      if (code === "EINVAL") {
        await symlink(await readlink(from), to);
        continue;
      }
      throw error;
    }
    copied++;
  }
  return { files: copied };
}

export async function removeSnapshot(destination: string): Promise<void> {
  await rm(destination, { recursive: true, force: true });
}

async function gitFiles(checkout: string): Promise<string[] | null> {
  try {
    const git = simpleGit(checkout);
    if (!(await git.checkIsRepo())) return null;
    const top = (await git.revparse(["--show-toplevel"])).trim();
    if (path.resolve(top) !== path.resolve(checkout)) return null;
    const out = await git.raw(["ls-files", "-z", "--cached", "--others", "--exclude-standard"]);
    return [...new Set(out.split("\0").filter((f) => f && !ALWAYS_SKIPPED.has(f.split("/")[0] ?? "")))];
  } catch {
    return null;
  }
}

async function walk(root: string, rel: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(path.join(root, rel), { withFileTypes: true })) {
    if (ALWAYS_SKIPPED.has(entry.name)) continue;
    const child = path.join(rel, entry.name);
    if (entry.isDirectory()) out.push(...(await walk(root, child)));
    else out.push(child);
  }
  return out;
}
