/**
 * Network faults between a real agent process and the server, through a TCP
 * proxy the test cuts and restores (SPEC 7): a short cut loses and repeats
 * nothing; a cut longer than the lease ends the attempt as lost and it runs
 * again.
 */
import { afterEach, expect, it } from "vitest";
import { ControlPlane } from "../../src/server/control-plane.js";
import { describeEachStore } from "../helpers/databases.js";
import { stage } from "../saga/plan-stages.js";
import { finishedEvents, startAgent, startRun, stageLog, stopAgent, waitFor, type AgentProcess } from "./helpers.js";
import { TcpProxy } from "./tcp-proxy.js";

let control: ControlPlane | null = null;
let proxy: TcpProxy | null = null;
let agent: AgentProcess | null = null;
afterEach(async () => {
  if (agent) await stopAgent(agent);
  await proxy?.close();
  await control?.stop();
  control = agent = proxy = null;
});

async function setUp(where: { databaseUrl?: string; dataDir: string }, leaseMs: number) {
  control = await ControlPlane.start({ ...where, localAgents: 0, leaseMs });
  proxy = new TcpProxy(control.grpcPort);
  await proxy.listen();
  const token = await control.agentTokens.issue("bootstrap", { ttlMs: 60_000 });
  agent = startAgent(`127.0.0.1:${proxy.port}`, token.token, control.caPem);
  await waitFor("the agent", () => control!.engine.connectedAgents === 1);
  return { control, proxy };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describeEachStore("network faults", (store) => {
  it("a cut shorter than the lease: the log arrives complete, in order, once, and the result is recorded once", async () => {
    const { control, proxy } = await setUp(await store.create(), 4000);
    const id = await startRun(control, [stage("talk", { commands: ["i=1; while [ $i -le 80 ]; do echo line-$i; i=$((i+1)); sleep 0.03; done"] })]);
    await waitFor("output", async () => (await stageLog(control, id, "talk")).includes("line-10\n"));
    proxy.cut();
    await sleep(1200);
    proxy.restore();
    const final = await control.engine.waitForRun(id);
    expect(final.conclusion).toBe("success");
    const lines = (await stageLog(control, id, "talk")).split("\n").filter((l) => l.startsWith("line-"));
    expect(lines).toEqual(Array.from({ length: 80 }, (_, i) => `line-${i + 1}`));
    expect(await finishedEvents(control, id)).toEqual([["success", null]]);
    expect(agent!.output()).toContain("connection lost");
  });

  it("a cut longer than the lease: the attempt ends lost and runs again", async () => {
    const { control, proxy } = await setUp(await store.create(), 1500);
    const id = await startRun(control, [
      stage("slow", { retries: 1, commands: ['echo "attempt $HODEI_ATTEMPT"; sleep 3; echo "done $HODEI_ATTEMPT"'] }),
    ]);
    await waitFor("attempt 1 output", async () => (await stageLog(control, id, "slow", 1)).includes("attempt 1"));
    proxy.cut();
    await waitFor("attempt 1 lost", async () => (await finishedEvents(control, id)).length === 1, 10_000);
    proxy.restore();
    const final = await control.engine.waitForRun(id);
    expect(final.conclusion).toBe("success");
    expect(await finishedEvents(control, id)).toEqual([
      ["lost", "agent lost"],
      ["success", null],
    ]);
    expect(await stageLog(control, id, "slow", 2)).toContain("done 2");
    expect(await stageLog(control, id, "slow", 1)).not.toContain("done 1");
  });
});
