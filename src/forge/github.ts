/**
 * GitHub: check runs through a GitHub App installation (SPEC 4), or commit
 * statuses with a plain token. `HODEI_GITHUB_API_URL` points it at GHES or a
 * test server.
 */
import { createAppAuth } from "@octokit/auth-app";
import { Octokit } from "@octokit/rest";
import type { GitAuth } from "../git/mirror.js";
import {
  type BranchHead,
  type CheckReport,
  type Forge,
  ForgeError,
  isRetryableStatus,
  type Listing,
  type Permission,
  type PullRequestInfo,
  type Reaction,
  type RepoTarget,
} from "./forge.js";
import { statusState } from "./status-state.js";
import { rateLimitWaitSeconds, type ResponseHeaders } from "./rate-limit.js";

export type GithubAuth = { kind: "app"; appId: number; privateKey: string } | { kind: "token"; token: string };

export interface GithubForgeOptions {
  apiUrl: string;
  auth: GithubAuth;
}

const ANNOTATIONS_PER_REQUEST = 50;
/** GitHub's largest page. */
const PER_PAGE = 100;
/** A listing page that takes longer than this is given up (the reconciler tries again at its next pass). */
const PAGE_TIMEOUT_MS = 30_000;

export class GithubForge implements Forge {
  readonly kind = "github" as const;
  private readonly clients = new Map<number, Octokit>();
  private tokenClient: Octokit | null = null;

  constructor(private readonly options: GithubForgeOptions) {}

  get checkRuns(): boolean {
    return this.options.auth.kind === "app";
  }

  async reportCheck(repo: RepoTarget, check: CheckReport, existingId: string | null): Promise<string | null> {
    const octokit = this.client(repo);
    const base = { owner: repo.owner, repo: repo.name };
    if (!this.checkRuns) {
      const { state, description } = statusState(check);
      await call("create status", () =>
        octokit.rest.repos.createCommitStatus({ ...base, sha: check.sha, state, context: `hodei/${check.name.replace(" / ", "/")}`, target_url: check.detailsUrl, description }),
      );
      return null;
    }
    const chunks = chunk(check.annotations, ANNOTATIONS_PER_REQUEST);
    const output = (annotations: CheckReport["annotations"]) => ({
      title: check.title,
      summary: check.summary,
      ...(check.text ? { text: check.text } : {}),
      ...(annotations.length > 0
        ? {
            annotations: annotations.map((a) => ({
              path: a.path,
              start_line: a.line,
              end_line: a.line,
              ...(a.column !== null ? { start_column: a.column, end_column: a.column } : {}),
              annotation_level: a.level,
              message: a.message,
            })),
          }
        : {}),
    });
    const body = {
      ...base,
      name: check.name,
      external_id: check.externalId,
      details_url: check.detailsUrl,
      status: check.status,
      ...(check.startedAt ? { started_at: check.startedAt } : {}),
      ...(check.status === "completed" && check.conclusion ? { conclusion: check.conclusion, completed_at: check.completedAt ?? new Date().toISOString() } : {}),
      output: output(chunks[0] ?? []),
      ...(check.rerunAction ? { actions: [{ label: "Re-run", description: "Run this stage again", identifier: "rerun" }] } : {}),
    };
    let id: number;
    if (existingId === null) {
      const res = await call("create check run", () => octokit.rest.checks.create({ ...body, head_sha: check.sha }));
      id = res.data.id;
    } else {
      id = Number(existingId);
      await call("update check run", () => octokit.rest.checks.update({ ...body, check_run_id: id }));
    }
    // GitHub takes 50 annotations a request: the rest go in further updates.
    for (const more of chunks.slice(1)) {
      await call("annotate check run", () => octokit.rest.checks.update({ ...base, check_run_id: id, output: output(more) }));
    }
    return String(id);
  }

  async permission(repo: RepoTarget, user: string): Promise<Permission> {
    try {
      const res = await this.client(repo).rest.repos.getCollaboratorPermissionLevel({ owner: repo.owner, repo: repo.name, username: user });
      if (res.data.role_name === "maintain") return "maintain";
      const p = res.data.permission;
      return p === "admin" || p === "write" || p === "read" ? p : "none";
    } catch (error) {
      if (statusOf(error) === 404) return "none";
      throw toForgeError("get permission", error);
    }
  }

  async pullRequest(repo: RepoTarget, number: number): Promise<PullRequestInfo> {
    const { data } = await call("get pull request", () => this.client(repo).rest.pulls.get({ owner: repo.owner, repo: repo.name, pull_number: number }));
    return {
      number,
      headSha: data.head.sha,
      headRef: data.head.ref,
      baseRef: data.base.ref,
      baseSha: data.base.sha,
      fork: data.head.repo?.full_name !== data.base.repo.full_name,
      state: data.state === "open" ? "open" : "closed",
    };
  }

