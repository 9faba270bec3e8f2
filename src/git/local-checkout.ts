/**
 * What a local checkout says about itself: the trigger context of `hodei run`
 * and `hodei plan` (branch, commit, repository name).
 */
import path from "node:path";
import { simpleGit } from "simple-git";
import { DEFAULT_GIT_TIMEOUTS } from "./mirror.js";

export interface CheckoutInfo {
  branch: string | null;
  sha: string | null;
  /** `owner/name` from the `origin` remote, else `local/<directory name>`. */
  repo: { owner: string; name: string };
}

export async function describeCheckout(dir: string): Promise<CheckoutInfo> {
  const fallback = { owner: "local", name: path.basename(path.resolve(dir)) };
  // A git that hangs (a stale lock, a network file system) ends instead of holding `hodei run`.
  const git = simpleGit(dir, { timeout: { block: DEFAULT_GIT_TIMEOUTS.localMs } });
  try {
    if (!(await git.checkIsRepo())) return { branch: null, sha: null, repo: fallback };
  } catch {
    return { branch: null, sha: null, repo: fallback };
  }
  const [branch, sha, origin] = await Promise.all([
    git.raw(["symbolic-ref", "--quiet", "--short", "HEAD"]).then(
      (b) => b.trim() || null,
      () => null,
    ),
    git.raw(["rev-parse", "--verify", "--quiet", "HEAD"]).then(
      (s) => s.trim() || null,
      () => null,
    ),
    git.raw(["config", "--get", "remote.origin.url"]).then(
      (u) => u.trim() || null,
      () => null,
    ),
  ]);
  return { branch, sha, repo: (origin ? repoFromUrl(origin) : null) ?? fallback };
}

/** `owner/name` from the last two path segments of a clone URL (SPEC 3). */
export function repoFromUrl(url: string): { owner: string; name: string } | null {
  const cleaned = url.replace(/\.git\/?$/, "").replace(/\/+$/, "");
  const parts = cleaned.split(/[/:]/).filter(Boolean);
  const name = parts.pop();
  const owner = parts.pop();
  return owner && name ? { owner, name } : null;
}
