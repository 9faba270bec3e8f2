/** Real GitHub examples and Gitea captures normalised into one shape. */
import { describe, expect, it } from "vitest";
import { PayloadError } from "../../src/webhooks/forge-event.js";
import { normaliseDelivery } from "../../src/webhooks/normalise.js";
import { giteaFixture, githubExample } from "./payloads.js";

const gh = (event: string, payload: unknown) => normaliseDelivery({ forge: "github", event, payload });
const gt = (event: string, payload: unknown) => normaliseDelivery({ forge: "gitea", event, payload });

describe("GitHub deliveries", () => {
  it("push to a branch and to a tag; a deleted ref is ignored", () => {
    const branch = githubExample("push", (p) => p.ref === "refs/heads/main" || (typeof p.ref === "string" && p.ref.startsWith("refs/heads/") && p.deleted === false));
    const n = gh("push", branch);
    expect(n).toMatchObject({ ok: true, event: { kind: "push", branch: String(branch.ref).slice(11), tag: null, after: branch.after, repo: { forge: "github", fullName: branch.repository.full_name, cloneUrl: branch.repository.clone_url } } });
    const tag = gh("push", githubExample("push", (p) => p.ref === "refs/tags/simple-tag" && p.deleted === false));
    expect(tag).toMatchObject({ ok: true, event: { kind: "push", branch: null, tag: "simple-tag", before: null } });
    const deleted = githubExample("push", (p) => p.deleted === true);
    expect(gh("push", deleted)).toEqual({ ok: false, ignored: "push deleted the ref" });
    // A deleted branch (its schedules end).
    const deletedBranch = { ...structuredClone(deleted), ref: "refs/heads/nightly" };
    expect(gh("push", deletedBranch)).toMatchObject({ ok: true, event: { kind: "branch_deleted", branch: "nightly", repo: { fullName: deleted.repository.full_name } } });
  });

  it("pull_request opened / synchronize / closed; other actions are ignored", () => {
    const sync = githubExample("pull_request", (p) => p.action === "synchronize");
    expect(gh("pull_request", sync)).toMatchObject({
      ok: true,
      event: { kind: "pull_request", action: "synchronize", number: sync.number, head: { sha: sync.pull_request.head.sha }, base: { ref: sync.pull_request.base.ref }, fork: false, repo: { installationId: 1 } },
    });
    const forked = githubExample("pull_request", (p) => p.action === "opened");
    forked.pull_request.head.repo.full_name = "someone-else/Hello-World";
    expect(gh("pull_request", forked)).toMatchObject({ ok: true, event: { action: "opened", fork: true } });
    expect(gh("pull_request", githubExample("pull_request", (p) => p.action === "closed"))).toMatchObject({ ok: true, event: { action: "closed" } });
    expect(gh("pull_request", githubExample("pull_request", (p) => p.action === "labeled"))).toEqual({ ok: false, ignored: "pull_request labeled" });
  });

  it("issue_comment on a pull request (with issue.pull_request as GitHub sends it); on an issue it is ignored", () => {
    const onIssue = githubExample("issue_comment", (p) => p.action === "created");
    expect(gh("issue_comment", onIssue)).toEqual({ ok: false, ignored: "comment on an issue, not a pull request" });
    const onPr = structuredClone(onIssue);
    onPr.issue.pull_request = { url: "https://api.github.com/repos/Codertocat/Hello-World/pulls/1", html_url: "https://github.com/Codertocat/Hello-World/pull/1", diff_url: "https://github.com/Codertocat/Hello-World/pull/1.diff", patch_url: "https://github.com/Codertocat/Hello-World/pull/1.patch", merged_at: null };
    onPr.comment.body = "/hodei retry test";
    expect(gh("issue_comment", onPr)).toMatchObject({ ok: true, event: { kind: "comment", number: onPr.issue.number, commentId: onPr.comment.id, body: "/hodei retry test", author: onPr.comment.user.login } });
  });

  it("check_run rerequested and requested_action, check_suite rerequested", () => {
    const action = githubExample("check_run", (p) => p.action === "requested_action");
    expect(gh("check_run", action)).toMatchObject({ ok: true, event: { kind: "check_run", action: "requested_action", requestedAction: action.requested_action.identifier, headSha: action.check_run.head_sha, name: action.check_run.name } });
    expect(gh("check_run", githubExample("check_run", (p) => p.action === "rerequested"))).toMatchObject({ ok: true, event: { kind: "check_run", action: "rerequested", requestedAction: null } });
    expect(gh("check_run", githubExample("check_run", (p) => p.action === "created"))).toMatchObject({ ok: false });
    const suite = githubExample("check_suite", (p) => p.action === "rerequested");
    expect(gh("check_suite", suite)).toMatchObject({ ok: true, event: { kind: "check_suite", headSha: suite.check_suite.head_sha } });
  });

  it("events it does not act on are ignored; a supported event missing a field is a PayloadError naming it", () => {
    expect(gh("star", githubExample("star"))).toEqual({ ok: false, ignored: "star events are not acted on" });
    const broken = githubExample("push", (p) => p.deleted === false);
    delete broken.after;
    expect(() => gh("push", broken)).toThrow(PayloadError);
    expect(() => gh("push", broken)).toThrow("push payload without a valid after");
  });
});

describe("Gitea deliveries", () => {
  it("push", () => {
    const p = giteaFixture("push");
    expect(gt("push", p)).toMatchObject({ ok: true, event: { kind: "push", branch: "main", before: p.before, after: p.after, repo: { forge: "gitea", fullName: "Test-CI/multi-line-secrets", owner: "Test-CI", cloneUrl: p.repository.clone_url, installationId: null } } });
    // Gitea says a push deleted its ref with an all-zero `after`.
    expect(gt("push", { ...structuredClone(p), after: "0".repeat(40) })).toMatchObject({ ok: true, event: { kind: "branch_deleted", branch: "main", repo: { forge: "gitea" } } });
    expect(gt("push", { ...structuredClone(p), ref: "refs/tags/v1", after: "0".repeat(40) })).toEqual({ ok: false, ignored: "push deleted the ref" });
  });

  it("pull_request opened from a fork and synchronized (Gitea's spelling) from the same repository", () => {
    expect(gt("pull_request", giteaFixture("pull_request.opened"))).toMatchObject({ ok: true, event: { action: "opened", number: 2, fork: true, head: { sha: "48e773f892a831faa47c0a160d1b7f0cd369ae2a" } } });
    expect(gt("pull_request", giteaFixture("pull_request.synchronized"))).toMatchObject({ ok: true, event: { action: "synchronize", fork: false, head: { sha: "788ed8d02d3b7fcfcf6386dbcbca696aa1d4dc25", ref: "test-patch-1" }, base: { ref: "main" } } });
  });

  it("issue_comment with is_pull is a PR comment; on a plain issue it is ignored", () => {
    expect(gt("issue_comment", giteaFixture("issue_comment.created.pull"))).toMatchObject({ ok: true, event: { kind: "comment", number: 2, commentId: 6, author: "example" } });
    expect(gt("issue_comment", giteaFixture("issue_comment.created.issue"))).toMatchObject({ ok: false });
  });
});