  async branches(repo: RepoTarget, limit: number): Promise<Listing<BranchHead>> {
    const octokit = this.client(repo);
    return pages("list branches", limit, (page) => octokit.rest.repos.listBranches({ owner: repo.owner, repo: repo.name, per_page: PER_PAGE, page, request: { signal: AbortSignal.timeout(PAGE_TIMEOUT_MS) } }), (b) => ({ name: b.name, sha: b.commit.sha }));
  }

  async openPullRequests(repo: RepoTarget, limit: number): Promise<Listing<PullRequestInfo>> {
    const octokit = this.client(repo);
    return pages(
      "list pull requests",
      limit,
      (page) => octokit.rest.pulls.list({ owner: repo.owner, repo: repo.name, state: "open", per_page: PER_PAGE, page, request: { signal: AbortSignal.timeout(PAGE_TIMEOUT_MS) } }),
      (p) => ({
        number: p.number,
        headSha: p.head.sha,
        headRef: p.head.ref,
        baseRef: p.base.ref,
        baseSha: p.base.sha,
        // A deleted head repository (null) counts as a fork: never trusted.
        fork: p.head.repo?.full_name !== p.base.repo.full_name,
        state: "open" as const,
      }),
    );
  }

  async react(repo: RepoTarget, commentId: number, reaction: Reaction): Promise<void> {
    await call("react", () => this.client(repo).rest.reactions.createForIssueComment({ owner: repo.owner, repo: repo.name, comment_id: commentId, content: reaction }));
  }

  async comment(repo: RepoTarget, number: number, body: string): Promise<void> {
    await call("comment", () => this.client(repo).rest.issues.createComment({ owner: repo.owner, repo: repo.name, issue_number: number, body }));
  }

  async cloneAuth(repo: RepoTarget): Promise<GitAuth | null> {
    let token: string;
    if (this.options.auth.kind === "token") token = this.options.auth.token;
    else {
      if (repo.installationId === null) return null;
      const auth = (await this.client(repo).auth({ type: "installation" })) as { token: string };
      token = auth.token;
    }
    return { header: `Authorization: Basic ${Buffer.from(`x-access-token:${token}`).toString("base64")}` };
  }

  private client(repo: RepoTarget): Octokit {
    const baseUrl = this.options.apiUrl.replace(/\/+$/, "");
    const auth = this.options.auth;
    if (auth.kind === "token") {
      this.tokenClient ??= new Octokit({ baseUrl, auth: auth.token, log: quiet });
      return this.tokenClient;
    }
    if (repo.installationId === null) {
      throw new ForgeError("github", "authenticate", null, false, `no App installation for ${repo.owner}/${repo.name}: is the Hodei App installed there?`);
    }
    let client = this.clients.get(repo.installationId);
    if (!client) {
      client = new Octokit({ baseUrl, authStrategy: createAppAuth, auth: { appId: auth.appId, privateKey: auth.privateKey, installationId: repo.installationId }, log: quiet });
      this.clients.set(repo.installationId, client);
    }
    return client;
  }
}

const quiet = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

async function call<T>(operation: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    throw toForgeError(operation, error);
  }
}

/**
 * Reads pages of `PER_PAGE` until one is short or `limit` items are in; a
 * last page that used up the quota says how long to wait before the next call.
 */
async function pages<R, T>(
  operation: string,
  limit: number,
  fetchPage: (page: number) => Promise<{ data: R[]; headers: ResponseHeaders }>,
  map: (row: R) => T,
): Promise<Listing<T>> {
  const items: T[] = [];
  let waitSeconds: number | null = null;
  for (let page = 1; items.length < limit; page++) {
    const res = await call(operation, () => fetchPage(page));
    items.push(...res.data.map(map));
    waitSeconds = rateLimitWaitSeconds(res.headers, Date.now());
    if (res.data.length < PER_PAGE) return { items: items.slice(0, limit), truncated: items.length > limit, waitSeconds };
    if (waitSeconds !== null) break;
  }
  return { items: items.slice(0, limit), truncated: true, waitSeconds };
}

function statusOf(error: unknown): number | null {
  const status = (error as { status?: unknown }).status;
  return typeof status === "number" ? status : null;
}

function toForgeError(operation: string, error: unknown): ForgeError {
  if (error instanceof ForgeError) return error;
  const status = statusOf(error);
  const headers = (error as { response?: { headers?: ResponseHeaders } }).response?.headers;
  // retry-after, else an exhausted quota's x-ratelimit-reset (epoch seconds) as a wait.
  const wait = rateLimitWaitSeconds(headers, Date.now());
  // GitHub's primary and secondary rate limits answer 403 with retry-after or an exhausted quota.
  const limited = status === 403 && wait !== null;
  const retryable = status === null || isRetryableStatus(status) || limited;
  const detail = error instanceof Error ? error.message : String(error);
  return new ForgeError("github", operation, status, retryable, detail, wait);
}

function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
