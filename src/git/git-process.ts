/**
 * One git process, run directly (no shell): its arguments, an environment
 * given in full, optional standard input, and its standard output back.
 *
 * Not simple-git: for a command that prints nothing (`cat-file -e`,
 * `read-tree`, a quiet `fetch`), simple-git waits a fixed 50 ms after the
 * process ends before it resolves, which made the mirror's run of small git
 * commands per push cost several times what the processes themselves do.
 * Processes start from a small helper process (spawn-helper.ts): forking the
 * control plane itself costs in proportion to its memory.
 */
import { spawnViaHelper } from "./spawn-helper.js";

/** A git command that exited non-zero (or could not start); its arguments name no credential (those travel in the environment). */
export class GitCommandError extends Error {
  constructor(
    readonly args: readonly string[],
    readonly exitCode: number | null,
    readonly stderr: string,
  ) {
    super(`git ${args.join(" ")} ${exitCode === null ? "did not run" : `exited ${exitCode}`}${stderr.trim() ? `: ${stderr.trim().slice(0, 2000)}` : ""}`);
    this.name = "GitCommandError";
  }
}

export interface GitRun {
  /** The repository (GIT_DIR for a bare mirror), passed as `--git-dir`. */
  gitDir: string;
  args: readonly string[];
  env: Record<string, string>;
  input?: string;
}

/** Runs git and resolves with its standard output (as a Buffer); GitCommandError on a non-zero exit. */
export async function runGitBuffer({ gitDir, args, env, input }: GitRun): Promise<Buffer> {
  const r = await spawnViaHelper({ file: "git", args: [`--git-dir=${gitDir}`, ...args], env, input });
  if (r.code !== 0) throw new GitCommandError(args, r.code, r.stderr);
  return r.stdout;
}

/** runGitBuffer with the output as UTF-8 text. */
export async function runGit(run: GitRun): Promise<string> {
  return (await runGitBuffer(run)).toString("utf8");
}
