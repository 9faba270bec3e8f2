/**
 * GitHub App installation tokens after a server restart: the new process
 * has no token cached and no webhook of its own yet, yet it reports. The
 * installation id comes from the run's history (its trigger) and from the
 * stored delivery, never from memory of the process that received it; what
 * each check last showed comes from the store, so a check that completed
 * before the restart is replaced, not reopened, by a re-run after it.
 */
import { randomUUID } from "node:crypto";
import { rm } from "node:fs/promises";
import path from "node:path";
import { afterEach, expect, it } from "vitest";
import { GitMirrors } from "../../src/git/mirror.js";
import { parseSecretsKey } from "../../src/secrets/key.js";
import { SecretStore } from "../../src/secrets/secret-store.js";
import { listRuns } from "../../src/store/run-queries.js";
import { describeEachStore } from "../helpers/databases.js";
import type { GithubState } from "../forge/fake-github.js";
import { type GitHttpServer, startGitHttpServer } from "../git/http-server.js";
import { createRepo } from "../git/repos.js";
import { githubExample } from "../webhooks/payloads.js";
import {
  commentPayload,
  deliver,
  deliveriesHandled,
  type Harness,
  INSTALLATION,
  pullRequestPayload,
  pushPayload,
  runUntil,
  settle,
  stageOf,
  startHarness,
} from "./github-harness.js";

const PIPELINE = `name: ci
stages:
  build:
    run: echo building
  test:
    needs: [build]
    run: |
      if [ -f fail.txt ]; then exit 3; fi
      echo passed
`;

const FORK_PIPELINE = `name: ci
stages:
  build:
    run: echo building
  deploy:
    needs: [build]
    secrets: [DEPLOY_TOKEN]
    run: test -n "$DEPLOY_TOKEN"
`;
const KEY = "cd".repeat(32);

let h: Harness | null = null;
let git: GitHttpServer | null = null;
afterEach(async () => {
  await h?.stop();
  await git?.stop();
  h = null;
  git = null;
});

describeEachStore("GitHub after a restart", (store) => {
  // Several runs and a restart (or approvals) in one story: minutes on a loaded 2-core machine, not seconds.
  it("a restarted server gets a fresh installation token for a delivery it picks up on start and for a check re-run of a run from before the restart", { timeout: 120_000 }, async () => {
    const repo = await createRepo();
    const first = await repo.commit({ ".hodei/pipeline.yml": PIPELINE });
    const failing = await repo.commit({ "fail.txt": "1\n" });
    h = await startHarness(store, { permissions: new Map(), pulls: new Map() });
    const { github } = h;
    expect((await deliver(h.app, "push", pushPayload(repo, first, failing))).statusCode).toBe(202);
    await settle(h.control);
    const [run] = await listRuns(h.control.db, { limit: 5 });
    expect(run?.conclusion).toBe("failure");

    // A push the old process stored and claimed, then died before handling.
    const fixed = await repo.commit({ "fail.txt": null });
    const stored = pushPayload(repo, failing, fixed);
    await h.control.db.query(
      `insert into webhook_deliveries (forge, delivery_id, event, payload, received_at, status, attempts, claimed_at) values ('github', $1, 'push', $2::jsonb, now(), 'processing', 1, now())`,
      [randomUUID(), JSON.stringify(stored)],
    );

    const before = github.requests.length;
    const testCheck = github.byOperation("checks/create").find((r) => r.body.name === "ci / test");
    await h.restart();
    await settle(h.control);
    const after = () => github.requests.slice(before);

    // The new process asked GitHub for a token of the stored delivery's installation, and reported with it.
    expect(after().filter((r) => r.operationId === "apps/create-installation-access-token").map((r) => r.path)).toContain(`/app/installations/${INSTALLATION.id}/access_tokens`);
    const runs = await listRuns(h.control.db, { limit: 5 });
    expect(runs.map((r) => [r.sha, r.conclusion])).toEqual([
      [fixed, "success"],
      [failing, "failure"],
    ]);
    const reported = after().filter((r) => r.operationId === "checks/create" || r.operationId === "checks/update");
    expect(reported.length).toBeGreaterThan(0);
    expect(reported.every((r) => r.authorization === "token ghs_fakeinstallationtoken")).toBe(true);

    // A Re-run of the run from before the restart: its completed check is replaced by a new one.
    const checkRun = githubExample("check_run", (e) => e.action === "rerequested");
    Object.assign(checkRun.check_run, { id: (testCheck?.answer?.body as { id: number }).id, name: "ci / test", external_id: `${run!.id}/test`, head_sha: failing });
    checkRun.installation = INSTALLATION;
    const mark = github.requests.length;
    expect((await deliver(h.app, "check_run", checkRun)).statusCode).toBe(202);
    await settle(h.control);
    const rerun = await h.control.engine.waitForRun(run!.id);
    expect(rerun.stages.get("test")?.attempt).toBe(2);
    const reports = github.requests.slice(mark).filter((r) => r.operationId === "checks/create" || r.operationId === "checks/update");
    expect(reports[0]).toMatchObject({ operationId: "checks/create", body: { name: "ci / test", head_sha: failing } });
    expect(reports.at(-1)?.body).toMatchObject({ status: "completed", conclusion: "failure" });
    // The completed check of attempt 1 was never sent back to queued.
    const oldId = (testCheck?.answer?.body as { id: number }).id;
    expect(reports.filter((r) => r.path.endsWith(`/check-runs/${oldId}`))).toEqual([]);
    expect(github.violations).toEqual([]);
  });
});

