/**
 * Artifacts between stages (SPEC 1) with a real agent process: a directory
 * and a glob reach the checkout of the stage that needs them and no other;
 * a pattern that matches nothing fails the stage naming it; 200 MB pass
 * through without the agent's or the server's memory growing by their size.
 */
import { readFileSync } from "node:fs";
import { afterEach, expect, it } from "vitest";
import { ControlPlane } from "../../src/server/control-plane.js";
import { describeEachStore } from "../helpers/databases.js";
import { stage } from "../saga/plan-stages.js";
import { startAgent, startRun, stageLog, stopAgent, waitFor, type AgentProcess } from "./helpers.js";

let control: ControlPlane | null = null;
let agent: AgentProcess | null = null;
afterEach(async () => {
  if (agent) await stopAgent(agent);
  await control?.stop();
  control = agent = null;
});

async function setUp(where: { databaseUrl?: string; dataDir: string }) {
  control = await ControlPlane.start({ ...where, localAgents: 0, leaseMs: 5000 });
  agent = startAgent(`127.0.0.1:${control.grpcPort}`, (await control.agentTokens.issue("bootstrap", { ttlMs: 60_000 })).token, control.caPem);
  await waitFor("the agent", () => control!.engine.connectedAgents === 1);
  return control;
}

/** Peak resident memory of a process so far (VmHWM), in bytes. */
function currentRss(pid: number): number {
  const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
  return Number(kb) * 1024;
}

function peakRss(pid: number): number {
  const kb = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
  return Number(kb) * 1024;
}

describeEachStore("artifacts", (store) => {
  it("unpacks a directory and a glob into the checkout of the stage that needs them, and only there", async () => {
    const control = await setUp(await store.create());
    const id = await startRun(control, [
      stage("build", {
        commands: ["mkdir -p dist/sub reports && echo built > dist/sub/app.js && echo '<x/>' > reports/unit.xml && echo no > reports/notes.txt && echo local > scratch.txt"],
        artifacts: ["dist/", "reports/*.xml"],
      }),
      stage("test", { needs: ["build"], commands: ["cat dist/sub/app.js reports/unit.xml", "test ! -e reports/notes.txt", "test ! -e scratch.txt"] }),
      stage("after", { needs: ["test"], commands: ["test ! -e dist && test ! -e reports && echo clean"] }),
    ]);
    const final = await control.engine.waitForRun(id);
    expect([...final.stages.values()].map((s) => [s.plan.id, s.conclusion])).toEqual([
      ["build", "success"],
      ["test", "success"],
      ["after", "success"],
    ]);
    expect(await stageLog(control, id, "test")).toContain("built\n<x/>\n");
    expect(await stageLog(control, id, "after")).toContain("clean");
  });

  it("fails a stage whose artifact pattern matches nothing, naming the pattern", async () => {
    const control = await setUp(await store.create());
    const id = await startRun(control, [
      stage("build", { commands: ["mkdir -p dist && touch dist/a"], artifacts: ["dist/", "coverage/*.lcov"] }),
      stage("test", { needs: ["build"] }),
    ]);
    const final = await control.engine.waitForRun(id);
    expect(final.stages.get("build")).toMatchObject({ conclusion: "failure", reason: 'artifact pattern "coverage/*.lcov" matched nothing' });
    expect(final.stages.get("test")!.conclusion).toBe("skipped");
  });

  it("streams a 200 MB artifact without holding it in memory", async () => {
    const control = await setUp(await store.create());
    const size = 200 * 1024 * 1024;
    let serverPeak = 0;
    const baseline = process.memoryUsage().rss;
    const agentBefore = currentRss(agent!.child.pid!);
    const sampler = setInterval(() => (serverPeak = Math.max(serverPeak, process.memoryUsage().rss)), 20);
    const id = await startRun(control, [
      stage("make", { commands: [`head -c ${size} /dev/urandom > big.bin`], artifacts: ["big.bin"] }),
      stage("use", { needs: ["make"], commands: [`test "$(wc -c < big.bin)" -eq ${size} && echo "got it"`] }),
    ]);
    const final = await control.engine.waitForRun(id);
    clearInterval(sampler);
    expect(final.conclusion).toBe("success");
    expect(await stageLog(control, id, "use")).toContain("got it");
    // Holding the artifact whole would grow either process by at least its size;
    // streaming keeps the growth well below it (the margin absorbs GC lag on a loaded machine).
    expect(peakRss(agent!.child.pid!) - agentBefore).toBeLessThan(size * 0.75);
    expect(serverPeak - baseline).toBeLessThan(size * 0.75);
  });
});
