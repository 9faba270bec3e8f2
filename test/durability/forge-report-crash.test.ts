/**
 * Forge reports survive a crash (issue 16): a real `hodei server` with a
 * GitHub App pointed at the local fake GitHub (checked against GitHub's
 * OpenAPI description) runs a pushed pipeline while GitHub leaves every
 * check-run call unanswered, so no stage's final state has reached it when
 * the server is SIGKILLed. One stage's outbox row is deleted as well, as if
 * the kill came between its event and its row. After a restart, with
 * GitHub answering again, every check ends `completed` with the conclusion
 * of its stage: the outbox rows are posted, and reconciliation records the
 * missing one from the run's history.
 */
import { generateKeyPairSync, randomUUID } from "node:crypto";
import { afterEach, expect, it } from "vitest";
import { listReports } from "../../src/forge/outbox-store.js";
import { openDatabase } from "../../src/store/open.js";
import { signGithub } from "../../src/webhooks/signature.js";
import { describeEachStore } from "../helpers/databases.js";
import type { FakeForge } from "../forge/fake-forge.js";
import { fakeGithub } from "../forge/fake-github.js";
import { createRepo } from "../git/repos.js";
import { pushPayload, SECRET } from "../triggers/github-harness.js";
import { githubHeaders } from "../webhooks/payloads.js";
import { freePort, startServer, waitForRunsCompleted, type ServerProcess, type StoreLocation } from "./crash-harness.js";

const PIPELINE = `name: ci
stages:
  ok:
    run: echo fine
  bad:
    run: |
      echo failing
      exit 3
  after:
    needs: [bad]
    run: echo never
`;

const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048, privateKeyEncoding: { type: "pkcs1", format: "pem" }, publicKeyEncoding: { type: "spki", format: "pem" } });
const isCheckCall = (operationId: string | null) => operationId === "checks/create" || operationId === "checks/update";

let server: ServerProcess | null = null;
let github: FakeForge | null = null;
afterEach(async () => {
  if (server && server.child.exitCode === null && server.child.signalCode === null) {
    server.child.kill("SIGKILL");
    await server.exited;
  }
  await github?.stop();
  server = null;
  github = null;
});

/** Each check run's status on the fake GitHub now, by name, from the calls it answered. */
function checksNow(g: FakeForge): Map<string, string> {
  const names = new Map<number, string>();
  const out = new Map<string, string>();
  for (const r of g.requests) {
    if (!isCheckCall(r.operationId) || !r.answer || r.answer.status >= 300) continue;
    const id = r.operationId === "checks/create" ? (r.answer.body as { id: number }).id : Number(r.path.split("/")[5]);
    if (r.operationId === "checks/create") names.set(id, r.body.name as string);
    if (r.body.status) out.set(names.get(id) ?? "?", r.body.status === "completed" ? `completed:${r.body.conclusion as string}` : (r.body.status as string));
  }
  return out;
}

async function withStore<T>(where: StoreLocation, fn: (db: Awaited<ReturnType<typeof openDatabase>>) => Promise<T>): Promise<T> {
  const db = await openDatabase(where);
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

describeEachStore("forge reports across a SIGKILL", (store) => {
  it("a server killed after its stages ended and before GitHub had their checks ends, restarted, with every check completed as its stage concluded", { timeout: 120_000 }, async () => {
    const repo = await createRepo();
    const base = await repo.commit({ "README.md": "widgets\n" });
    const head = await repo.commit({ ".hodei/pipeline.yml": PIPELINE });
    github = await fakeGithub({ permissions: new Map(), pulls: new Map() }).start();
    const gh = github;
    // GitHub hangs on every check-run call: nothing the first server posts lands.
    gh.fault = (req) => (isCheckCall(req.operationId) ? "hold" : null);

    const where = await store.create();
    const ports = { http: await freePort(), grpc: await freePort() };
    const env = {
      HODEI_GITHUB_API_URL: gh.url,
      HODEI_GITHUB_APP_ID: "4242",
      HODEI_GITHUB_APP_PRIVATE_KEY: privateKey,
      HODEI_GITHUB_WEBHOOK_SECRET: SECRET,
      HODEI_ALLOW_FILE_REPOS: "1",
      HODEI_PUBLIC_URL: "http://hodei.test",
      HODEI_LOCAL_AGENTS: "2",
    };
    server = startServer(where, ports, env);
    await server.ready;

    const body = JSON.stringify(pushPayload(repo, base, head));
    const res = await fetch(`http://127.0.0.1:${ports.http}/webhooks/github`, { method: "POST", headers: githubHeaders("push", randomUUID(), signGithub(SECRET, body)), body });
    expect(res.status).toBe(202);
    let runId = "";
    await expect
      .poll(
        async () => {
          const list = (await (await fetch(`http://127.0.0.1:${ports.http}/api/runs`)).json()) as { runs: { id: string }[] };
          runId = list.runs[0]?.id ?? "";
          return runId;
        },
        { timeout: 30_000, interval: 100 },
      )
      .not.toBe("");
    await waitForRunsCompleted(ports.http, [runId], 40_000);
    const run = (await (await fetch(`http://127.0.0.1:${ports.http}/api/runs/${runId}`)).json()) as { conclusion: string; stages: { id: string; conclusion: string }[] };
    expect(run.conclusion).toBe("failure");
    const concluded = new Map(run.stages.map((s) => [`ci / ${s.id}`, `completed:${s.conclusion}`]));
    expect(concluded.get("ci / ok")).toBe("completed:success");
    expect(concluded.get("ci / bad")).toBe("completed:failure");
    // The posts are under way, and hang.
    await expect.poll(() => gh.held.length, { timeout: 20_000 }).toBeGreaterThan(0);

    server.child.kill("SIGKILL");
    await server.exited;
    expect([...checksNow(gh).values()].filter((s) => s.startsWith("completed"))).toEqual([]);
    // The rows were stored; one goes, as if the kill had come before it was written.
    await withStore(where, async (db) => {
      expect((await listReports(db)).map((r) => r.stageId).sort()).toEqual(["after", "bad", "ok"]);
      await db.query(`delete from forge_outbox where run_id = $1 and stage_id = 'bad'`, [runId]);
    });

    gh.fault = null;
    server = startServer(where, ports, env);
    await server.ready;
    await expect.poll(() => checksNow(gh), { timeout: 30_000, interval: 100 }).toEqual(concluded);
    expect(gh.violations).toEqual([]);

    server.child.kill("SIGTERM");
    await server.exited;
    await withStore(where, async (db) => {
      expect(await listReports(db)).toEqual([]);
    });
  });
});
