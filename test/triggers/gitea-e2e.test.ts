/**
 * End to end with Gitea: a signed push (Gitea's own payload and headers) → run → commit statuses checked against Gitea's swagger;
 * a fork's pull request whose secret stage waits for `/hodei approve`.
 */
import { randomUUID } from "node:crypto";
import type { FastifyInstance } from "fastify";
import { afterEach, expect, it } from "vitest";
import { buildHttpApp } from "../../src/http/app.js";
import { ControlPlane } from "../../src/server/control-plane.js";
import { parseSecretsKey } from "../../src/secrets/key.js";
import { SecretStore } from "../../src/secrets/secret-store.js";
import { getRun, listRuns, readStageLog } from "../../src/store/run-queries.js";
import { signGitea } from "../../src/webhooks/signature.js";
import { describeEachStore } from "../helpers/databases.js";
import type { FakeForge } from "../forge/fake-forge.js";
import { fakeGitea, type GiteaState } from "../forge/fake-gitea.js";
import { createRepo } from "../git/repos.js";
import { giteaFixture, giteaHeaders, type Payload } from "../webhooks/payloads.js";
import { expectStatesWithin } from "../forge/check-progress.js";

const SECRET = "gitea secret";
let control: ControlPlane | null = null;
let app: FastifyInstance | null = null;
let gitea: FakeForge | null = null;
afterEach(async () => {
  await app?.close();
  await control?.stop();
  await gitea?.stop();
  app = control = gitea = null;
});

describeEachStore("Gitea end to end", (store) => {
  it("a signed push gives pending then final commit statuses per stage, with context hodei/PIPELINE/STAGE and a target_url", async () => {
    const repo = await createRepo();
    const first = await repo.commit({ "README.md": "hi\n" });
    const head = await repo.commit({ ".hodei/pipeline.yml": "name: ci\nstages:\n  build: { run: echo built }\n  test: { needs: [build], run: 'exit 1' }\n" });
    gitea = await fakeGitea().start();
    control = await ControlPlane.start({
      ...(await store.create()),
      localAgents: 2,
      forge: { publicUrl: "http://hodei.test", allowFileRepos: true, gitea: { url: gitea.url, token: "gitea-token" }, retry: { attempts: 3, baseMs: 10, maxMs: 50 } },
    });
    app = buildHttpApp({ db: control.db, webhookSecrets: { gitea: SECRET } });
    const payload = giteaFixture("push");
    Object.assign(payload, { before: first, after: head });
    payload.repository.clone_url = repo.url;
    const body = JSON.stringify(payload);
    const res = await app.inject({ method: "POST", url: "/webhooks/gitea", headers: giteaHeaders("push", "push", randomUUID(), signGitea(SECRET, body)), payload: body });
    expect(res.statusCode).toBe(202);
    const c = control;
    await expect.poll(async () => (await listRuns(c.db, { limit: 5 }))[0]?.status, { timeout: 30_000 }).toBe("completed");
    await c.forge?.idle();

    expect(gitea.violations).toEqual([]);
    const statuses = gitea.byOperation("repoCreateStatus");
    expect(statuses.every((s) => s.path === `/api/v1/repos/Test-CI/multi-line-secrets/statuses/${head}` && s.authorization === "token gitea-token")).toBe(true);
    const of = (context: string) => statuses.filter((s) => s.body.context === context).map((s) => String(s.body.state));
    expectStatesWithin(of("hodei/ci/build"), ["pending", "pending", "success"], "hodei/ci/build");
    expectStatesWithin(of("hodei/ci/test"), ["pending", "pending", "failure"], "hodei/ci/test");
    // Each stage's statuses link to its page (the outbox may post one stage's final status after another's).
    const lastOf = (context: string) => statuses.filter((s) => s.body.context === context).at(-1);
    expect(String(lastOf("hodei/ci/test")?.body.target_url)).toMatch(/^http:\/\/hodei\.test\/runs\/.+\/stages\/test$/);
  });
});

