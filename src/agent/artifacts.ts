/**
 * A stage's `artifacts` (SPEC 1): globs relative to the checkout, expanded
 * after the stage succeeded. `dist/` (or a pattern naming a directory) takes
 * the directory with everything in it. A pattern that matches nothing fails
 * the stage, naming the pattern.
 */
import { readdir } from "node:fs/promises";
import path from "node:path";
import picomatch from "picomatch";

export class ArtifactPatternError extends Error {
  readonly retryable = false;
  constructor(
    readonly pattern: string,
    detail: string,
  ) {
    super(`artifact pattern ${JSON.stringify(pattern)} ${detail}`);
    this.name = "ArtifactPatternError";
  }
}

/** Every file and directory under `root`, as POSIX paths relative to it (symlinks not followed). */
async function walk(root: string): Promise<{ path: string; dir: boolean }[]> {
  const out: { path: string; dir: boolean }[] = [];
  const visit = async (rel: string): Promise<void> => {
    for (const entry of await readdir(path.join(root, rel), { withFileTypes: true })) {
      const p = rel ? `${rel}/${entry.name}` : entry.name;
      const dir = entry.isDirectory();
      out.push({ path: p, dir });
      if (dir) await visit(p);
    }
  };
  await visit("");
  return out;
}

/** The paths to pack (relative to `root`, directories standing for their contents), in pattern order. */
export async function expandArtifacts(root: string, patterns: readonly string[]): Promise<string[]> {
  if (patterns.length === 0) return [];
  const entries = await walk(root);
  const chosen = new Set<string>();
  for (const raw of patterns) {
    const pattern = raw.replace(/^\.\//, "");
    if (pattern.startsWith("/") || pattern.split("/").includes("..")) throw new ArtifactPatternError(raw, "leaves the checkout");
    const dirOnly = pattern.endsWith("/");
    const isMatch = picomatch(dirOnly ? pattern.slice(0, -1) : pattern, { dot: true });
    const matched = entries.filter((e) => (!dirOnly || e.dir) && isMatch(e.path));
    if (matched.length === 0) throw new ArtifactPatternError(raw, "matched nothing");
    for (const m of matched) chosen.add(m.path);
  }
  // A path inside a chosen directory is already packed with it.
  const dirs = [...chosen].filter((p) => entries.find((e) => e.path === p)?.dir);
  return [...chosen].filter((p) => !dirs.some((d) => p.startsWith(`${d}/`)));
}