describeEachStore("GitHub fork approval across a restart", (store) => {
  // Several runs and a restart (or approvals) in one story: minutes on a loaded 2-core machine, not seconds.
  it("a fork's stage approved after a restart fetches its commit with a fresh installation token, asked for the run, not remembered from the webhook", { timeout: 120_000 }, async () => {
    const repo = await createRepo();
    const base = await repo.commit({ ".hodei/pipeline.yml": FORK_PIPELINE });
    repo.git("checkout", "--quiet", "-b", "changes");
    const head = await repo.commit({ "src/a.txt": "1\n" });
    const basic = (token: string) => `Basic ${Buffer.from(`x-access-token:${token}`).toString("base64")}`;
    git = await startGitHttpServer(path.dirname(path.dirname(repo.dir)), basic("ghs_fakeinstallationtoken"));
    const cloneUrl = `${git.url}/acme/widgets`;
    const state: GithubState = { permissions: new Map([["writer", "write"]]), pulls: new Map([[1, { headSha: head, headRef: "changes", baseRef: "main", baseSha: base, fork: true }]]) };
    h = await startHarness(store, state, { secretsKey: KEY });
    await new SecretStore(h.control.db, parseSecretsKey(KEY, "test")).set("Codertocat/Hello-World", "DEPLOY_TOKEN", "a-token");

    const opened = pullRequestPayload(repo, "opened", { number: 1, headSha: head, baseSha: base, fork: true });
    opened.repository.clone_url = cloneUrl;
    expect((await deliver(h.app, "pull_request", opened)).statusCode).toBe(202);
    await deliveriesHandled(h.control);
    const [run] = await listRuns(h.control.db, { limit: 5 });
    await runUntil(h.control, run!.id, (r) => stageOf(r, "build")?.conclusion === "success" && stageOf(r, "deploy")?.waitingFor === "approval");
    expect(git.requests.some((r) => r.allowed)).toBe(true);

    // The server restarts; meanwhile the token it used expired and the mirror is gone (a new host, a cleaned disk).
    await h.restart();
    state.installationToken = "ghs_tokenafterrestart";
    git.expectAuthorization = basic("ghs_tokenafterrestart");
    await rm(new GitMirrors({ root: path.join(h.dataDir, "mirrors"), allowFileRepos: true }).dirOf(cloneUrl), { recursive: true, force: true });
    const mark = git.requests.length;

    const approve = commentPayload(repo, 1, "writer", "/hodei approve", 31);
    approve.repository.clone_url = cloneUrl;
    expect((await deliver(h.app, "issue_comment", approve)).statusCode).toBe(202);
    await deliveriesHandled(h.control);
    const done = await h.control.engine.waitForRun(run!.id);
    expect([...done.stages.values()].map((s) => [s.plan.id, s.conclusion, s.reason])).toEqual([
      ["build", "success", null],
      ["deploy", "success", null],
    ]);
    expect(git.requests.slice(mark).length).toBeGreaterThan(0);
    expect(git.requests.slice(mark).every((r) => r.allowed)).toBe(true);
    expect(h.github.violations).toEqual([]);
  });
});
