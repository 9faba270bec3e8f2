/** Gitea: commit statuses, permissions, pull requests, reactions and comments over its REST API (`/api/v1`). */
import type { GitAuth } from "../git/mirror.js";
import { type CheckReport, type Forge, ForgeError, isRetryableStatus, type Permission, type PullRequestInfo, type Reaction, type RepoTarget } from "./forge.js";
import { rateLimitWaitSeconds } from "./rate-limit.js";
import { statusState } from "./status-state.js";


export interface GiteaForgeOptions {
  url: string;
  token: string;
  fetch?: typeof fetch;
}

export class GiteaForge implements Forge {
  readonly kind = "gitea" as const;
  private readonly base: string;
  private readonly fetch: typeof fetch;

  constructor(private readonly options: GiteaForgeOptions) {
    this.base = `${options.url.replace(/\/+$/, "")}/api/v1`;
    this.fetch = options.fetch ?? globalThis.fetch;
  }

  async reportCheck(repo: RepoTarget, check: CheckReport): Promise<null> {
    const { state, description } = statusState(check);
    await this.request("create status", "POST", `${repoPath(repo)}/statuses/${check.sha}`, {
      state,
      context: `hodei/${check.name.replace(" / ", "/")}`,
      target_url: check.detailsUrl,
      description,
    });
    return null;
  }

  async permission(repo: RepoTarget, user: string): Promise<Permission> {
    try {
      const data = (await this.request("get permission", "GET", `${repoPath(repo)}/collaborators/${encodeURIComponent(user)}/permission`)) as { permission?: string };
      switch (data.permission) {
        case "owner":
        case "admin":
          return "admin";
        case "write":
          return "write";
        case "read":
          return "read";
        default:
          return "none";
      }
    } catch (error) {
      if (error instanceof ForgeError && (error.status === 404 || error.status === 403)) return "none";
      throw error;
    }
  }

  async pullRequest(repo: RepoTarget, number: number): Promise<PullRequestInfo> {
    const data = (await this.request("get pull request", "GET", `${repoPath(repo)}/pulls/${number}`)) as {
      state?: string;
      head?: { sha?: string; ref?: string; repo_id?: number };
      base?: { sha?: string; ref?: string; repo_id?: number };
    };
    if (!data.head?.sha || !data.head.ref || !data.base?.ref) throw new ForgeError("gitea", "get pull request", 200, false, "answer without head/base");
    return {
      number,
      headSha: data.head.sha,
      headRef: data.head.ref,
      baseRef: data.base.ref,
      baseSha: data.base.sha ?? null,
      fork: data.head.repo_id !== data.base.repo_id,
      state: data.state === "open" ? "open" : "closed",
    };
  }

  async react(repo: RepoTarget, commentId: number, reaction: Reaction): Promise<void> {
    await this.request("react", "POST", `${repoPath(repo)}/issues/comments/${commentId}/reactions`, { content: reaction });
  }

  async comment(repo: RepoTarget, number: number, body: string): Promise<void> {
    await this.request("comment", "POST", `${repoPath(repo)}/issues/${number}/comments`, { body });
  }

  cloneAuth(): Promise<GitAuth | null> {
    return Promise.resolve({ header: `Authorization: token ${this.options.token}` });
  }

  private async request(operation: string, method: string, path: string, body?: unknown): Promise<unknown> {
    let res: Response;
    try {
      res = await this.fetch(`${this.base}${path}`, {
        method,
        headers: { authorization: `token ${this.options.token}`, accept: "application/json", ...(body !== undefined ? { "content-type": "application/json" } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(30_000),
      });
    } catch (error) {
      throw new ForgeError("gitea", operation, null, true, error instanceof Error ? error.message : String(error));
    }
    const text = await res.text();
    if (!res.ok) {
      const wait = rateLimitWaitSeconds(Object.fromEntries(res.headers), Date.now());
      throw new ForgeError("gitea", operation, res.status, isRetryableStatus(res.status), text.slice(0, 300), wait !== null && wait > 0 ? wait : null);
    }
    return text ? (JSON.parse(text) as unknown) : null;
  }
}

function repoPath(repo: RepoTarget): string {
  return `/repos/${encodeURIComponent(repo.owner)}/${encodeURIComponent(repo.name)}`;
}
