/**
 * End to end with GitHub: signed webhooks into the real server (HTTP app,
 * store, engine, local agents), pipelines read from the pushed commit of a
 * local repository, and check runs reported to a local GitHub that checks
 * every request against GitHub's OpenAPI description.
 */
import { generateKeyPairSync, randomUUID } from "node:crypto";
import type { FastifyInstance } from "fastify";
import { afterEach, expect, it } from "vitest";
import { AuditLog } from "../../src/access/audit.js";
import { buildHttpApp } from "../../src/http/app.js";
import { ControlPlane } from "../../src/server/control-plane.js";
import { listRuns } from "../../src/store/run-queries.js";
import { signGithub } from "../../src/webhooks/signature.js";
import { describeEachStore } from "../helpers/databases.js";
import { fakeGithub, type GithubState } from "../forge/fake-github.js";
import type { FakeForge } from "../forge/fake-forge.js";
import { createRepo, type TestRepo } from "../git/repos.js";
import { githubExample, githubHeaders, type Payload } from "../webhooks/payloads.js";
import { checkHistory } from "./github-harness.js";
import { expectStatesWithin } from "../forge/check-progress.js";

const SECRET = "webhook secret for tests";
const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048, privateKeyEncoding: { type: "pkcs1", format: "pem" }, publicKeyEncoding: { type: "spki", format: "pem" } });

const PIPELINE = `name: ci
stages:
  build:
    run: echo building
  test:
    needs: [build]
    run: |
      echo running tests
      if [ -f fail.txt ]; then echo "src/app.ts:3:5: error: expected a number"; exit 3; fi
`;

let control: ControlPlane | null = null;
let app: FastifyInstance | null = null;
let github: FakeForge | null = null;
afterEach(async () => {
  await app?.close();
  await control?.stop();
  await github?.stop();
  app = control = github = null;
});

async function setup(store: { create(): Promise<{ databaseUrl?: string; dataDir: string }> }, state: GithubState) {
  github = await fakeGithub(state).start();
  control = await ControlPlane.start({
    ...(await store.create()),
    localAgents: 2,
    forge: {
      publicUrl: "http://hodei.test",
      allowFileRepos: true,
      github: { apiUrl: github.url, auth: { kind: "app", appId: 4242, privateKey } },
      retry: { attempts: 3, baseMs: 10, maxMs: 50 },
    },
  });
  app = buildHttpApp({ db: control.db, webhookSecrets: { github: SECRET } });
  return { control, app, github };
}

function pushPayload(repo: TestRepo, before: string, after: string): Payload {
  const p = githubExample("push", (e) => e.ref === "refs/heads/main" || (typeof e.ref === "string" && e.ref.startsWith("refs/heads/") && e.deleted === false));
  Object.assign(p, { ref: "refs/heads/main", before, after, deleted: false, installation: { id: 77, node_id: "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uNzc=" } });
  p.repository.clone_url = repo.url;
  return p;
}

async function deliver(a: FastifyInstance, event: string, payload: Payload, id = randomUUID()) {
  const body = JSON.stringify(payload);
  return a.inject({ method: "POST", url: "/webhooks/github", headers: githubHeaders(event, id, signGithub(SECRET, body)), payload: body });
}

async function settle(c: ControlPlane): Promise<void> {
  // Every delivery handled (the processor wakes on NOTIFY, so it may not have started yet) ...
  await expect
    .poll(async () => (await c.db.query<{ n: number }>("select count(*)::int as n from webhook_deliveries where status in ('pending', 'processing')")).rows[0]?.n, { timeout: 20_000 })
    .toBe(0);
  await c.forge?.idle();
  for (const run of await listRuns(c.db, { limit: 50 })) if (run.status !== "completed") await c.engine.waitForRun(run.id);
  await c.forge?.idle();
}

