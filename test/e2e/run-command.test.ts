/**
 * `hodei run` end to end: the real CLI process, the real store, real agent
 * processes over gRPC. The run's history is read back from the store after
 * the process has exited, so nothing can live only in memory.
 */
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { expect, it } from "vitest";
import { RunRepository } from "../../src/store/run-repository.js";
import { openDatabase } from "../../src/store/open.js";
import { migrate } from "../../src/store/migrate.js";
import { nodeIdentity } from "../../src/server/node-id.js";
import { stage } from "../saga/plan-stages.js";
import { getRun, readStageLog } from "../../src/store/run-queries.js";
import { describeEachStore } from "../helpers/databases.js";
import { repoRoot, runHodei } from "../helpers/hodei-cli.js";

const fixture = (name: string) => path.join(repoRoot, "test/fixtures/repos", name);

async function lastRun(where: { databaseUrl?: string; dataDir: string }) {
  const db = await openDatabase(where);
  try {
    const { rows } = await db.query<{ id: string }>("select id from runs order by created_at desc limit 1");
    const id = rows[0]!.id;
    const run = await getRun(db, id);
    const state = await new RunRepository(db).load(id);
    const { rows: events } = await db.query<{ seq: number; type: string; data: { stageId?: string } }>(
      "select seq, type, data from run_events where run_id = $1 order by seq",
      [id],
    );
    const logs: Record<string, string> = {};
    for (const s of run!.stages!) {
      logs[s.id] = (await readStageLog(db, { runId: id, stageId: s.id })).chunks.map((c) => c.data).join("");
    }
    return { run: run!, state: state!, events, logs };
  } finally {
    await db.close();
  }
}

describeEachStore("hodei run", (store) => {
  const envFor = (where: { databaseUrl?: string }) => (where.databaseUrl ? { DATABASE_URL: where.databaseUrl } : { DATABASE_URL: "" });

  it("runs a diamond in dependency order, the middle in parallel, and stores every event", async () => {
    const where = await store.create();
    const result = await runHodei(["run", fixture("diamond"), "--data-dir", where.dataDir, "--agents", "2"], { env: envFor(where) });
    expect(result.stderr).not.toMatch(/Error|error:/);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/prepare +│ prepared hello-input/);
    expect(result.stdout).toMatch(/right +│ right-done NODE_ENV=test/);
    expect(result.stdout).toMatch(/pipeline diamond: ✓ success/);

    const { run, events, logs } = await lastRun(where);
    expect(run.conclusion).toBe("success");
    expect(run.status).toBe("completed");
    expect(run.stages!.map((s) => [s.id, s.conclusion])).toEqual([
      ["prepare", "success"],
      ["left", "success"],
      ["right", "success"],
      ["join", "success"],
    ]);
    // Event seqs have no gaps, and the run ends with run.completed.
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    expect(events.at(-1)!.type).toBe("run.completed");
    // left and right overlapped: each started before the other finished.
    const seqOf = (type: string, stageId: string) => events.find((e) => e.type === type && e.data.stageId === stageId)!.seq;
    expect(seqOf("attempt.started", "right")).toBeLessThan(seqOf("attempt.finished", "left"));
    expect(seqOf("attempt.started", "left")).toBeLessThan(seqOf("attempt.finished", "right"));
    // join ran only after both.
    expect(seqOf("stage.queued", "join")).toBeGreaterThan(Math.max(seqOf("stage.completed", "left"), seqOf("stage.completed", "right")));
    expect(logs.left).toBe("$ echo left-start\nleft-start\n$ sleep 0.5\n$ echo left-done\nleft-done\n");
  });

  it("exits 1 when a stage fails, skips its dependents and still runs independent stages", async () => {
    const where = await store.create();
    const result = await runHodei(["run", fixture("failing"), "--data-dir", where.dataDir], { env: envFor(where) });
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/build +│ ✗ failure/);
    expect(result.stdout).not.toMatch(/never-printed/);

    const { run, state, logs } = await lastRun(where);
    expect(run.conclusion).toBe("failure");
    const reasons = `${JSON.stringify([...state.stages.values()].map((s) => [s.plan.id, s.conclusion, s.reason]))}\n${result.stderr}`;
    expect(Object.fromEntries(run.stages!.map((s) => [s.id, s.conclusion])), reasons).toEqual({
      build: "failure",
      test: "skipped",
      lint: "success",
      report: "success",
    });
    expect(run.stages!.find((s) => s.id === "build")!.exitCode).toBe(3);
    expect(state.stages.get("test")!.reason).toBe("needs build, which ended failure");
    expect(logs.build).toContain("building\n");
    expect(logs.test).toBe("");
  });

  it("runs when.status stages on the outcome of their needs: failure after a failure, always at the end", async () => {
    const where = await store.create();
    const result = await runHodei(["run", fixture("on-failure"), "--data-dir", where.dataDir], { env: envFor(where) });
    expect(result.code).toBe(1);
    const { run, state, logs } = await lastRun(where);
    const reasons = `${JSON.stringify([...state.stages.values()].map((s) => [s.plan.id, s.conclusion, s.reason]))}\n${result.stderr}`;
    expect(Object.fromEntries(run.stages!.map((s) => [s.id, s.conclusion])), reasons).toEqual({
      build: "failure",
      test: "skipped",
      notify: "success",
      celebrate: "skipped",
      cleanup: "success",
    });
    expect(run.conclusion).toBe("failure");
    expect(logs.notify).toContain("notifying about the failure\n");
    expect(logs.cleanup).toContain("cleaning-up\n");
    expect(result.stdout).not.toMatch(/never-celebrated/);
  });

  it("reports a broken pipeline file as FILE:LINE:COL and exits 1 without starting anything", async () => {
    const where = await store.create();
    const result = await runHodei(["run", fixture("broken"), "--data-dir", where.dataDir], { env: envFor(where) });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/\.hodei\/pipeline\.yml:4:\d+: /);
  });

  it("cancels a run an earlier, killed `hodei run` left unfinished, and removes its snapshot", async () => {
    const where = await store.create();
    const staleSource = path.join(where.dataDir, "sources", "stale-snapshot");
    await mkdir(staleSource, { recursive: true });
    const db = await openDatabase(where);
    try {
      await migrate(db);
      // Owned as the killed `hodei run` owned it: the same data directory gives the same identity.
      const owner = await nodeIdentity({ databaseUrl: where.databaseUrl, dataDir: where.dataDir });
      await new RunRepository(db, { owner }).create(
        "stale-run",
        {
          type: "run.planned",
          data: { pipeline: "old", source: { kind: "directory", path: staleSource }, repo: "local/old", sha: "0".repeat(40), ref: null, event: "push", stages: [stage("a")] },
        },
        new Date().toISOString(),
      );
    } finally {
      await db.close();
    }
    const result = await runHodei(["run", fixture("diamond"), "--data-dir", where.dataDir], { env: envFor(where) });
    expect(result.code).toBe(0);
    expect(result.stderr).toContain("Cancelling 1 run(s) left unfinished by an earlier process");
    const reopened = await openDatabase(where);
    try {
      const stale = await new RunRepository(reopened).load("stale-run");
      expect(stale!.conclusion).toBe("cancelled");
      expect(stale!.stages.get("a")!.reason).toBe("run cancelled");
    } finally {
      await reopened.close();
    }
    expect(existsSync(staleSource)).toBe(false);
  });
});
