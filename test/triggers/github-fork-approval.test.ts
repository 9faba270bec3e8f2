/**
 * SPEC 6 end to end through GitHub: a fork's pull request runs its stages
 * without secrets; the stages that list secrets (and their dependents) wait
 * as `action_required` until a writer comments `/hodei approve` for that
 * head, and only then get their secret; a reader's approval is refused; a
 * new head waits again; closing the PR cancels what waits.
 */
import { afterEach, expect, it } from "vitest";
import { AuditLog } from "../../src/access/audit.js";
import { describeEachStore } from "../helpers/databases.js";
import {
  checkHistory,
  commentPayload,
  deliver,
  deliveriesHandled,
  eventTypes,
  type Harness,
  pullRequestPayload,
  runUntil,
  stageLog,
  stageOf,
  startForkPullRequest,
} from "./github-harness.js";
import { listRuns } from "../../src/store/run-queries.js";
import { expectStatesWithin } from "../forge/check-progress.js";

const TOKEN = "fork-approval-token-value";
const KEY = "ab".repeat(32);

const PIPELINE = `name: ci
stages:
  build:
    run: echo building
  deploy:
    needs: [build]
    secrets: [DEPLOY_TOKEN]
    run: |
      test -n "$DEPLOY_TOKEN"
      echo "deploy got a token of \${#DEPLOY_TOKEN} characters"
  notify:
    needs: [deploy]
    run: echo notified
`;

let h: Harness | null = null;
afterEach(async () => {
  await h?.stop();
  h = null;
});

