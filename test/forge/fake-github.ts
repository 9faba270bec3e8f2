/** GitHub's answers for the calls Hodei makes (shapes from the REST API docs), with the OpenAPI contract checked first. */
import { ApiContract } from "./api-contract.js";
import { FakeForge, type RecordedRequest } from "./fake-forge.js";

let contract: ApiContract | null = null;

export interface GithubState {
  /** login → permission ("admin" | "write" | "read" | "none"); anyone else is "none". */
  permissions: Map<string, string>;
  /** PR number → head/base. */
  pulls: Map<number, { headSha: string; headRef: string; baseRef: string; baseSha: string; fork?: boolean }>;
  /** The installation token GitHub hands out now (default `ghs_fakeinstallationtoken`); change it to expire the old one. */
  installationToken?: string;
}

export function fakeGithub(state: GithubState): FakeForge {
  contract ??= ApiContract.github();
  let nextId = 1000;
  return new FakeForge(contract, (req: RecordedRequest) => {
    const parts = req.path.split("/").filter(Boolean);
    switch (req.operationId) {
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
  });
}