describeEachStore("Gitea fork approval", (store) => {
  it("Gitea's own fork pull_request: build runs, deploy's status stays pending saying how to approve; a reader is refused; a writer's /hodei approve releases it in the same run with its secret", async () => {
    const repo = await createRepo();
    const base = await repo.commit({
      ".hodei/pipeline.yml":
        "name: ci\nstages:\n  build: { run: echo built }\n  deploy:\n    needs: [build]\n    secrets: [DEPLOY_TOKEN]\n    run: 'test -n \"$DEPLOY_TOKEN\" && echo \"token of ${#DEPLOY_TOKEN} chars\"'\n",
    });
    repo.git("checkout", "--quiet", "-b", "changes");
    const head = await repo.commit({ "src/a.txt": "1\n" });
    repo.git("update-ref", "refs/pull/2/head", head);
    const key = "ef".repeat(32);
    const state: GiteaState = { permissions: new Map([["writer", "write"], ["reader", "read"]]), pulls: new Map([[2, { headSha: head, headRef: "changes", baseRef: "master", baseSha: base, fork: true }]]) };
    gitea = await fakeGitea(state).start();
    control = await ControlPlane.start({
      ...(await store.create()),
      localAgents: 2,
      secretsKey: key,
      forge: { publicUrl: "http://hodei.test", allowFileRepos: true, gitea: { url: gitea.url, token: "gitea-token" }, retry: { attempts: 3, baseMs: 10, maxMs: 50 } },
    });
    await new SecretStore(control.db, parseSecretsKey(key, "test")).set("example/example", "DEPLOY_TOKEN", "gitea-secret-value");
    app = buildHttpApp({ db: control.db, webhookSecrets: { gitea: SECRET } });
    const c = control;
    const g = gitea;
    const send = async (event: string, payload: Payload) => {
      const body = JSON.stringify(payload);
      const res = await app!.inject({ method: "POST", url: "/webhooks/gitea", headers: giteaHeaders(event, event, randomUUID(), signGitea(SECRET, body)), payload: body });
      expect(res.statusCode).toBe(202);
      await expect.poll(async () => (await c.db.query<{ n: number }>("select count(*)::int as n from webhook_deliveries where status in ('pending', 'processing')")).rows[0]?.n, { timeout: 20_000 }).toBe(0);
      await c.forge?.idle();
    };
    const comment = (user: string, id: number): Payload => {
      const p = giteaFixture("issue_comment.created.pull");
      p.comment.body = "/hodei approve";
      p.comment.user.login = user;
      p.comment.id = id;
      p.repository.clone_url = repo.url;
      return p;
    };

    // Gitea's captured pull_request.opened is from a fork (head repo 2, base repo 1).
    const opened = giteaFixture("pull_request.opened");
    opened.pull_request.head.sha = head;
    opened.pull_request.base.sha = base;
    opened.repository.clone_url = repo.url;
    await send("pull_request", opened);
    const [run] = await listRuns(c.db, { limit: 5 });
    expect(run).toBeDefined();
    await expect.poll(async () => (await getRun(c.db, run!.id))?.stages?.find((s) => s.id === "build")?.conclusion, { timeout: 30_000 }).toBe("success");
    await c.forge?.idle();
    const deploy = () => g.byOperation("repoCreateStatus").filter((s) => s.body.context === "hodei/ci/deploy");
    expect(deploy().map((s) => [String(s.body.state), String(s.body.description)])).toEqual([["pending", expect.stringContaining("/hodei approve")]]);
    expect((await getRun(c.db, run!.id))?.stages?.find((s) => s.id === "deploy")).toMatchObject({ status: "queued", waitingFor: "approval" });

    await send("issue_comment", comment("reader", 61));
    expect(g.byOperation("issuePostCommentReaction").map((r) => [r.path, String(r.body.content)])).toEqual([["/api/v1/repos/example/example/issues/comments/61/reactions", "-1"]]);
    expect(String(g.byOperation("issueCreateComment").at(-1)?.body.body)).toMatch(/@reader only users with write/);

    await send("issue_comment", comment("writer", 62));
    expect(g.byOperation("issuePostCommentReaction").at(-1)?.body.content).toBe("+1");
    const done = await c.engine.waitForRun(run!.id);
    expect(done.conclusion).toBe("success");
    expect((await readStageLog(c.db, { runId: run!.id, stageId: "deploy" })).chunks.map((x) => x.data).join("")).toContain(`token of ${"gitea-secret-value".length} chars`);
    await c.forge?.idle();
    const states = deploy().map((s) => String(s.body.state));
    expect(states[0]).toBe("pending");
    expect(states.at(-1)).toBe("success");
    expect(deploy().slice(1).every((s) => !String(s.body.description).includes("/hodei approve"))).toBe(true);
    expect(await listRuns(c.db, { limit: 5 })).toHaveLength(1);
    expect(g.violations).toEqual([]);
  });
});
