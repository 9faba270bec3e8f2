/**
 * Approving a fork's waiting stages through the API (issue 17), as the
 * `/hodei approve` comment does: a writer (here the admin token) releases
 * them in the same run; the history and the audit log name who; a run that
 * waits for nothing is a 409; without a token, 401.
 */
import { afterEach, expect, it } from "vitest";
import { AuditLog } from "../../src/access/audit.js";
import { buildHttpApp } from "../../src/http/app.js";
import { listRuns } from "../../src/store/run-queries.js";
import { describeEachStore } from "../helpers/databases.js";
import { deliver, deliveriesHandled, eventTypes, type Harness, pullRequestPayload, runUntil, stageLog, stageOf, startForkPullRequest } from "./github-harness.js";

const KEY = "cd".repeat(32);
const ADMIN = "api-approval-admin-token";
const PIPELINE = `name: ci
stages:
  build:
    run: echo building
  deploy:
    needs: [build]
    secrets: [DEPLOY_TOKEN]
    run: echo "deploy got \${#DEPLOY_TOKEN} characters"
`;

let h: Harness | null = null;
afterEach(async () => {
  await h?.stop();
  h = null;
});

describeEachStore("fork approval through the API", (store) => {
  it("POST /api/runs/:id/approve releases the waiting stage in the same run, names the approver in the history and the audit log; 409 when nothing waits; 401 without a token", { timeout: 90_000 }, async () => {
    const fork = await startForkPullRequest(store, PIPELINE, [["writer", "write"]], { key: KEY, name: "DEPLOY_TOKEN", value: "s3cr3t" });
    h = fork.h;
    const { repo, base, head } = fork;
    const api = buildHttpApp({ db: h.control.db, webhookSecrets: {}, engine: h.control.engine, adminToken: ADMIN });
    try {
      expect((await deliver(h.app, "pull_request", pullRequestPayload(repo, "opened", { number: 1, headSha: head, baseSha: base, fork: true }))).statusCode).toBe(202);
      await deliveriesHandled(h.control);
      const runId = (await listRuns(h.control.db, { limit: 5 }))[0]!.id;
      const run = await runUntil(h.control, runId, (r) => stageOf(r, "build")?.status === "completed");
      expect(stageOf(run, "deploy")).toMatchObject({ status: "queued", waitingFor: "approval" });

      const url = `/api/runs/${runId}/approve`;
      const anonymous = await api.inject({ method: "POST", url });
      expect(anonymous.statusCode).toBe(401);
      expect((await api.inject({ method: "POST", url: "/api/runs/nope/approve", headers: { authorization: `Bearer ${ADMIN}` } })).statusCode).toBe(404);

      const approved = await api.inject({ method: "POST", url, headers: { authorization: `Bearer ${ADMIN}` } });
      expect(approved.statusCode).toBe(202);
      expect(approved.json()).toEqual({ id: runId, stages: ["deploy"] });
      const done = await h.control.engine.waitForRun(runId);
      expect(done.conclusion).toBe("success");
      expect(await stageLog(h.control, runId, "deploy")).toContain("deploy got 6 characters");
      expect((await eventTypes(h.control, runId)).find((e) => e.type === "run.approved")?.data).toEqual({ by: "admin token", sha: head });

      const again = await api.inject({ method: "POST", url, headers: { authorization: `Bearer ${ADMIN}` } });
      expect(again.statusCode).toBe(409);
      expect(again.json()).toEqual({ error: `run ${runId} has no stage waiting for approval` });

      const audit = await new AuditLog(h.control.db).list({ limit: 10 });
      expect(audit.filter((e) => e.action === "run.approve")).toEqual([
        expect.objectContaining({ actor: "admin token", actorKind: "admin", runId, repo: "Codertocat/Hello-World", detail: { sha: head, stages: ["deploy"] } }),
      ]);
    } finally {
      await api.close();
    }
  });
});
