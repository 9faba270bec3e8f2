/**
 * The real server (HTTP app, store, engine, local agents) with a GitHub App
 * pointed at the local GitHub of test/forge/fake-github.ts, and helpers to
 * send it signed deliveries built from GitHub's published example payloads.
 */
import { generateKeyPairSync, randomBytes, randomUUID } from "node:crypto";
import type { FastifyInstance } from "fastify";
import { expect } from "vitest";
import { buildHttpApp } from "../../src/http/app.js";
import { ControlPlane } from "../../src/server/control-plane.js";
import type { ReconcileSettings, ScheduleSettings } from "../../src/triggers/forge-integration.js";
import { getRun, listRuns, readStageLog, type RunView } from "../../src/store/run-queries.js";
import { signGithub } from "../../src/webhooks/signature.js";
import type { FakeForge } from "../forge/fake-forge.js";
import { fakeGithub, type GithubState } from "../forge/fake-github.js";
import { createRepo, type TestRepo } from "../git/repos.js";
import { parseSecretsKey } from "../../src/secrets/key.js";
import { SecretStore } from "../../src/secrets/secret-store.js";
import { githubExample, githubHeaders, type Payload } from "../webhooks/payloads.js";

export const SECRET = "webhook secret for tests";
export const INSTALLATION = { id: 77, node_id: "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uNzc=" };
const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048, privateKeyEncoding: { type: "pkcs1", format: "pem" }, publicKeyEncoding: { type: "spki", format: "pem" } });

/** The GitHub App the harness's server is (for a forge adapter of a test's own). */
export const APP_AUTH = { kind: "app" as const, appId: 4242, privateKey };

