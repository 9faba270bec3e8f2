/** The read side of the HTTP API (SPEC 3) over a store holding a real run history. */
import { readFileSync } from "node:fs";
import { beforeAll, expect, it } from "vitest";
import { buildHttpApp } from "../../src/http/app.js";
import type { RunEvent } from "../../src/saga/events.js";
import type { Database } from "../../src/store/database.js";
import { RunRepository } from "../../src/store/run-repository.js";
import { describeEachStore } from "../helpers/databases.js";

const history = JSON.parse(readFileSync(new URL("../fixtures/histories/failing.json", import.meta.url), "utf8")) as {
  runId: string;
  events: RunEvent[];
};

/** Writes the recorded history through the repository, as the engine would have. */
async function seed(db: Database): Promise<void> {
  const repo = new RunRepository(db);
  const [first, ...rest] = history.events;
  let state = await repo.create(history.runId, first as Extract<RunEvent, { type: "run.planned" }>, first!.at);
  for (const e of rest) state = await repo.append(state, [{ type: e.type, data: e.data } as RunEvent], e.at);
  await repo.appendLogs({ runId: history.runId, stageId: "build", attempt: 1 }, [
    { seq: 2, data: "second\n" },
    { seq: 1, data: "first\n" },
  ]);
}

describeEachStore("HTTP read API", (store) => {
  let db: Database;
  let app: ReturnType<typeof buildHttpApp>;
  beforeAll(async () => {
    db = await store.openMigrated();
    await seed(db);
    app = buildHttpApp({ db, webhookSecrets: {} });
  });

  it("GET /healthz answers ok while the store takes writes, 503 with the reason when it does not", async () => {
    expect((await app.inject("/healthz")).json()).toEqual({ status: "ok" });
    const refused = () => Promise.reject(Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED" }));
    const broken = buildHttpApp({
      db: { kind: db.kind, query: refused, queryUrgent: refused, transaction: refused, listen: refused, close: () => Promise.resolve() } as Database,
      webhookSecrets: {},
    });
    const res = await broken.inject("/healthz");
    expect(res.statusCode).toBe(503);
    expect(res.json()).toEqual({ status: "unavailable", error: "the store is unavailable (connection refused)" });
  });

  it("GET /api/runs lists runs newest first, filtered by repo, with a bounded limit", async () => {
    const all = (await app.inject("/api/runs")).json<{ runs: { id: string; repo: string; conclusion: string }[] }>();
    expect(all.runs).toHaveLength(1);
    expect(all.runs[0]).toMatchObject({ id: history.runId, repo: "local/failing", conclusion: "failure", status: "completed" });
    expect((await app.inject("/api/runs?repo=other/repo")).json()).toEqual({ runs: [], next: null });
    const bad = await app.inject("/api/runs?limit=0");
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toEqual({ error: "limit must be an integer from 1 to 500" });
  });

  it("GET /api/runs/:id returns the run with its stages in plan order", async () => {
    const run = (await app.inject(`/api/runs/${history.runId}`)).json<{ stages: Record<string, unknown>[] }>();
    expect(run.stages.map((s) => [s.id, s.status, s.conclusion, s.attempt, s.exitCode])).toEqual([
      ["build", "completed", "failure", 1, 3],
      ["test", "completed", "skipped", 1, null],
      ["lint", "completed", "success", 1, 0],
      ["report", "completed", "success", 1, 0],
    ]);
    expect(run.stages[1]).toMatchObject({ needs: ["build"], name: "test" });
    expect(run.stages[0]).toHaveProperty("reason");
    const missing = await app.inject("/api/runs/nope");
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toEqual({ error: "no run nope" });
  });

  it("GET .../logs returns the stage's log in sequence order as text", async () => {
    const res = await app.inject(`/api/runs/${history.runId}/stages/build/logs`);
    expect(res.headers["content-type"]).toMatch(/^text\/plain/);
    expect(res.body).toBe("first\nsecond\n");
    expect((await app.inject(`/api/runs/${history.runId}/stages/nope/logs`)).statusCode).toBe(404);
  });

  it("a repeated log chunk (an agent re-sending after a reconnect) is stored once", async () => {
    await new RunRepository(db).appendLogs({ runId: history.runId, stageId: "build", attempt: 1 }, [{ seq: 2, data: "DUPLICATE\n" }]);
    expect((await app.inject(`/api/runs/${history.runId}/stages/build/logs`)).body).toBe("first\nsecond\n");
  });

  it("webhook endpoints answer 503 naming the variable when their secret is unset", async () => {
    const res = await app.inject({ method: "POST", url: "/webhooks/gitea", payload: {} });
    expect(res.statusCode).toBe(503);
    expect(res.json<{ error: string }>().error).toContain("HODEI_GITEA_WEBHOOK_SECRET");
  });
});
