/**
 * A bare mirror per repository under `HODEI_DATA_DIR/mirrors`, fetched
 * incrementally, from which pipeline files are read and exact commits are
 * materialised for agents. Credentials travel in the environment of the one
 * git process that needs them (GIT_CONFIG_COUNT/KEY/VALUE), so they are never
 * written to `.git/config`, a command line or a log.
 */
import { createHash, randomUUID } from "node:crypto";
import { mkdir, rm, stat } from "node:fs/promises";
import path from "node:path";
import { KeyedQueue } from "../engine/keyed-queue.js";
import { GitCommandError, GitTimeoutError, runGit, runGitBuffer } from "./git-process.js";

/** An HTTP header git sends to the forge, e.g. `Authorization: Basic ...`. */
export interface GitAuth {
  header: string;
}

/** A URL fit for a message: any user name or password in it replaced by `***`. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@\s]*@/i, "$1***@");
}

export class RepoUrlError extends Error {
  readonly retryable = false;
  constructor(
    readonly url: string,
    reason: string,
  ) {
    super(`clone URL ${redactUrl(url)}: ${reason}`);
    this.name = "RepoUrlError";
  }
}

export class CommitNotFoundError extends Error {
  readonly retryable = true;
  constructor(
    readonly url: string,
    readonly sha: string,
  ) {
    super(`commit ${sha} is not in ${redactUrl(url)} after fetching`);
    this.name = "CommitNotFoundError";
  }
}

export class RefNotFoundError extends Error {
  readonly retryable = false;
  constructor(
    readonly url: string,
    readonly ref: string,
  ) {
    super(`${redactUrl(url)} has no ${ref}`);
    this.name = "RefNotFoundError";
  }
}

const SHA = /^[0-9a-f]{40}([0-9a-f]{24})?$/;

/** Time limits of git processes: a hung fetch must not hold its repository's queue forever. */
export interface GitTimeouts {
  /** A fetch from the forge (HODEI_GIT_TIMEOUT_MS). */
  fetchMs: number;
  /** A command on the mirror alone: read a file, diff, check out (HODEI_GIT_LOCAL_TIMEOUT_MS). */
  localMs: number;
}

export const DEFAULT_GIT_TIMEOUTS: GitTimeouts = { fetchMs: 10 * 60_000, localMs: 2 * 60_000 };

export class GitMirrors {
  private readonly queue = new KeyedQueue();
  private readonly timeouts: GitTimeouts;

  constructor(private readonly options: { root: string; allowFileRepos: boolean; timeouts?: GitTimeouts }) {
    this.timeouts = options.timeouts ?? DEFAULT_GIT_TIMEOUTS;
  }