describeEachStore("GitHub end to end", (store) => {
  it("a signed push runs the pipeline of the pushed commit; check runs go queued, in_progress, completed in order; a failure carries the log tail and annotations; the same delivery twice is one run", async () => {
    const repo = await createRepo();
    const first = await repo.commit({ ".hodei/pipeline.yml": PIPELINE, "src/app.ts": "export const x = 1;\n" });
    const head = await repo.commit({ "fail.txt": "1\n" });
    const { control, app, github } = await setup(store, { permissions: new Map(), pulls: new Map() });
    const payload = pushPayload(repo, first, head);
    const id = randomUUID();
    expect((await deliver(app, "push", payload, id)).statusCode).toBe(202);
    expect((await deliver(app, "push", payload, id)).statusCode).toBe(200);
    await settle(control);

    const runs = await listRuns(control.db, { limit: 10 });
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ sha: head, ref: "refs/heads/main", event: "push", conclusion: "failure", repo: "Codertocat/Hello-World" });
    expect(github.violations).toEqual([]);
    expect(github.byOperation("apps/create-installation-access-token").map((r) => r.path)).toContain("/app/installations/77/access_tokens");
    const history = checkHistory(github);
    expectStatesWithin(history.get("ci / build"), ["queued", "in_progress", "completed:success"], "ci / build");
    expectStatesWithin(history.get("ci / test"), ["queued", "in_progress", "completed:failure"], "ci / test");
    const failed = github.requests.filter((r) => r.body.conclusion === "failure").at(-1);
    expect(failed?.body.output.text).toContain("src/app.ts:3:5: error: expected a number");
    expect(failed?.body.output.summary).toContain("**Exit code:** 3");
    expect(failed?.body.output.annotations).toEqual([{ path: "src/app.ts", start_line: 3, end_line: 3, start_column: 5, end_column: 5, annotation_level: "failure", message: "expected a number" }]);
    expect(failed?.body.actions).toEqual([{ label: "Re-run", description: "Run this stage again", identifier: "rerun" }]);
    expect(failed?.body.external_id).toBe(`${runs[0]?.id}/test`);
  });

  it("a push whose head commit says [skip ci] or [ci skip] starts no run and reports no check; the next push runs", async () => {
    const repo = await createRepo();
    const first = await repo.commit({ ".hodei/pipeline.yml": PIPELINE });
    const skipped = await repo.commit({ "docs.md": "1\n" }, "Fix a typo [skip ci]");
    const alsoSkipped = await repo.commit({ "docs.md": "2\n" }, "Docs only\n\nNothing to build here. [CI Skip]");
    const head = await repo.commit({ "src/app.ts": "1\n" }, "Real change");
    const { control, app, github } = await setup(store, { permissions: new Map(), pulls: new Map() });
    expect((await deliver(app, "push", pushPayload(repo, first, skipped))).statusCode).toBe(202);
    expect((await deliver(app, "push", pushPayload(repo, skipped, alsoSkipped))).statusCode).toBe(202);
    await settle(control);
    expect(await listRuns(control.db, { limit: 10 })).toEqual([]);
    expect(github.byOperation("checks/create")).toEqual([]);
    const { rows } = await control.db.query<{ outcome: string }>("select outcome from webhook_deliveries order by received_at");
    expect(rows.map((r) => r.outcome)).toEqual([
      expect.stringContaining("the head commit's message says [skip ci]"),
      expect.stringContaining("the head commit's message says [CI Skip]"),
    ]);
    expect((await deliver(app, "push", pushPayload(repo, alsoSkipped, head))).statusCode).toBe(202);
    await settle(control);
    const runs = await listRuns(control.db, { limit: 10 });
    expect(runs.map((r) => [r.sha, r.conclusion])).toEqual([[head, "success"]]);
  });

  it("a pipeline file that does not validate gives one failing validate check listing every error", async () => {
    const repo = await createRepo();
    const first = await repo.commit({ "README.md": "hi\n" });
    const head = await repo.commit({ ".hodei/pipeline.yml": "name: ci\nstages:\n  build:\n    run: echo\n    colour: blue\n    retries: 99\n" });
    const { control, app, github } = await setup(store, { permissions: new Map(), pulls: new Map() });
    expect((await deliver(app, "push", pushPayload(repo, first, head))).statusCode).toBe(202);
    await settle(control);
    expect(await listRuns(control.db, { limit: 10 })).toEqual([]);
    expect(github.violations).toEqual([]);
    const checks = github.byOperation("checks/create");
    expect(checks).toHaveLength(1);
    expect(checks[0]?.body).toMatchObject({ name: "ci / validate", head_sha: head, status: "completed", conclusion: "failure" });
    const text = checks[0]?.body.output.text as string;
    expect(text).toMatch(/\.hodei\/pipeline\.yml:5:\d+: .*colour/);
    expect(text).toMatch(/\.hodei\/pipeline\.yml:6:\d+: .*retries/);
    expect((checks[0]?.body.output.annotations as unknown[]).length).toBeGreaterThanOrEqual(2);
  });

  it("/hodei retry STAGE from a writer re-runs that stage only; from a reader it is refused with a -1 and a reply", async () => {
    const repo = await createRepo();
    const first = await repo.commit({ ".hodei/pipeline.yml": PIPELINE, "src/app.ts": "1\n" });
    const head = await repo.commit({ "fail.txt": "1\n" });
    const state: GithubState = { permissions: new Map([["writer", "write"], ["reader", "read"]]), pulls: new Map([[1, { headSha: head, headRef: "main", baseRef: "main", baseSha: first }]]) };
    const { control, app, github } = await setup(store, state);
    expect((await deliver(app, "push", pushPayload(repo, first, head))).statusCode).toBe(202);
    await settle(control);
    const [run] = await listRuns(control.db, { limit: 10 });
    expect(run?.conclusion).toBe("failure");

    const comment = (user: string, body: string): Payload => {
      const p = githubExample("issue_comment", (e) => e.action === "created");
      p.issue.number = 1;
      p.issue.pull_request = { url: "https://api.github.com/repos/Codertocat/Hello-World/pulls/1", html_url: "https://github.com/Codertocat/Hello-World/pull/1", diff_url: "https://github.com/Codertocat/Hello-World/pull/1.diff", patch_url: "https://github.com/Codertocat/Hello-World/pull/1.patch", merged_at: null };
      p.comment.body = body;
      p.comment.user.login = user;
      p.comment.id = user === "writer" ? 11 : 12;
      p.installation = { id: 77, node_id: "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uNzc=" };
      p.repository.clone_url = repo.url;
      return p;
    };
    expect((await deliver(app, "issue_comment", comment("reader", "/hodei retry test"))).statusCode).toBe(202);
    await settle(control);
    expect(github.byOperation("reactions/create-for-issue-comment").map((r) => [r.path, String(r.body.content)])).toEqual([["/repos/Codertocat/Hello-World/issues/comments/12/reactions", "-1"]]);
    expect(github.byOperation("issues/create-comment")[0]?.body.body).toMatch(/@reader only users with write, maintain or admin permission.*\(yours: read\)/);

    const before = github.byOperation("checks/create").length;
    expect((await deliver(app, "issue_comment", comment("writer", "Let's see\n/hodei retry test"))).statusCode).toBe(202);
    await settle(control);
    expect(github.byOperation("reactions/create-for-issue-comment").at(-1)?.body.content).toBe("+1");
    const again = await control.engine.waitForRun(run?.id ?? "");
    expect(again.stages.get("test")?.attempt).toBe(2);
    expect(again.stages.get("build")?.attempt).toBe(1);
    // The re-run stage gets a new check run; build's result is reused, untouched.
    const created = github.byOperation("checks/create").slice(before);
    expect(created.map((r) => String(r.body.name))).toEqual(["ci / test"]);
    // Only the writer's accepted command is in the audit trail, under the forge account.
    expect((await new AuditLog(control.db).list({ limit: 10 })).map((e) => [e.actor, e.actorKind, e.action, e.runId, e.detail.stages])).toEqual([["github:writer", "forge", "run.rerun", run?.id, ["test"]]]);
    expect(github.violations).toEqual([]);
  });
});
