/** A local git repository whose file:// URL stands in for a forge's clone URL (HODEI_ALLOW_FILE_REPOS). */
import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";

export interface BenchRepo {
  dir: string;
  url: string;
  /** Writes the files, commits them on main, returns the new SHA. */
  commit(files: Record<string, string>): Promise<string>;
  dispose(): Promise<void>;
}

export async function createBenchRepo(): Promise<BenchRepo> {
  const root = await mkdtemp(path.join(os.tmpdir(), "hodei-bench-repo-"));
  const dir = path.join(root, "acme", "widgets");
  await mkdir(dir, { recursive: true });
  const git = (...args: string[]) =>
    execFileSync("git", args, {
      cwd: dir,
      encoding: "utf8",
      env: { ...process.env, GIT_AUTHOR_NAME: "B", GIT_AUTHOR_EMAIL: "b@example.com", GIT_COMMITTER_NAME: "B", GIT_COMMITTER_EMAIL: "b@example.com", GIT_CONFIG_GLOBAL: "/dev/null" },
    }).trim();
  git("init", "--quiet", "--initial-branch=main");
  return {
    dir,
    url: pathToFileURL(dir).href,
    async commit(files) {
      for (const [file, text] of Object.entries(files)) {
        await mkdir(path.dirname(path.join(dir, file)), { recursive: true });
        await writeFile(path.join(dir, file), text);
      }
      git("add", "-A");
      git("commit", "--quiet", "--allow-empty", "-m", "bench");
      return git("rev-parse", "HEAD");
    },
    dispose: () => rm(root, { recursive: true, force: true }),
  };
}
