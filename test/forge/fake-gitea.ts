/** Gitea's answers for the calls Hodei makes, with its swagger (v1.27.0) checked first. */
import { ApiContract } from "./api-contract.js";
import { type Answer, FakeForge, pageOf, type RecordedRequest } from "./fake-forge.js";

let contract: ApiContract | null = null;

export interface GiteaState {
  /** login → permission ("owner" | "admin" | "write" | "read" | "none"); anyone else is not a collaborator (404). */
  permissions: Map<string, string>;
  /** PR number → head/base; `fork`: the head lives in another repository. */
  pulls: Map<number, { headSha: string; headRef: string; baseRef: string; baseSha: string; fork?: boolean; closed?: boolean }>;
  /** Branch name → the commit it points at (what `GET /repos/{owner}/{repo}/branches` lists). */
  branches?: Map<string, string>;
  /** An answer to give instead of the usual one, when it returns one. */
  override?: (req: RecordedRequest) => Answer | undefined;
}

/** The listings' answers are checked against Gitea's response schemas too. */
const CHECKED_ANSWERS = new Set(["repoListBranches", "repoListPullRequests"]);

export function fakeGitea(state: GiteaState = { permissions: new Map(), pulls: new Map() }): FakeForge {
  contract ??= ApiContract.gitea();
  let nextId = 1;
  // Hodei calls `${HODEI_GITEA_URL}/api/v1/...`; the swagger's basePath is /api/v1.
  return new FakeForge(contract, (req: RecordedRequest) => {
    // /api/v1/repos/{owner}/{repo}/...
    const parts = req.path.split("/").filter(Boolean).slice(2);
    const overridden = state.override?.(req);
    if (overridden) return overridden;
    switch (req.operationId) {
      case "repoListBranches": {
        const all = [...(state.branches ?? new Map<string, string>())].map(([name, sha]) => ({ name, commit: { id: sha, message: "commit", url: `${name}/${sha}` }, protected: false }));
        return { status: 200, body: pageOf(all, req.query, "limit", 50) };
      }
      case "repoListPullRequests": {
        const wanted = req.query.get("state") ?? "open";
        const all = [...state.pulls]
          .filter(([, pr]) => wanted === "all" || (wanted === "closed") === (pr.closed === true))
          .map(([number, pr]) => ({
            id: number,
            number,
            state: pr.closed ? "closed" : "open",
            head: { ref: pr.headRef, sha: pr.headSha, repo_id: pr.fork ? 2 : 1, label: pr.headRef },
            base: { ref: pr.baseRef, sha: pr.baseSha, repo_id: 1, label: pr.baseRef },
          }));
        return { status: 200, body: pageOf(all, req.query, "limit", 50) };
      }
      case "repoCreateStatus":
        return { status: 201, body: { id: nextId++, status: req.body.state as string, context: req.body.context as string } };
      case "repoGetRepoPermissions": {
        const user = parts[4] ?? "";
        const permission = state.permissions.get(user);
        if (!permission) return { status: 404, body: { message: "user is not a collaborator" } };
        return { status: 200, body: { permission, role_name: permission, user: { login: user } } };
      }
      case "repoGetPullRequest": {
        const pr = state.pulls.get(Number(parts[4]));
        if (!pr) return { status: 404, body: { message: "pull request does not exist" } };
        return {
          status: 200,
          body: { number: Number(parts[4]), state: "open", head: { sha: pr.headSha, ref: pr.headRef, repo_id: pr.fork ? 2 : 1 }, base: { sha: pr.baseSha, ref: pr.baseRef, repo_id: 1 } },
        };
      }
      case "issuePostCommentReaction":
        return { status: 201, body: { content: req.body.content as string } };
      case "issueCreateComment":
        return { status: 201, body: { id: nextId++, body: req.body.body as string } };
      default:
        return { status: 404, body: { message: `fake Gitea does not answer ${req.operationId ?? req.path}` } };
    }
  }, "", CHECKED_ANSWERS);
}
