/**
 * The store goes away while stages run (issue 16): a private Postgres
 * cluster, started by this file on its own port, is stopped for 10 s and
 * for 60 s under a real `hodei server` with local agents, then started
 * again. The server is never restarted. Every run must complete with the
 * right conclusion, every stage exactly once (attempt 1, no lease lapsed
 * because of the outage), and every stage's stored log must equal what it
 * printed. The server says what it waits for, once, not a stack per call.
 */
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stage } from "../saga/plan-stages.js";
import { readStageLog } from "../../src/store/run-queries.js";
import { openDatabase } from "../../src/store/open.js";
import { freePort, readHistories, readMarker, seedRuns, startServer, type ServerProcess, waitForRunsCompleted } from "./crash-harness.js";
import { PrivatePostgres, privatePostgresAvailable } from "../helpers/private-postgres.js";

const LINES = 40;

/** A stage that prints LINES numbered lines over ~8 s, and a dependent one after it. */
function stagesOf(marker: string) {
  const printing = (id: string, needs: string[]) =>
    stage(id, {
      needs,
      commands: [`echo "$HODEI_RUN_ID $HODEI_STAGE_ID $HODEI_ATTEMPT" >> ${marker}`, `i=1; while [ $i -le ${LINES} ]; do echo "${id} line $i"; i=$((i+1)); sleep 0.2; done`],
    });
  return [printing("build", []), printing("test", ["build"]), stage("report", { needs: ["test"], commands: ["echo report done"] })];
}

function expectedLog(stageId: string): string {
  if (stageId === "report") return "report done\n";
  return Array.from({ length: LINES }, (_, i) => `${stageId} line ${i + 1}\n`).join("");
}


async function waitForBuildsRunning(httpPort: number, ids: readonly string[]): Promise<void> {
  const until = Date.now() + 60_000;
  for (;;) {
    const running = await Promise.all(
      ids.map(async (id) => {
        const res = await fetch(`http://127.0.0.1:${httpPort}/api/runs/${id}`);
        const run = (await res.json()) as { stages: { id: string; status: string }[] };
        return run.stages.find((s) => s.id === "build")?.status === "in_progress";
      }),
    );
    if (running.every(Boolean)) return;
    if (Date.now() > until) throw new Error("the builds did not start within 60 s");
    await new Promise((r) => setTimeout(r, 100));
  }
}

const suite = privatePostgresAvailable || process.env.CI ? describe : describe.skip;

// Without initdb (or not as root) there is no cluster of our own to stop; in CI that fails below.
suite("the store stopped while stages run", () => {
  let cluster: PrivatePostgres;

  beforeAll(async () => {
    if (!privatePostgresAvailable) throw new Error("CI is set but /usr/lib/postgresql/15/bin/initdb is missing or we are not root");
    cluster = await PrivatePostgres.create(await freePort());
  }, 120_000);

  afterAll(async () => {
    await cluster?.destroy();
  });

  for (const outageMs of [10_000, 60_000]) {
    it(`carries on by itself after ${outageMs / 1000} s without the store, with every log whole`, { timeout: outageMs + 120_000 }, async () => {
      const dataDir = await mkdtemp(path.join(os.tmpdir(), "hodei-outage-"));
      const marker = path.join(dataDir, "ran");
      // Each test its own database on the cluster, so the two never share runs.
      const admin = await openDatabase({ databaseUrl: cluster.url, dataDir });
      const dbName = `outage_${outageMs}`;
      await admin.query(`create database ${dbName}`);
      await admin.close();
      const where = { databaseUrl: cluster.url.replace(/\/test$/, `/${dbName}`), dataDir };
      const ids = await seedRuns(where, [{ stages: stagesOf(marker) }, { stages: stagesOf(marker) }]);
      const http = await freePort();
      const server: ServerProcess = startServer(where, { http, grpc: await freePort() }, { HODEI_LEASE_MS: "3000" });
      try {
        await server.ready;
        // Stop the store while both runs' first stages are printing.
        await waitForBuildsRunning(http, ids);
        await new Promise((r) => setTimeout(r, 1000));
        await cluster.stop();
        await new Promise((r) => setTimeout(r, outageMs));
        await cluster.start();
        await waitForRunsCompleted(http, ids, 90_000);
        expect(server.child.exitCode, "the server stayed up").toBeNull();
      } finally {
        server.child.kill("SIGKILL");
        await server.exited;
      }
      const out = server.output();
      expect(out).toMatch(/waiting for the store \(/);
      expect(out).toMatch(/store answers again after/);
      expect(out, "no stack per failed call").not.toMatch(/ECONNREFUSED/);

      const { events, state } = await readHistories(where, ids);
      const ran = await readMarker(marker);
      const db = await openDatabase(where);
      try {
        for (const id of ids) {
          const run = state.get(id)!;
          expect(run.conclusion, `run ${id}`).toBe("success");
          expect(events.get(id)!.filter((e) => e.type === "attempt.finished" && e.data.outcome !== "success"), `${id}: no attempt lost or failed`).toEqual([]);
          for (const s of run.stages.values()) {
            expect(s.attempt, `${id} ${s.plan.id} ran once`).toBe(1);
            const log = await readStageLog(db, { runId: id, stageId: s.plan.id, attempt: 1 });
            // The agent echoes each command as `$ command` before its output.
            const printed = log.chunks.map((c) => c.data).join("").split(/(?<=\n)/).filter((l) => !l.startsWith("$ ")).join("");
            expect(printed, `${id} ${s.plan.id}: stored log`).toBe(expectedLog(s.plan.id));
          }
          expect(ran.filter((l) => l.runId === id).map((l) => `${l.stageId}#${l.attempt}`).sort()).toEqual(["build#1", "test#1"]);
        }
      } finally {
        await db.close();
      }
      await rm(dataDir, { recursive: true, force: true });
    });
  }
});
