/**
 * SPEC 4 and 5 end to end through GitHub: a new head on a pull request
 * cancels the runs of its earlier head still in flight; closing the PR
 * cancels its running runs; a check's `Re-run` (check_run rerequested), its
 * `Re-run` action (check_run requested_action) and check_suite rerequested
 * re-run the stage, or the failed stages, of the head's run.
 */
import { afterEach, expect, it } from "vitest";
import { listRuns } from "../../src/store/run-queries.js";
import { describeEachStore } from "../helpers/databases.js";
import { createRepo } from "../git/repos.js";
import { githubExample } from "../webhooks/payloads.js";
import { checkHistory, deliver, deliveriesHandled, type Harness, INSTALLATION, pullRequestPayload, runUntil, settle, stageOf, startHarness } from "./github-harness.js";
import { expectStatesWithin } from "../forge/check-progress.js";

const SLOW = `name: ci
stages:
  build:
    run: echo building
  test:
    needs: [build]
    run: [echo started-test, sleep 60]
`;

const FAILING = `name: ci
stages:
  build:
    run: echo building
  test:
    needs: [build]
    run: |
      echo testing
      if [ -f fail.txt ]; then exit 3; fi
`;

let h: Harness | null = null;
afterEach(async () => {
  await h?.stop();
  h = null;
});