describeEachStore("GitHub fork approval", (store) => {
  // Several runs and a restart (or approvals) in one story: minutes on a loaded 2-core machine, not seconds.
  it("a fork's PR: build runs, deploy waits action_required without its secret, a reader's /hodei approve is refused, a writer's releases it in the same run with the secret; a new head waits again; closing the PR cancels it", { timeout: 120_000 }, async () => {
    const fork = await startForkPullRequest(store, PIPELINE, [["writer", "write"], ["reader", "read"]], { key: KEY, name: "DEPLOY_TOKEN", value: TOKEN });
    h = fork.h;
    const { repo, base, head, state } = fork;
    const { github } = h;

    expect((await deliver(h.app, "pull_request", pullRequestPayload(repo, "opened", { number: 1, headSha: head, baseSha: base, fork: true }))).statusCode).toBe(202);
    await deliveriesHandled(h.control);
    const [first] = await listRuns(h.control.db, { limit: 5 });
    expect(first).toBeDefined();
    const runId = first!.id;

    // build runs; deploy waits for approval (SPEC 3: queued, conclusion null); notify waits on deploy.
    let run = await runUntil(h.control, runId, (r) => stageOf(r, "build")?.status === "completed");
    expect(run.status).toBe("in_progress");
    expect(stageOf(run, "build")).toMatchObject({ conclusion: "success" });
    expect(stageOf(run, "deploy")).toMatchObject({ status: "queued", conclusion: null, waitingFor: "approval" });
    expect(stageOf(run, "notify")).toMatchObject({ status: "queued", conclusion: null, waitingFor: null });
    expect((await eventTypes(h.control, runId)).filter((e) => e.data.stageId === "deploy")).toEqual([]);
    const waitingCheck = github.byOperation("checks/create").find((r) => r.body.name === "ci / deploy");
    expect(waitingCheck?.body).toMatchObject({ status: "completed", conclusion: "action_required", head_sha: head });
    expect(String(waitingCheck?.body.output.summary)).toContain("/hodei approve");
    expect(github.byOperation("issues/create-comment").map((r) => String(r.body.body))).toEqual([expect.stringMatching(/`deploy` use secrets.*\/hodei approve/s)]);

    // A reader cannot approve.
    expect((await deliver(h.app, "issue_comment", commentPayload(repo, 1, "reader", "/hodei approve", 21))).statusCode).toBe(202);
    await deliveriesHandled(h.control);
    expect(github.byOperation("reactions/create-for-issue-comment").map((r) => [r.path, String(r.body.content)])).toEqual([["/repos/Codertocat/Hello-World/issues/comments/21/reactions", "-1"]]);
    expect(String(github.byOperation("issues/create-comment").at(-1)?.body.body)).toMatch(/@reader only users with write, maintain or admin permission.*\(yours: read\)/);
    run = await runUntil(h.control, runId, () => true);
    expect(stageOf(run, "deploy")).toMatchObject({ status: "queued", waitingFor: "approval" });

    // A writer approves: the same run goes on, and deploy gets its secret.
    expect((await deliver(h.app, "issue_comment", commentPayload(repo, 1, "writer", "Looks safe.\n/hodei approve", 22))).statusCode).toBe(202);
    await deliveriesHandled(h.control);
    expect(github.byOperation("reactions/create-for-issue-comment").at(-1)?.body.content).toBe("+1");
    const done = await h.control.engine.waitForRun(runId);
    expect(done.conclusion).toBe("success");
    expect(await listRuns(h.control.db, { limit: 5 })).toHaveLength(1);
    expect(await stageLog(h.control, runId, "deploy")).toContain(`deploy got a token of ${TOKEN.length} characters`);
    const events = await eventTypes(h.control, runId);
    const approvedAt = events.findIndex((e) => e.type === "run.approved");
    expect(events[approvedAt]?.data).toEqual({ by: "writer", sha: head });
    // The audit trail has the writer's approval (not the reader's refused one), under the forge account.
    expect((await new AuditLog(h.control.db).list({ limit: 10 })).map(({ actor, actorKind, userId, action, runId: r, repo, detail, ip }) => ({ actor, actorKind, userId, action, runId: r, repo, detail, ip }))).toEqual([
      { actor: "github:writer", actorKind: "forge", userId: null, action: "run.approve", runId, repo: "Codertocat/Hello-World", detail: { via: "comment", pullRequest: 1, commentId: 22, sha: head, runs: [runId] }, ip: null },
    ]);
    expect(events.findIndex((e) => e.type === "stage.queued" && e.data.stageId === "deploy")).toBeGreaterThan(approvedAt);
    await h.control.forge?.idle();
    const history = checkHistory(github);
    expectStatesWithin(history.get("ci / build"), ["queued", "in_progress", "completed:success"], "ci / build");
    // The action_required check is replaced by a new one when the stage is released
    // (the reporter sends the newest state, so a short `queued` may be folded into `in_progress`).
    const deployHistory = history.get("ci / deploy") ?? [];
    expect(deployHistory[0]).toBe("completed:action_required");
    expect(deployHistory.slice(1).filter((s) => s.startsWith("completed"))).toEqual(["completed:success"]);
    expect(deployHistory.at(-1)).toBe("completed:success");
    const deployCreates = github.byOperation("checks/create").filter((r) => r.body.name === "ci / deploy");
    expect(deployCreates.map((r) => String(r.body.status))).toEqual(["completed", expect.stringMatching(/^(queued|in_progress)$/)]);
    // notify only echoes: its `in_progress` may be folded into `completed` (the outbox posts the newest stored state).
    expect((history.get("ci / notify") ?? []).filter((s) => s !== "in_progress")).toEqual(["queued", "completed:success"]);

    // A new push to the fork: the approval was for the old head, so deploy waits again.
    const head2 = await repo.commit({ "src/a.txt": "2\n" });
    state.pulls.set(1, { headSha: head2, headRef: "changes", baseRef: "main", baseSha: base, fork: true });
    expect((await deliver(h.app, "pull_request", pullRequestPayload(repo, "synchronize", { number: 1, headSha: head2, baseSha: base, fork: true }))).statusCode).toBe(202);
    await deliveriesHandled(h.control);
    const second = (await listRuns(h.control.db, { limit: 5 })).find((r) => r.sha === head2);
    expect(second).toBeDefined();
    run = await runUntil(h.control, second!.id, (r) => stageOf(r, "build")?.status === "completed");
    expect(stageOf(run, "deploy")).toMatchObject({ status: "queued", waitingFor: "approval" });

    // Closing the PR cancels the waiting run: deploy and notify end cancelled, their checks too.
    expect((await deliver(h.app, "pull_request", pullRequestPayload(repo, "closed", { number: 1, headSha: head2, baseSha: base, fork: true }))).statusCode).toBe(202);
    await deliveriesHandled(h.control);
    const closed = await h.control.engine.waitForRun(second!.id);
    expect(closed.conclusion).toBe("cancelled");
    expect(closed.stages.get("deploy")?.conclusion).toBe("cancelled");
    expect(closed.stages.get("notify")?.conclusion).toBe("cancelled");
    expect(closed.stages.get("deploy")?.attempt).toBe(0);
    await h.control.forge?.idle();
    const after = checkHistory(github);
    expect(after.get("ci / deploy")?.slice(deployHistory.length)).toEqual(["completed:action_required", "completed:cancelled"]);
    expect(after.get("ci / notify")?.slice(3)).toEqual(["queued", "completed:cancelled"]);
    expect(github.violations).toEqual([]);
  });
});
