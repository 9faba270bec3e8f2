/**
 * The forge port: what Hodei asks of GitHub or Gitea. Two adapters
 * (github.ts, gitea.ts); the reporter and the triggers know only this.
 */
import type { GitAuth } from "../git/mirror.js";
import type { StageConclusion } from "../saga/events.js";

export type ForgeKind = "github" | "gitea";

export interface RepoTarget {
  owner: string;
  name: string;
  /** GitHub App installation; null for token auth and Gitea. */
  installationId: number | null;
}

export interface Annotation {
  path: string;
  line: number;
  column: number | null;
  level: "failure" | "warning";
  message: string;
}

export type CheckConclusion = StageConclusion | "action_required";

/** One check (GitHub check run) or commit status, as it should look now. */
export interface CheckReport {
  /** `PIPELINE / STAGE_ID`. */
  name: string;
  sha: string;
  status: "queued" | "in_progress" | "completed";
  conclusion: CheckConclusion | null;
  /** `RUN_ID/STAGE_ID`: lets a check's re-run find its stage. */
  externalId: string;
  detailsUrl: string;
  title: string;
  /** Markdown: command, attempt, duration, exit code, link. */
  summary: string;
  /** The log tail, secrets already masked by the agent. */
  text: string | null;
  annotations: Annotation[];
  /** Offer a `Re-run` action (failed stages). */
  rerunAction: boolean;
  startedAt: string | null;
  completedAt: string | null;
}

export type Permission = "admin" | "maintain" | "write" | "read" | "none";

export interface PullRequestInfo {
  number: number;
  headSha: string;
  headRef: string;
  baseRef: string;
  baseSha: string | null;
  fork: boolean;
  state: "open" | "closed";
}

export type Reaction = "+1" | "-1" | "confused";

/** A branch and the commit it points at now. */
export interface BranchHead {
  name: string;
  sha: string;
}

/**
 * A bounded, paginated list read from the forge: at most the `limit` asked for
 * (`truncated` when there were more), and how long the forge asked to wait
 * before the next call (its quota ran out on the last page), if it did.
 */
export interface Listing<T> {
  items: T[];
  truncated: boolean;
  waitSeconds: number | null;
}

export interface Forge {
  readonly kind: ForgeKind;
  /**
   * Creates the check (existingId null) or updates it; returns the forge's
   * id to update it by later (null where the forge has no ids: statuses).
   */
  reportCheck(repo: RepoTarget, check: CheckReport, existingId: string | null): Promise<string | null>;
  permission(repo: RepoTarget, user: string): Promise<Permission>;
  pullRequest(repo: RepoTarget, number: number): Promise<PullRequestInfo>;
  react(repo: RepoTarget, commentId: number, reaction: Reaction): Promise<void>;
  comment(repo: RepoTarget, number: number, body: string): Promise<void>;
  /** The repository's branches and their heads, at most `limit`. */
  branches(repo: RepoTarget, limit: number): Promise<Listing<BranchHead>>;
  /** The repository's open pull requests and their heads, at most `limit`. */
  openPullRequests(repo: RepoTarget, limit: number): Promise<Listing<PullRequestInfo>>;
  /** The header git needs to fetch this repository, if any. */
  cloneAuth(repo: RepoTarget): Promise<GitAuth | null>;
}

/** A forge call that failed; `retryable` for rate limits, 5xx and network errors. */
export class ForgeError extends Error {
  constructor(
    readonly forge: ForgeKind,
    readonly operation: string,
    readonly status: number | null,
    readonly retryable: boolean,
    detail: string,
    /** Seconds the forge asked to wait (Retry-After), if it said. */
    readonly retryAfterSeconds: number | null = null,
  ) {
    super(`${forge} ${operation}: ${status ?? "network error"}: ${detail}`);
    this.name = "ForgeError";
  }
}

export function isRetryableStatus(status: number): boolean {
  return status === 429 || status >= 500;
}

/** Write, maintain or admin may command (SPEC 5). */
export function maySteer(permission: Permission): boolean {
  return permission === "admin" || permission === "maintain" || permission === "write";
}