  /** Throws RepoUrlError for a URL Hodei will not fetch (other schemes, file:// unless allowed). */
  checkUrl(url: string): void {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new RepoUrlError(url, "not a URL");
    }
    if (parsed.protocol === "https:" || parsed.protocol === "http:") {
      if (parsed.username || parsed.password) throw new RepoUrlError(url, "credentials in the URL are refused");
      return;
    }
    if (parsed.protocol === "file:") {
      if (this.options.allowFileRepos) return;
      throw new RepoUrlError(url, "file:// repositories need HODEI_ALLOW_FILE_REPOS=1");
    }
    throw new RepoUrlError(url, `scheme ${parsed.protocol} is not supported (https, http, file)`);
  }

  /** Where the mirror of `url` lives. */
  dirOf(url: string): string {
    const hash = createHash("sha256").update(url).digest("hex").slice(0, 16);
    const base = path.basename(url).replace(/\.git$/, "").replace(/[^A-Za-z0-9._-]/g, "_").slice(0, 40) || "repo";
    return path.join(this.options.root, `${base}-${hash}.git`);
  }

  /**
   * Makes sure `sha` is in the mirror: fetches branches, tags and `extraRefs`
   * (e.g. `refs/pull/7/head`), then the SHA itself if still missing.
   */
  async ensureCommit(url: string, sha: string, options: { extraRefs?: string[]; auth?: GitAuth } = {}): Promise<void> {
    this.checkUrl(url);
    if (!SHA.test(sha)) throw new RepoUrlError(url, `${JSON.stringify(sha)} is not a full commit SHA`);
    await this.queue.run(url, async () => {
      const dir = await this.init(url);
      if (await this.hasCommit(dir, sha)) return;
      const refspecs = ["+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*", ...(options.extraRefs ?? []).map((r) => `+${r}:${r}`)];
      const fetch = (args: string[]) => this.fetch(dir, url, ["--no-write-fetch-head", ...args], options.auth);
      await fetch(["--prune", "--", url, ...refspecs]).catch(async (error: unknown) => {
        // A missing extra ref (a pull ref already gone) should not hide the branches.
        if (!options.extraRefs?.length || error instanceof GitTimeoutError) throw error;
        await fetch(["--prune", "--", url, ...refspecs.slice(0, 2)]);
      });
      if (await this.hasCommit(dir, sha)) return;
      await fetch(["--", url, sha]).catch((error: unknown) => {
        // A server may refuse a fetch by SHA (then the commit is just not there); a hung one is worth saying.
        if (error instanceof GitTimeoutError) throw error;
      });
      if (!(await this.hasCommit(dir, sha))) throw new CommitNotFoundError(url, sha);
    });
  }

  /** True if the mirror already holds `sha` (nothing to fetch). */
  async hasCommitOf(url: string, sha: string): Promise<boolean> {
    this.checkUrl(url);
    const dir = this.dirOf(url);
    const exists = await stat(dir).then(
      () => true,
      () => false,
    );
    return SHA.test(sha) && exists && (await this.hasCommit(dir, sha));
  }

  /**
   * Fetches branches and tags and returns the commit `ref` (`refs/heads/...`,
   * `refs/tags/...`) points at in the mirror; RefNotFoundError if it has none.
   */
  async resolveRef(url: string, ref: string, options: { auth?: GitAuth } = {}): Promise<string> {
    this.checkUrl(url);
    if (!/^refs\/(heads|tags)\/./.test(ref) || ref.includes("..") || /[\s~^:?*[\\]/.test(ref)) throw new RepoUrlError(url, `${JSON.stringify(ref)} is not a branch or tag ref`);
    return this.queue.run(url, async () => {
      const dir = await this.init(url);
      await this.fetch(dir, url, ["--prune", "--no-write-fetch-head", "--", url, "+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"], options.auth);
      const sha = await this.git(dir, ["rev-parse", "--verify", "--quiet", `${ref}^{commit}`]).then(
        (s) => s.trim(),
        () => "",
      );
      if (!SHA.test(sha)) throw new RefNotFoundError(url, ref);
      return sha;
    });
  }

  /** A file's text at `sha`, or null if the commit has no such file. */
  async readFile(url: string, sha: string, file: string): Promise<string | null> {
    return (await this.readFiles(url, sha, [file]))[0] ?? null;
  }

  /**
   * The text of each of `files` at `sha` (null where the commit has no such
   * file, or it is not a file), read by one `git cat-file --batch`.
   */
  async readFiles(url: string, sha: string, files: readonly string[]): Promise<(string | null)[]> {
    if (files.length === 0) return [];
    if (files.some((f) => /[\r\n]/.test(f))) throw new RepoUrlError(url, "a file name with a line break cannot be read");
    const out = await runGitBuffer({
      gitDir: this.dirOf(url),
      args: ["cat-file", "--batch"],
      env: gitEnv(),
      input: files.map((f) => `${sha}:${f}\n`).join(""),
      timeoutMs: this.timeouts.localMs,
      what: `git cat-file in the mirror of ${redactUrl(url)}`,
    });
    return parseBatch(out, files.length);
  }

  /** The message of commit `sha` (subject and body). */
  async commitMessage(url: string, sha: string): Promise<string> {
    if (!SHA.test(sha)) throw new RepoUrlError(url, `${JSON.stringify(sha)} is not a full commit SHA`);
    return this.git(this.dirOf(url), ["show", "-s", "--format=%B", sha]);
  }

  /** Paths (POSIX, from the repository root) of the files at `sha` under `dir`. */
  async listFiles(url: string, sha: string, dir: string): Promise<string[]> {
    const out = await this.git(this.dirOf(url), ["ls-tree", "-r", "-z", "--name-only", sha, "--", dir]).catch(() => "");
    return out.split("\0").filter(Boolean);
  }

  /** Files that differ between two commits; null when `from` is unknown (treat all as changed). */
  async changedFiles(url: string, from: string | null, to: string): Promise<string[] | null> {
    if (!from || !SHA.test(from)) return null;
    const dir = this.dirOf(url);
    // One process in the usual case; only a failed diff asks whether `from` is missing.
    const out = await this.git(dir, ["diff-tree", "-r", "--name-only", "-z", "--no-renames", "--no-commit-id", from, to]).catch(async (error: unknown) => {
      if (!(await this.hasCommit(dir, from))) return null;
      throw error;
    });
    return out === null ? null : out.split("\0").filter(Boolean);
  }

  /** The files a pull request changes: from the merge base of base and head, as the forge shows them. */
  async changedSinceMergeBase(url: string, base: string, head: string): Promise<string[] | null> {
    const mergeBase = await this.git(this.dirOf(url), ["merge-base", base, head]).then(
      (s) => s.trim() || null,
      () => null,
    );
    return this.changedFiles(url, mergeBase, head);
  }

  /**
   * Writes the tree of `sha` into `dest` (created), without touching the
   * mirror's own state: one `read-tree -u` into a private index.
   * CommitNotFoundError when the mirror does not have `sha`.
   */
  async materialise(url: string, sha: string, dest: string): Promise<void> {
    if (!SHA.test(sha)) throw new RepoUrlError(url, `${JSON.stringify(sha)} is not a full commit SHA`);
    const dir = this.dirOf(url);
    await mkdir(dest, { recursive: true });
    // A private index per checkout: concurrent checkouts of one mirror do not meet.
    const index = path.join(this.options.root, `.index-${randomUUID()}`);
    try {
      // core.bare=false on the command line only: the mirror stays bare.
      await runGit({
        gitDir: dir,
        args: [`--work-tree=${dest}`, "-c", "core.bare=false", "read-tree", "--reset", "-u", `${sha}^{tree}`],
        env: { ...gitEnv(), GIT_INDEX_FILE: index },
        timeoutMs: this.timeouts.localMs,
        what: `git read-tree of ${sha} from ${redactUrl(url)}`,
      });
    } catch (error) {
      if (!(await this.hasCommit(dir, sha))) throw new CommitNotFoundError(url, sha);
      throw error;
    } finally {
      await rm(index, { force: true });
    }
  }

  private async init(url: string): Promise<string> {
    const dir = this.dirOf(url);
    const exists = await stat(path.join(dir, "HEAD")).then(
      () => true,
      () => false,
    );
    if (!exists) {
      await mkdir(dir, { recursive: true });
      await this.git(dir, ["init", "--bare", "--quiet"]);
    }
    return dir;
  }

  private async hasCommit(dir: string, sha: string): Promise<boolean> {
    return this.git(dir, ["cat-file", "-e", `${sha}^{commit}`]).then(
      () => true,
      () => false,
    );
  }

  /** A local git command on the mirror `dir`, within the local time limit. */
  private git(dir: string, args: string[]): Promise<string> {
    return runGit({ gitDir: dir, args, env: gitEnv(), timeoutMs: this.timeouts.localMs, what: `git ${args[0] ?? ""} in ${dir}` });
  }

  /** `git fetch --quiet` from `url` into `dir`, within the fetch time limit; `auth` goes into that one process's environment. */
  private fetch(dir: string, url: string, args: string[], auth?: GitAuth): Promise<string> {
    const env: Record<string, string> = gitEnv();
    if (auth) {
      env.GIT_CONFIG_COUNT = "1";
      env.GIT_CONFIG_KEY_0 = "http.extraHeader";
      env.GIT_CONFIG_VALUE_0 = auth.header;
    }
    return runGit({ gitDir: dir, args: ["fetch", "--quiet", ...args], env, timeoutMs: this.timeouts.fetchMs, what: `git fetch of ${redactUrl(url)}` });
  }
}