export interface Harness {
  control: ControlPlane;
  app: FastifyInstance;
  github: FakeForge;
  dataDir: string;
  /** Stops the server (not the fake GitHub) and starts a new one on the same store and data directory. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export async function startHarness(
  store: { create(): Promise<{ databaseUrl?: string; dataDir: string }> },
  state: GithubState,
  options: { secretsKey?: string; reconcile?: ReconcileSettings; schedules?: ScheduleSettings } = {},
): Promise<Harness> {
  const github = await fakeGithub(state).start();
  const where = await store.create();
  const secretsKey = options.secretsKey ?? randomBytes(32).toString("hex");
  const boot = async () => {
    const control = await ControlPlane.start({
      ...where,
      localAgents: 2,
      secretsKey,
      forge: {
        publicUrl: "http://hodei.test",
        allowFileRepos: true,
        github: { apiUrl: github.url, auth: { kind: "app", appId: 4242, privateKey } },
        retry: { attempts: 3, baseMs: 10, maxMs: 50 },
        ...(options.reconcile ? { reconcile: options.reconcile } : {}),
        ...(options.schedules ? { schedules: options.schedules } : {}),
      },
    });
    return { control, app: buildHttpApp({ db: control.db, webhookSecrets: { github: SECRET } }) };
  };
  let current = await boot();
  const h: Harness = {
    get control() {
      return current.control;
    },
    get app() {
      return current.app;
    },
    github,
    dataDir: where.dataDir,
    async restart() {
      await current.app.close();
      await current.control.stop();
      current = await boot();
    },
    async stop() {
      await current.app.close();
      await current.control.stop();
      await github.stop();
    },
  };
  return h;
}

export async function deliver(a: FastifyInstance, event: string, payload: Payload, id = randomUUID()) {
  const body = JSON.stringify(payload);
  return a.inject({ method: "POST", url: "/webhooks/github", headers: githubHeaders(event, id, signGithub(SECRET, body)), payload: body });
}

/** Every delivery handled and every report sent (runs may still be going). */
export async function deliveriesHandled(c: ControlPlane): Promise<void> {
  // The processor wakes on NOTIFY, so it may not have started yet.
  await expect
    .poll(async () => (await c.db.query<{ n: number }>("select count(*)::int as n from webhook_deliveries where status in ('pending', 'processing')")).rows[0]?.n, { timeout: 20_000 })
    .toBe(0);
  await c.forge?.idle();
}

/** Deliveries handled, every run completed and reported. */
export async function settle(c: ControlPlane): Promise<void> {
  await deliveriesHandled(c);
  for (const run of await listRuns(c.db, { limit: 50 })) if (run.status !== "completed") await c.engine.waitForRun(run.id);
  await c.forge?.idle();
}

/** Polls the API's view of a run until `check` passes. */
export async function runUntil(c: ControlPlane, runId: string, check: (run: RunView) => boolean, timeout = 30_000): Promise<RunView> {
  let last: RunView | null = null;
  await expect
    .poll(
      async () => {
        last = await getRun(c.db, runId);
        return last !== null && check(last);
      },
      { timeout },
    )
    .toBe(true);
  await c.forge?.idle();
  return last!;
}

export function stageOf(run: RunView, id: string) {
  return run.stages?.find((s) => s.id === id);
}

export async function stageLog(c: ControlPlane, runId: string, stageId: string): Promise<string> {
  return (await readStageLog(c.db, { runId, stageId })).chunks.map((x) => x.data).join("");
}

export async function eventTypes(c: ControlPlane, runId: string): Promise<{ type: string; data: Record<string, unknown> }[]> {
  const { rows } = await c.db.query<{ type: string; data: Record<string, unknown> }>(`select type, data from run_events where run_id = $1 order by seq`, [runId]);
  return rows;
}

/** Each check's statuses in the order GitHub received them, by check name (a replaced check continues its name's list). */
export function checkHistory(g: FakeForge): Map<string, string[]> {
  const ids = new Map<number, string>();
  const out = new Map<string, string[]>();
  for (const r of g.requests) {
    if (r.operationId === "checks/create") ids.set((r.answer?.body as { id: number }).id, r.body.name as string);
    else if (r.operationId !== "checks/update") continue;
    const name = r.operationId === "checks/create" ? (r.body.name as string) : (ids.get(Number(r.path.split("/")[5])) ?? "?");
    if (!r.body.status) continue;
    const list = out.get(name) ?? [];
    list.push(r.body.status === "completed" ? `completed:${r.body.conclusion as string}` : (r.body.status as string));
    out.set(name, list);
  }
  return out;
}

export function pushPayload(repo: TestRepo, before: string, after: string): Payload {
  const p = githubExample("push", (e) => typeof e.ref === "string" && e.ref.startsWith("refs/heads/") && e.deleted === false);
  Object.assign(p, { ref: "refs/heads/main", before, after, deleted: false, installation: INSTALLATION });
  p.repository.clone_url = repo.url;
  return p;
}

/**
 * GitHub's `pull_request` example for `action`, made PR #number of `repo`
 * with head `headSha` (published under `refs/pull/N/head` in the repository,
 * as GitHub does) and base main at `baseSha`; `fork`: the head lives in
 * another repository.
 */
export function pullRequestPayload(repo: TestRepo, action: "opened" | "synchronize" | "closed", pr: { number: number; headSha: string; baseSha: string; fork: boolean }): Payload {
  const p = githubExample("pull_request", (e) => e.action === action && e.installation !== undefined);
  repo.git("update-ref", `refs/pull/${pr.number}/head`, pr.headSha);
  p.number = pr.number;
  p.pull_request.number = pr.number;
  p.pull_request.head.sha = pr.headSha;
  p.pull_request.base.sha = pr.baseSha;
  p.pull_request.base.ref = "main";
  if (pr.fork) {
    p.pull_request.head.repo.full_name = "someone/Hello-World";
    p.pull_request.head.repo.owner.login = "someone";
    p.pull_request.head.label = "someone:changes";
  }
  p.repository.clone_url = repo.url;
  p.installation = INSTALLATION;
  return p;
}

/** GitHub's `issue_comment` example on PR #number (none of the examples is on a PR: `issue.pull_request` added as GitHub sends it). */
export function commentPayload(repo: TestRepo, number: number, user: string, body: string, commentId: number): Payload {
  const p = githubExample("issue_comment", (e) => e.action === "created");
  p.issue.number = number;
  p.issue.pull_request = {
    url: `https://api.github.com/repos/Codertocat/Hello-World/pulls/${number}`,
    html_url: `https://github.com/Codertocat/Hello-World/pull/${number}`,
    diff_url: `https://github.com/Codertocat/Hello-World/pull/${number}.diff`,
    patch_url: `https://github.com/Codertocat/Hello-World/pull/${number}.patch`,
    merged_at: null,
  };
  p.comment.body = body;
  p.comment.user.login = user;
  p.comment.id = commentId;
  p.installation = INSTALLATION;
  p.repository.clone_url = repo.url;
  return p;
}

/**
 * A repository whose `pipeline` is on main, a fork's pull request #1 with one
 * more commit, and a server with `secret` set for the repository: the start
 * of every fork-approval story.
 */
export async function startForkPullRequest(
  store: Parameters<typeof startHarness>[0],
  pipeline: string,
  permissions: [string, string][],
  secret: { key: string; name: string; value: string },
): Promise<{ h: Harness; repo: TestRepo; base: string; head: string; state: GithubState }> {
  const repo = await createRepo();
  const base = await repo.commit({ ".hodei/pipeline.yml": pipeline });
  repo.git("checkout", "--quiet", "-b", "changes");
  const head = await repo.commit({ "src/a.txt": "1\n" });
  const state: GithubState = {
    permissions: new Map(permissions),
    pulls: new Map([[1, { headSha: head, headRef: "changes", baseRef: "main", baseSha: base, fork: true }]]),
  };
  const h = await startHarness(store, state, { secretsKey: secret.key });
  await new SecretStore(h.control.db, parseSecretsKey(secret.key, "test")).set("Codertocat/Hello-World", secret.name, secret.value);
  return { h, repo, base, head, state };
}
