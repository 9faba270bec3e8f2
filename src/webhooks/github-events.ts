/** GitHub deliveries → ForgeEvent (push, pull_request, issue_comment, check_run, check_suite). */
import { ignored, type Normalised, type PullRequestAction, Reader, refKind, type RepoRef, ZERO_SHA } from "./forge-event.js";

const PR_ACTIONS = new Set<string>(["opened", "reopened", "synchronize", "closed"]);

export function normaliseGithub(event: string, payload: unknown): Normalised {
  const r = new Reader(event, payload);
  const action = r.optStr("action");
  switch (event) {
    case "push": {
      const ref = r.str("ref");
      const { branch, tag } = refKind(ref);
      if (r.at("deleted") === true) return branch ? { ok: true, event: { kind: "branch_deleted", repo: repo(r), branch } } : ignored("push deleted the ref");
      if (!branch && !tag) return ignored(`push to ${ref}, neither a branch nor a tag`);
      const before = r.optStr("before");
      return {
        ok: true,
        event: { kind: "push", repo: repo(r), ref, branch, tag, before: before && !ZERO_SHA.test(before) ? before : null, after: r.str("after"), sender: r.str("sender.login") },
      };
    }
    case "pull_request": {
      if (!action || !PR_ACTIONS.has(action)) return ignored(`pull_request ${action ?? "(no action)"}`);
      const baseRepo = r.str("pull_request.base.repo.full_name");
      const headRepo = r.optStr("pull_request.head.repo.full_name");
      return {
        ok: true,
        event: {
          kind: "pull_request",
          action: action as PullRequestAction,
          repo: repo(r),
          number: r.num("pull_request.number"),
          head: { sha: r.str("pull_request.head.sha"), ref: r.str("pull_request.head.ref"), cloneUrl: r.optStr("pull_request.head.repo.clone_url") },
          base: { ref: r.str("pull_request.base.ref"), sha: r.optStr("pull_request.base.sha") },
          // A deleted head repository (null) is treated as a fork: never trusted.
          fork: headRepo !== baseRepo,
          sender: r.str("sender.login"),
        },
      };
    }
    case "issue_comment": {
      if (action !== "created") return ignored(`issue_comment ${action ?? "(no action)"}`);
      if (!r.has("issue.pull_request")) return ignored("comment on an issue, not a pull request");
      return {
        ok: true,
        event: { kind: "comment", repo: repo(r), number: r.num("issue.number"), commentId: r.num("comment.id"), body: r.optStr("comment.body") ?? "", author: r.str("comment.user.login") },
      };
    }
    case "check_run": {
      if (action !== "rerequested" && action !== "requested_action") return ignored(`check_run ${action ?? "(no action)"}`);
      return {
        ok: true,
        event: {
          kind: "check_run",
          action,
          repo: repo(r),
          headSha: r.str("check_run.head_sha"),
          checkRunId: r.num("check_run.id"),
          name: r.str("check_run.name"),
          externalId: r.optStr("check_run.external_id"),
          requestedAction: action === "requested_action" ? r.str("requested_action.identifier") : null,
          sender: r.str("sender.login"),
        },
      };
    }
    case "check_suite": {
      if (action !== "rerequested") return ignored(`check_suite ${action ?? "(no action)"}`);
      return { ok: true, event: { kind: "check_suite", repo: repo(r), headSha: r.str("check_suite.head_sha"), sender: r.str("sender.login") } };
    }
    default:
      return ignored(`${event} events are not acted on`);
  }
}

function repo(r: Reader): RepoRef {
  const fullName = r.str("repository.full_name");
  return {
    forge: "github",
    owner: r.optStr("repository.owner.login") ?? fullName.split("/")[0] ?? "",
    name: r.str("repository.name"),
    fullName,
    cloneUrl: r.str("repository.clone_url"),
    installationId: r.optNum("installation.id"),
  };
}