/** Splits `git cat-file --batch` output: `<oid> <type> <size>\n<content>\n`, or `<name> missing\n`. */
function parseBatch(out: Buffer, count: number): (string | null)[] {
  const texts: (string | null)[] = [];
  let at = 0;
  for (let i = 0; i < count; i++) {
    const eol = out.indexOf(10, at);
    if (eol < 0) throw new GitCommandError(["cat-file", "--batch"], 0, "output ended early");
    const header = out.subarray(at, eol).toString("utf8");
    at = eol + 1;
    const m = /^[0-9a-f]+ (\w+) (\d+)$/.exec(header);
    if (!m) {
      texts.push(null); // missing, ambiguous
      continue;
    }
    const size = Number(m[2]);
    texts.push(m[1] === "blob" ? out.subarray(at, at + size).toString("utf8") : null);
    at += size + 1;
  }
  return texts;
}

/** A small, predictable environment: no prompts, no user or system config. */
function gitEnv(): Record<string, string> {
  const env: Record<string, string> = {
    GIT_TERMINAL_PROMPT: "0",
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_CONFIG_GLOBAL: "/dev/null",
  };
  for (const key of ["PATH", "HOME", "LANG", "TMPDIR", "SSL_CERT_FILE", "SSL_CERT_DIR", "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY"]) {
    const v = process.env[key];
    if (v !== undefined) env[key] = v;
  }
  return env;
}
