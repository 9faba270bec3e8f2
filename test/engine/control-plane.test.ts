/**
 * The engine with real agent processes over gRPC, on both stores: timeouts,
 * cancellation of a whole process tree, and an agent that dies mid-stage.
 */
import { execFileSync } from "node:child_process";
import { mkdtemp, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, expect, it } from "vitest";
import type { PlannedStage } from "../../src/pipeline-parser/types.js";
import { ControlPlane } from "../../src/server/control-plane.js";
import { readStageLog } from "../../src/store/run-queries.js";
import { describeEachStore } from "../helpers/databases.js";
import { stage } from "../saga/plan-stages.js";
import { waitUntil } from "../helpers/wait-until.js";

let control: ControlPlane | null = null;
afterEach(async () => {
  await control?.stop();
  control = null;
});

async function source(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "hodei-src-"));
  await writeFile(path.join(dir, "hello.txt"), "hello from the checkout\n");
  return dir;
}

function start(store: { databaseUrl?: string; dataDir: string }, agents = 2) {
  return ControlPlane.start({ ...store, localAgents: agents, leaseMs: 1500 });
}

async function run(c: ControlPlane, stages: PlannedStage[]) {
  return c.engine.startRun({
    pipeline: "t",
    source: { kind: "directory", path: await source() },
    repo: "acme/widgets",
    sha: "a".repeat(40),
    ref: "refs/heads/main",
    event: "manual",
    stages,
  });
}

const processesWith = (marker: string) => {
  try {
    return execFileSync("pgrep", ["-f", marker], { encoding: "utf8" }).trim().split("\n").filter(Boolean);
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
};

describeEachStore("control plane", (store) => {
  it("gives every attempt a fresh copy of the run's files and the stage's environment", async () => {
    control = await start(await store.create());
    const id = await run(control, [
      stage("a", { commands: ["cat hello.txt", "echo dirty > hello.txt"], env: { GREETING: "hi" } }),
      stage("b", { needs: ["a"], commands: ['cat hello.txt; echo "$GREETING/$HODEI_STAGE/$HODEI_REPO"'] }),
    ]);
    const final = await control.engine.waitForRun(id);
    expect(final.conclusion).toBe("success");
    const b = await readStageLog(control.db, { runId: id, stageId: "b" });
    expect(b.chunks.map((c) => c.data).join("")).toContain("hello from the checkout\n/b/acme/widgets\n");
  });

  it("ends a stage that overruns its timeout as timed_out and kills it", async () => {
    control = await start(await store.create());
    const marker = `hodei-timeout-${process.pid}-${Date.now()}`;
    // The command is in no argv (its shell reads it from stdin): the marker is in the argv of a shell it starts.
    const id = await run(control, [stage("slow", { commands: [`sh -c 'sleep 30 # ${marker}'`], timeoutSeconds: 1 })]);
    await waitUntil("the stage's shell runs", () => processesWith(marker).length > 0, 10_000, 50);
    const final = await control.engine.waitForRun(id);
    expect(final.stages.get("slow")).toMatchObject({ conclusion: "timed_out", reason: "timed out after 1s" });
    expect(final.conclusion).toBe("failure");
    await new Promise((r) => setTimeout(r, 200));
    expect(processesWith(marker)).toEqual([]);
  });

  it("cancels a run: the running stage's whole process tree is gone, queued stages end cancelled", async () => {
    control = await start(await store.create(), 1);
    const marker = `hodei-cancel-${process.pid}-${Date.now()}`;
    const id = await run(control, [
      // A background shell, and the stage's own shell, which execs into one that carries the marker.
      stage("busy", { commands: [`sh -c 'sleep 1000 # ${marker}' & exec sh -c 'sleep 1000 # ${marker}'`] }),
      stage("later", { needs: ["busy"] }),
    ]);
    const engine = control.engine;
    await new Promise<void>((resolve) => {
      const off = engine.subscribe({
        onEvents: (_s, events) => {
          if (events.some((e) => e.type === "attempt.started")) {
            off();
            resolve();
          }
        },
      });
    });
    await new Promise((r) => setTimeout(r, 300));
    expect(processesWith(marker).length).toBeGreaterThanOrEqual(2);
    await engine.cancelRun(id, "test cancel");
    const final = await engine.waitForRun(id);
    expect(final.conclusion).toBe("cancelled");
    expect(final.stages.get("busy")!.conclusion).toBe("cancelled");
    expect(final.stages.get("later")!.conclusion).toBe("cancelled");
    await new Promise((r) => setTimeout(r, 300));
    expect(processesWith(marker)).toEqual([]);
  });

  it("ends the attempt of an agent that died as lost and retries it on another agent", async () => {
    control = await start(await store.create(), 1);
    // The stage kills its own agent (its parent process) on the first attempt.
    const id = await run(control, [
      stage("fragile", {
        retries: 1,
        commands: ['if [ "$HODEI_ATTEMPT" = 1 ]; then kill -9 $PPID; sleep 2; fi; echo "survived on attempt $HODEI_ATTEMPT"'],
      }),
    ]);
    const final = await control.engine.waitForRun(id);
    expect(final.conclusion).toBe("success");
    expect(final.stages.get("fragile")!.attempt).toBe(2);
    const { rows } = await control.db.query<{ data: { outcome?: string; reason?: string } }>(
      `select data from run_events where run_id = $1 and type = 'attempt.finished' order by seq`,
      [id],
    );
    expect(rows.map((r) => [r.data.outcome, r.data.reason])).toEqual([
      ["lost", "agent lost"],
      ["success", null],
    ]);
  });

  it("re-runs a failed stage and its dependents as new attempts of the same run, reusing upstream results", async () => {
    control = await start(await store.create());
    const id = await run(control, [
      stage("build", { commands: ['echo "build $HODEI_ATTEMPT"'] }),
      stage("test", { needs: ["build"], commands: ['echo "test $HODEI_ATTEMPT"; [ "$HODEI_ATTEMPT" -ge 2 ]'] }),
      stage("deploy", { needs: ["test"] }),
    ]);
    const first = await control.engine.waitForRun(id);
    expect(first.conclusion).toBe("failure");
    expect(first.stages.get("deploy")!.conclusion).toBe("skipped");

    expect(await control.engine.rerun(id, { failed: true }, "test")).toEqual(["test", "deploy"]);
    const second = await control.engine.waitForRun(id);
    expect(second.conclusion).toBe("success");
    expect([...second.stages.values()].map((s) => [s.plan.id, s.conclusion, s.attempt])).toEqual([
      ["build", "success", 1],
      ["test", "success", 2],
      ["deploy", "success", 1],
    ]);
    // Both attempts of test keep their logs.
    const log = async (attempt: number) =>
      (await readStageLog(control!.db, { runId: id, stageId: "test", attempt })).chunks.map((c) => c.data).join("");
    expect(await log(1)).toContain("test 1\n");
    expect(await log(2)).toContain("test 2\n");
  });
});
