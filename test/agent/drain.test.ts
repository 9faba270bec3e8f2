/**
 * A draining agent (its server died: `--exit-with-parent`) finishes what it
 * runs and tries to deliver it, but not for ever: a connection that never
 * answers (a stalled peer) must not keep it alive past its patience.
 */
import { afterEach, expect, it } from "vitest";
import { Agent } from "../../src/agent/agent.js";
import { ControlPlane } from "../../src/server/control-plane.js";
import { testStore } from "../helpers/databases.js";
import { stage } from "../saga/plan-stages.js";
import { startRun, stageLog, waitFor } from "./helpers.js";
import { TcpProxy } from "./tcp-proxy.js";

let control: ControlPlane | null = null;
let proxy: TcpProxy | null = null;
afterEach(async () => {
  await proxy?.close();
  await control?.stop();
  control = proxy = null;
});

const store = testStore("pglite");

it("exits once its drain patience is over, even while a call to a stalled server hangs", async () => {
  control = await ControlPlane.start({ ...(await store.create()), localAgents: 0, leaseMs: 60_000 });
  proxy = new TcpProxy(control.grpcPort);
  await proxy.listen();
  const token = await control.agentTokens.issue("bootstrap", { ttlMs: 60_000 });
  const agent = new Agent({
    server: `127.0.0.1:${proxy.port}`,
    token: token.token,
    caPem: control.caPem,
    drainPatienceMs: 1_500,
    log: () => undefined,
  });
  const running = agent.run();
  await waitFor("the agent", () => control!.engine.connectedAgents === 1);
  const id = await startRun(control, [stage("slow", { commands: ["echo started; sleep 1; echo done"] })]);
  await waitFor("output", async () => (await stageLog(control!, id, "slow")).includes("started\n"));
  // The server stops answering without closing anything: the result can never be delivered.
  proxy.stall();
  const draining = performance.now();
  void agent.drain();
  await running;
  const took = performance.now() - draining;
  // The patience (1.5 s) ran out, not the 60 s default; before it, the agent kept trying.
  expect(took).toBeGreaterThan(1_400);
  expect(took).toBeLessThan(15_000);
});

it("an agent told to exit with a server that is already gone exits at once, without ever connecting", async () => {
  const { spawn, spawnSync } = await import("node:child_process");
  const { fileURLToPath } = await import("node:url");
  const hodeiBin = fileURLToPath(new URL("../../bin/hodei.js", import.meta.url));
  control = await ControlPlane.start({ ...(await store.create()), localAgents: 0 });
  // A pid that is certainly not this agent's parent any more: a process that has exited.
  const gone = spawnSync("true").pid;
  const child = spawn(process.execPath, [hodeiBin, "agent", "--server", "127.0.0.1:9", "--exit-with-parent"], {
    env: { PATH: process.env.PATH, HODEI_AGENT_TOKEN: "unused", HODEI_AGENT_CA: control.caPem, HODEI_AGENT_PARENT_PID: String(gone) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stderr.on("data", (b: Buffer) => (output += b.toString()));
  const started = performance.now();
  const code = await new Promise<number | null>((resolve) => child.on("exit", (c) => resolve(c)));
  expect(performance.now() - started).toBeLessThan(15_000);
  expect(output).toContain("the server that started this agent is gone");
  expect(code).not.toBeNull();
});
