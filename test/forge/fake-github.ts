/** GitHub's answers for the calls Hodei makes (shapes from the REST API docs), with the OpenAPI contract checked first. */
import { ApiContract } from "./api-contract.js";
import { type Answer, FakeForge, pageOf, type RecordedRequest } from "./fake-forge.js";

let contract: ApiContract | null = null;

export interface GithubState {
  /** login → permission ("admin" | "write" | "read" | "none"); anyone else is "none". */
  permissions: Map<string, string>;
  /** PR number → head/base. */
  pulls: Map<number, { headSha: string; headRef: string; baseRef: string; baseSha: string; fork?: boolean; closed?: boolean }>;
  /** Branch name → the commit it points at (what `GET /repos/{owner}/{repo}/branches` lists). */
  branches?: Map<string, string>;
  /** An answer to give instead of the usual one (a rate limit, an outage), when it returns one. */
  override?: (req: RecordedRequest) => Answer | undefined;
  /** The installation token GitHub hands out now (default `ghs_fakeinstallationtoken`); change it to expire the old one. */
  installationToken?: string;
}

/** The listings' answers are checked against GitHub's response schemas too. */
const CHECKED_ANSWERS = new Set(["repos/list-branches", "pulls/list"]);

export function fakeGithub(state: GithubState): FakeForge {
  const api = (contract ??= ApiContract.github());
  let nextId = 1000;
  return new FakeForge(api, (req: RecordedRequest) => {
    const parts = req.path.split("/").filter(Boolean);
    const overridden = state.override?.(req);
    if (overridden) return overridden;
    switch (req.operationId) {
      case "repos/list-branches": {
        const all = [...(state.branches ?? new Map<string, string>())].map(([name, sha]) => ({
          name,
          commit: { sha, url: `https://api.github.com/repos/${parts[1]}/${parts[2]}/commits/${sha}` },
          protected: false,
        }));
        return { status: 200, body: pageOf(all, req.query, "per_page", 30) };
      }
      case "pulls/list": {
        const example = (api.example("GET", "/repos/{owner}/{repo}/pulls") as Record<string, any>[])[0]!; // eslint-disable-line @typescript-eslint/no-explicit-any -- GitHub's example item
        const full = `${parts[1]}/${parts[2]}`;
        const open = [...state.pulls].filter(([, pr]) => !pr.closed && (req.query.get("state") ?? "open") !== "closed");
        const all = open.map(([number, pr]) => ({
          ...example,
          // GitHub's own example lists a team without the `type` its schema requires.
          requested_teams: [],
          number,
          state: "open",
          head: { ...example.head, ref: pr.headRef, sha: pr.headSha, repo: { ...example.head.repo, full_name: pr.fork ? "someone/fork" : full } },
          base: { ...example.base, ref: pr.baseRef, sha: pr.baseSha, repo: { ...example.base.repo, full_name: full } },
        }));
        return { status: 200, body: pageOf(all, req.query, "per_page", 30) };
      }
      case "apps/create-installation-access-token":
        return { status: 201, body: { token: state.installationToken ?? "ghs_fakeinstallationtoken", expires_at: new Date(Date.now() + 3600_000).toISOString(), permissions: { checks: "write" }, repository_selection: "all" } };
      case "checks/create":
        return { status: 201, body: { id: nextId++, head_sha: req.body.head_sha as string, name: req.body.name as string, status: req.body.status as string } };
      case "checks/update":
        return { status: 200, body: { id: Number(parts[4]) } };
      case "repos/create-commit-status":
        return { status: 201, body: { id: nextId++, state: req.body.state as string } };
      case "repos/get-collaborator-permission-level": {
        const user = parts[4] ?? "";
        const permission = state.permissions.get(user);
        if (!permission) return { status: 404, body: { message: "Not Found" } };
        return { status: 200, body: { permission, role_name: permission, user: { login: user } } };
      }
      case "pulls/get": {
        const pr = state.pulls.get(Number(parts[4]));
        if (!pr) return { status: 404, body: { message: "Not Found" } };
        const base = { full_name: `${parts[1]}/${parts[2]}` };
        return {
          status: 200,
          body: { number: Number(parts[4]), state: "open", head: { sha: pr.headSha, ref: pr.headRef, repo: pr.fork ? { full_name: "someone/fork" } : base }, base: { sha: pr.baseSha, ref: pr.baseRef, repo: base } },
        };
      }
      case "reactions/create-for-issue-comment":
        return { status: 201, body: { id: nextId++, content: req.body.content as string } };
      case "issues/create-comment":
        return { status: 201, body: { id: nextId++, body: req.body.body as string } };
      default:
        return { status: 404, body: { message: `fake GitHub does not answer ${req.operationId ?? req.path}` } };
    }
  }, "", CHECKED_ANSWERS);
}