describeEachStore("GitHub pull request lifecycle", (store) => {
  it("synchronize cancels the earlier head's run in flight (its checks end cancelled) and runs the new head; closing the PR cancels the new head's running run", async () => {
    const repo = await createRepo();
    const base = await repo.commit({ "README.md": "hi\n" });
    repo.git("checkout", "--quiet", "-b", "feature");
    const head1 = await repo.commit({ ".hodei/pipeline.yml": SLOW });
    h = await startHarness(store, { permissions: new Map(), pulls: new Map() });

    expect((await deliver(h.app, "pull_request", pullRequestPayload(repo, "opened", { number: 5, headSha: head1, baseSha: base, fork: false }))).statusCode).toBe(202);
    await deliveriesHandled(h.control);
    const [run1] = await listRuns(h.control.db, { limit: 5 });
    expect(run1?.sha).toBe(head1);
    await runUntil(h.control, run1!.id, (r) => stageOf(r, "test")?.status === "in_progress");

    const head2 = await repo.commit({ "src/x.txt": "2\n" });
    const started = Date.now();
    expect((await deliver(h.app, "pull_request", pullRequestPayload(repo, "synchronize", { number: 5, headSha: head2, baseSha: base, fork: false }))).statusCode).toBe(202);
    await deliveriesHandled(h.control);
    const cancelled = await h.control.engine.waitForRun(run1!.id);
    // Cancelled, not waited out: the stage sleeps for 60 s.
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(cancelled.conclusion).toBe("cancelled");
    expect(cancelled.stages.get("test")?.conclusion).toBe("cancelled");
    expect(cancelled.stages.get("build")?.conclusion).toBe("success");

    const run2 = (await listRuns(h.control.db, { limit: 5 })).find((r) => r.sha === head2);
    expect(run2).toBeDefined();
    await runUntil(h.control, run2!.id, (r) => stageOf(r, "test")?.status === "in_progress");

    expect((await deliver(h.app, "pull_request", pullRequestPayload(repo, "closed", { number: 5, headSha: head2, baseSha: base, fork: false }))).statusCode).toBe(202);
    await deliveriesHandled(h.control);
    const closed = await h.control.engine.waitForRun(run2!.id);
    expect(closed.conclusion).toBe("cancelled");
    expect(closed.stages.get("test")?.conclusion).toBe("cancelled");
    await h.control.forge?.idle();

    // Both runs' test checks went to in_progress and then ended cancelled (one check per run: two lists end to end).
    const history = checkHistory(h.github);
    expect(history.get("ci / test")?.filter((s) => s.startsWith("completed"))).toEqual(["completed:cancelled", "completed:cancelled"]);
    const shas = h.github.byOperation("checks/create").filter((r) => r.body.name === "ci / test").map((r) => r.body.head_sha as string);
    expect(shas).toEqual([head1, head2]);
    expect(h.github.violations).toEqual([]);
  });

  it("check_run rerequested and requested_action (Re-run) re-run that stage; check_suite rerequested re-runs the failed stages of the head's run", async () => {
    const repo = await createRepo();
    const first = await repo.commit({ ".hodei/pipeline.yml": FAILING });
    const head = await repo.commit({ "fail.txt": "1\n" });
    h = await startHarness(store, { permissions: new Map(), pulls: new Map() });
    const push = githubExample("push", (e) => typeof e.ref === "string" && e.ref.startsWith("refs/heads/") && e.deleted === false);
    Object.assign(push, { ref: "refs/heads/main", before: first, after: head, deleted: false, installation: INSTALLATION });
    push.repository.clone_url = repo.url;
    expect((await deliver(h.app, "push", push)).statusCode).toBe(202);
    await settle(h.control);
    const [run] = await listRuns(h.control.db, { limit: 5 });
    expect(run?.conclusion).toBe("failure");
    const runId = run!.id;
    const testCheck = h.github.byOperation("checks/create").find((r) => r.body.name === "ci / test");
    expect(testCheck?.body.external_id).toBe(`${runId}/test`);

    // GitHub's check_run example as GitHub sends it for Hodei's check: its id, name, external id and head.
    const checkRun = (action: "rerequested" | "requested_action") => {
      const p = githubExample("check_run", (e) => e.action === action);
      Object.assign(p.check_run, { id: (testCheck?.answer?.body as { id: number }).id, name: "ci / test", external_id: `${runId}/test`, head_sha: head });
      if (action === "requested_action") p.requested_action = { identifier: "rerun" };
      p.installation = INSTALLATION;
      return p;
    };
    const attempts = async () => {
      const state = await h!.control.engine.waitForRun(runId);
      return { build: state.stages.get("build")?.attempt, test: state.stages.get("test")?.attempt, conclusion: state.conclusion };
    };

    expect((await deliver(h.app, "check_run", checkRun("rerequested"))).statusCode).toBe(202);
    await settle(h.control);
    expect(await attempts()).toEqual({ build: 1, test: 2, conclusion: "failure" });

    expect((await deliver(h.app, "check_run", checkRun("requested_action"))).statusCode).toBe(202);
    await settle(h.control);
    expect(await attempts()).toEqual({ build: 1, test: 3, conclusion: "failure" });

    // An action Hodei did not offer does nothing.
    const other = checkRun("requested_action");
    other.requested_action = { identifier: "lgtm|26764" };
    expect((await deliver(h.app, "check_run", other)).statusCode).toBe(202);
    await settle(h.control);
    expect(await attempts()).toEqual({ build: 1, test: 3, conclusion: "failure" });

    // The suite's Re-run: the failed stages of the head's latest run (test fails again on the same commit).
    const suite = githubExample("check_suite", (e) => e.action === "rerequested");
    suite.check_suite.head_sha = head;
    suite.installation = INSTALLATION;
    expect((await deliver(h.app, "check_suite", suite)).statusCode).toBe(202);
    await settle(h.control);
    expect(await attempts()).toEqual({ build: 1, test: 4, conclusion: "failure" });
    expect(await listRuns(h.control.db, { limit: 5 })).toHaveLength(1);

    const history = checkHistory(h.github);
    expectStatesWithin(history.get("ci / build"), ["queued", "in_progress", "completed:success"], "ci / build");
    expect(history.get("ci / test")?.filter((s) => s.startsWith("completed"))).toEqual(["completed:failure", "completed:failure", "completed:failure", "completed:failure"]);
    expect(h.github.violations).toEqual([]);
  });
});
