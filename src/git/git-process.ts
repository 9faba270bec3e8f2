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

/**
 * A git command that ran past its time limit; it and the processes it started
 * were killed. Says what was being done ("git fetch of URL") and after how long.
 */
export class GitTimeoutError extends GitCommandError {
  readonly retryable = true;
  constructor(
    args: readonly string[],
    stderr: string,
    readonly what: string,
    readonly timeoutMs: number,
  ) {
    super(args, null, stderr);
    this.message = `${what} timed out after ${formatSeconds(timeoutMs)} s`;
    this.name = "GitTimeoutError";
  }
}

function formatSeconds(ms: number): string {
  return Number.isInteger(ms / 1000) ? String(ms / 1000) : (ms / 1000).toFixed(1);
}

export interface GitRun {
  /** The repository (GIT_DIR for a bare mirror), passed as `--git-dir`. */
  gitDir: string;
  args: readonly string[];
  env: Record<string, string>;
  input?: string;
  /** Time limit (ms) after which the process group is killed and GitTimeoutError thrown. */
  timeoutMs?: number;
  /** What the command does, for the timeout's message: "git fetch of https://..." (no credentials). */
  what?: string;
}

/** Runs git and resolves with its standard output (as a Buffer); GitCommandError on a non-zero exit, GitTimeoutError past `timeoutMs`. */
export async function runGitBuffer({ gitDir, args, env, input, timeoutMs, what }: GitRun): Promise<Buffer> {
  const r = await spawnViaHelper({ file: "git", args: [`--git-dir=${gitDir}`, ...args], env, input, timeoutMs });
  if (r.timedOut) throw new GitTimeoutError(args, r.stderr, what ?? `git ${args.find((a) => !a.startsWith("-")) ?? ""}`.trim(), timeoutMs ?? 0);
  if (r.code !== 0) throw new GitCommandError(args, r.code, r.stderr);
  return r.stdout;
}

/** runGitBuffer with the output as UTF-8 text. */
export async function runGit(run: GitRun): Promise<string> {
  return (await runGitBuffer(run)).toString("utf8");
}
