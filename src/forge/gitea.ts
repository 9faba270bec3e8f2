/** Gitea: commit statuses, permissions, pull requests, reactions and comments over its REST API (`/api/v1`). */
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
import { rateLimitWaitSeconds } from "./rate-limit.js";
import { statusState } from "./status-state.js";

/** Gitea's default largest page (`MAX_RESPONSE_ITEMS`). */
const PER_PAGE = 50;

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

  async branches(repo: RepoTarget, limit: number): Promise<Listing<BranchHead>> {
    return this.pages("list branches", `${repoPath(repo)}/branches`, limit, (row) => {
      const b = row as { name?: unknown; commit?: { id?: unknown } };
      return typeof b.name === "string" && typeof b.commit?.id === "string" ? { name: b.name, sha: b.commit.id } : null;
    });
  }

  async openPullRequests(repo: RepoTarget, limit: number): Promise<Listing<PullRequestInfo>> {
    return this.pages("list pull requests", `${repoPath(repo)}/pulls?state=open`, limit, (row) => {
      const p = row as { number?: unknown; head?: { sha?: unknown; ref?: unknown; repo_id?: unknown }; base?: { sha?: unknown; ref?: unknown; repo_id?: unknown } };
      if (typeof p.number !== "number" || typeof p.head?.sha !== "string" || typeof p.head.ref !== "string" || typeof p.base?.ref !== "string") return null;
      return {
        number: p.number,
        headSha: p.head.sha,
        headRef: p.head.ref,
        baseRef: p.base.ref,
        baseSha: typeof p.base.sha === "string" ? p.base.sha : null,
        fork: p.head.repo_id !== p.base.repo_id,
        state: "open" as const,
      };
    });
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

  /** Pages of `PER_PAGE` until one is short or `limit` items are in; rows `map` cannot read are left out. */
  private async pages<T>(operation: string, path: string, limit: number, map: (row: unknown) => T | null): Promise<Listing<T>> {
    const items: T[] = [];
    let waitSeconds: number | null = null;
    const join = path.includes("?") ? "&" : "?";
    for (let page = 1; items.length < limit; page++) {
      const { body, headers } = await this.requestWithHeaders(operation, "GET", `${path}${join}page=${page}&limit=${PER_PAGE}`);
      if (!Array.isArray(body)) throw new ForgeError("gitea", operation, 200, false, "answer is not a list");
      for (const row of body) {
        const item = map(row);
        if (item !== null) items.push(item);
      }
      waitSeconds = rateLimitWaitSeconds(headers, Date.now());
      if (body.length < PER_PAGE) return { items: items.slice(0, limit), truncated: items.length > limit, waitSeconds };
      if (waitSeconds !== null) break;
    }
    return { items: items.slice(0, limit), truncated: true, waitSeconds };
  }

  private async request(operation: string, method: string, path: string, body?: unknown): Promise<unknown> {
    return (await this.requestWithHeaders(operation, method, path, body)).body;
  }

  private async requestWithHeaders(operation: string, method: string, path: string, body?: unknown): Promise<{ body: unknown; headers: Record<string, string> }> {
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
    return { body: text ? (JSON.parse(text) as unknown) : null, headers: Object.fromEntries(res.headers) };
  }
}

function repoPath(repo: RepoTarget): string {
  return `/repos/${encodeURIComponent(repo.owner)}/${encodeURIComponent(repo.name)}`;
}
