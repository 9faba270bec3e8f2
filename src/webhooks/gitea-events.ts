/**
 * Gitea deliveries → ForgeEvent. Gitea spells some things its own way: the
 * PR update action is `synchronized`, a PR comment is `issue_comment` with
 * `is_pull` (or, in older versions, only `issue.pull_request`), and a
 * trimmed PR payload may have `repo_id` but no nested head repository.
 */
import { ignored, type Normalised, Reader, refKind, type RepoRef, ZERO_SHA } from "./forge-event.js";

const PR_ACTIONS: Record<string, "opened" | "reopened" | "synchronize" | "closed"> = {
  opened: "opened",
  reopened: "reopened",
  synchronized: "synchronize",
  closed: "closed",
};

export function normaliseGitea(event: string, payload: unknown): Normalised {
  const r = new Reader(event, payload);
  const action = r.optStr("action");
  switch (event) {
    case "push": {
      const ref = r.str("ref");
      const after = r.str("after");
      const { branch, tag } = refKind(ref);
      if (ZERO_SHA.test(after)) return branch ? { ok: true, event: { kind: "branch_deleted", repo: repo(r), branch } } : ignored("push deleted the ref");
      if (!branch && !tag) return ignored(`push to ${ref}, neither a branch nor a tag`);
      const before = r.optStr("before");
      return {
        ok: true,
        event: { kind: "push", repo: repo(r), ref, branch, tag, before: before && !ZERO_SHA.test(before) ? before : null, after, sender: login(r, "sender") },
      };
    }
    case "pull_request": {
      const mapped = action ? PR_ACTIONS[action] : undefined;
      if (!mapped) return ignored(`pull_request ${action ?? "(no action)"}`);
      const headId = r.optNum("pull_request.head.repo_id") ?? r.optNum("pull_request.head.repo.id");
      const baseId = r.optNum("pull_request.base.repo_id") ?? r.optNum("pull_request.base.repo.id");
      return {
        ok: true,
        event: {
          kind: "pull_request",
          action: mapped,
          repo: repo(r),
          number: r.num("pull_request.number"),
          head: { sha: r.str("pull_request.head.sha"), ref: r.str("pull_request.head.ref"), cloneUrl: r.optStr("pull_request.head.repo.clone_url") },
          base: { ref: r.str("pull_request.base.ref"), sha: r.optStr("pull_request.base.sha") },
          fork: headId === null || baseId === null || headId !== baseId,
          sender: login(r, "sender"),
        },
      };
    }
    case "issue_comment": {
      if (action !== "created") return ignored(`issue_comment ${action ?? "(no action)"}`);
      if (r.at("is_pull") !== true && !r.has("issue.pull_request")) return ignored("comment on an issue, not a pull request");
      return {
        ok: true,
        event: { kind: "comment", repo: repo(r), number: r.num("issue.number"), commentId: r.num("comment.id"), body: r.optStr("comment.body") ?? "", author: login(r, "comment.user") },
      };
    }
    default:
      return ignored(`${event} events are not acted on`);
  }
}

function login(r: Reader, path: string): string {
  return r.optStr(`${path}.login`) ?? r.str(`${path}.username`);
}

function repo(r: Reader): RepoRef {
  const fullName = r.str("repository.full_name");
  return {
    forge: "gitea",
    owner: r.optStr("repository.owner.login") ?? r.optStr("repository.owner.username") ?? fullName.split("/")[0] ?? "",
    name: r.str("repository.name"),
    fullName,
    cloneUrl: r.str("repository.clone_url"),
    installationId: null,
  };
}
