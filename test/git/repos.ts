/** Local git repositories for tests: a working repo whose file:// URL stands in for a forge's clone URL. */
import { execFileSync } from "node:child_process";
import { mkdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { tempDir } from "../helpers/databases.js";

export interface TestRepo {
  dir: string;
  url: string;
  git(...args: string[]): string;
  /** Writes files (null deletes), commits them on the current branch, returns the SHA. */
  commit(files: Record<string, string | null>, message?: string): Promise<string>;
}

export async function createRepo(name = "widgets"): Promise<TestRepo> {
  const dir = path.join(await tempDir("hodei-repo-"), "acme", name);
  await mkdir(dir, { recursive: true });
  const git = (...args: string[]) =>
    execFileSync("git", args, {
      cwd: dir,
      encoding: "utf8",
      env: { ...process.env, GIT_AUTHOR_NAME: "T", GIT_AUTHOR_EMAIL: "t@example.com", GIT_COMMITTER_NAME: "T", GIT_COMMITTER_EMAIL: "t@example.com", GIT_CONFIG_GLOBAL: "/dev/null" },
    }).trim();
  git("init", "--quiet", "--initial-branch=main");
  return {
    dir,
    url: pathToFileURL(dir).href,
    git,
    async commit(files, message = "change") {
      for (const [file, text] of Object.entries(files)) {
        const full = path.join(dir, file);
        if (text === null) await rm(full, { force: true });
        else {
          await mkdir(path.dirname(full), { recursive: true });
          await writeFile(full, text);
        }
      }
      git("add", "-A");
      git("commit", "--quiet", "--allow-empty", "-m", message);
      return git("rev-parse", "HEAD");
    },
  };
}
