/**
 * The embedded store's disk fills up while a stage logs (issue 16): the
 * server's HODEI_DATA_DIR is a small tmpfs this file mounts, a filler file
 * takes the rest of its space while a stage prints, and is removed again.
 * The server is never restarted. /healthz must say 503 while the disk is
 * full and ok after; the run must complete with success and every stage's
 * stored log must equal what it printed.
 */
import { execFile } from "node:child_process";
import { open, rm, mkdtemp } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stage } from "../saga/plan-stages.js";
import { readStageLog } from "../../src/store/run-queries.js";
import { openDatabase } from "../../src/store/open.js";
import { freePort, readHistories, seedRuns, startServer, type ServerProcess, waitForRunsCompleted } from "./crash-harness.js";

const run = promisify(execFile);
const LINES = 600;
const PAD = "x".repeat(80);

/** A stage printing LINES numbered lines over ~15 s, and a dependent one after it. */
function stages() {
  return [
    stage("build", { commands: [`i=1; while [ $i -le ${LINES} ]; do echo "build line $i ${PAD}"; i=$((i+1)); sleep 0.025; done`] }),
    stage("report", { needs: ["build"], commands: ["echo report done"] }),
  ];
}

function expectedLog(stageId: string): string {
  if (stageId === "report") return "report done\n";
  return Array.from({ length: LINES }, (_, i) => `build line ${i + 1} ${PAD}\n`).join("");
}

/** Writes zeros to `file` until the file system says ENOSPC. */
async function fill(file: string): Promise<void> {
  const handle = await open(file, "w");
  const block = Buffer.alloc(1 << 20);
  try {
    for (;;) await handle.write(block);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOSPC") throw error;
    // The last blocks a whole MiB did not fit into.
    try {
      for (;;) await handle.write(block.subarray(0, 4096));
    } catch (again) {
      if ((again as NodeJS.ErrnoException).code !== "ENOSPC") throw again;
    }
  } finally {
    await handle.close().catch(() => undefined);
  }
}

async function health(httpPort: number): Promise<{ status: number; body: { status?: string; error?: string } }> {
  const res = await fetch(`http://127.0.0.1:${httpPort}/healthz`);
  return { status: res.status, body: (await res.json()) as { status?: string; error?: string } };
}

async function buildStatus(httpPort: number, id: string): Promise<string | undefined> {
  const res = await fetch(`http://127.0.0.1:${httpPort}/api/runs/${id}`);
  const body = (await res.json()) as { stages: { id: string; status: string }[] };
  return body.stages.find((s) => s.id === "build")?.status;
}

// Mounting needs root; in CI that must fail, not skip.
const canMount = process.getuid?.() === 0;
const suite = canMount || process.env.CI ? describe : describe.skip;

suite("the embedded store's disk fills up while a stage logs", () => {
  let mountPoint: string;
  let mounted = false;

  beforeAll(async () => {
    mountPoint = await mkdtemp(path.join(os.tmpdir(), "hodei-diskfull-"));
    // PGlite's fresh cluster takes ~40 MB; the rest is for the run.
    await run("mount", ["-t", "tmpfs", "-o", "size=64m", "tmpfs", mountPoint]);
    mounted = true;
  });

  afterAll(async () => {
    if (mounted) await run("umount", ["-l", mountPoint]);
    await rm(mountPoint, { recursive: true, force: true });
  });

  it("says 503 on /healthz while the disk is full, and the run completes with its whole log once space is freed", { timeout: 240_000 }, async () => {
    const where = { dataDir: path.join(mountPoint, "data") };
    const [id] = await seedRuns(where, [{ stages: stages() }]);
    const http = await freePort();
    const server: ServerProcess = startServer(where, { http, grpc: await freePort() }, { HODEI_LOCAL_AGENTS: "1" });
    const filler = path.join(mountPoint, "filler");
    try {
      await server.ready;
      expect((await health(http)).status, "healthy before the disk fills").toBe(200);
      await expect.poll(() => buildStatus(http, id!), { timeout: 60_000, interval: 100 }).toBe("in_progress");
      await new Promise((r) => setTimeout(r, 1000));
      await fill(filler);
      await expect.poll(() => health(http), { timeout: 20_000, interval: 200 }).toMatchObject({ status: 503, body: { status: "unavailable", error: expect.stringMatching(/no space left on device/i) } });
      // Long enough for the stage's output to meet the full disk.
      await new Promise((r) => setTimeout(r, 4000));
      expect(await buildStatus(http, id!), "the run waits for the store").toBe("in_progress");
      await rm(filler);
      await waitForRunsCompleted(http, [id!], 120_000);
      await expect.poll(() => health(http), { timeout: 10_000, interval: 200 }).toMatchObject({ status: 200, body: { status: "ok" } });
      expect(server.child.exitCode, "the server stayed up").toBeNull();
    } finally {
      await rm(filler, { force: true });
      server.child.kill("SIGKILL");
      await server.exited;
    }
    const out = server.output();
    expect(out).toMatch(/waiting for the store \(disk full\)/);
    expect(out).toMatch(/store answers again after/);

    const { events, state } = await readHistories(where, [id!]);
    const db = await openDatabase(where);
    try {
      const runState = state.get(id!)!;
      // On failure, say why: what the run recorded and the server's (and its local agent's) last lines.
      const why = () => `${JSON.stringify(events.get(id!)!.filter((e) => e.type.startsWith("attempt.") || e.type.startsWith("stage.")).map((e) => [e.type, e.data]))}\nserver output (request lines left out):\n${out.split("\n").filter((l) => !/"msg":"(incoming request|request completed)"/.test(l)).join("\n").slice(-6000)}`;
      expect(runState.conclusion, runState.conclusion === "success" ? "" : why()).toBe("success");
      expect(events.get(id!)!.filter((e) => e.type === "attempt.finished" && e.data.outcome !== "success"), "no attempt lost or failed").toEqual([]);
      for (const s of runState.stages.values()) {
        expect(s.attempt, `${s.plan.id} ran once`).toBe(1);
        const log = await readStageLog(db, { runId: id!, stageId: s.plan.id, attempt: 1 });
        // The agent echoes each command as `$ command` before its output.
        const printed = log.chunks.map((c) => c.data).join("").split(/(?<=\n)/).filter((l) => !l.startsWith("$ ")).join("");
        expect(printed, `${s.plan.id}: stored log`).toBe(expectedLog(s.plan.id));
      }
    } finally {
      await db.close();
    }
  });
});
