/** End to end with Gitea: a signed push (Gitea's own payload and headers) → run → commit statuses checked against Gitea's swagger. */
import { randomUUID } from "node:crypto";
import type { FastifyInstance } from "fastify";
import { afterEach, expect, it } from "vitest";
import { buildHttpApp } from "../../src/http/app.js";
import { ControlPlane } from "../../src/server/control-plane.js";
import { listRuns } from "../../src/store/run-queries.js";
import { signGitea } from "../../src/webhooks/signature.js";
import { describeEachStore } from "../helpers/databases.js";
import type { FakeForge } from "../forge/fake-forge.js";
import { fakeGitea } from "../forge/fake-gitea.js";
import { createRepo } from "../git/repos.js";
import { giteaFixture, giteaHeaders } from "../webhooks/payloads.js";

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
    expect(of("hodei/ci/build")).toEqual(["pending", "pending", "success"]);
    expect(of("hodei/ci/test")).toEqual(["pending", "pending", "failure"]);
    expect(String(statuses.at(-1)?.body.target_url)).toMatch(/^http:\/\/hodei\.test\/runs\/.+\/stages\/test$/);
  });
});
