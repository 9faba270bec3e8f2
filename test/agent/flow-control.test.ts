/**
 * Flow control under volume (SPEC 7): a stage prints about 100 MB, far more
 * than the agent's window of unacknowledged log (1 MiB), while the connection
 * to the server is stalled. The agent must pause the stage's pipes instead of
 * buffering its output (its memory, read from /proc, stays far below the
 * output's size), and once the connection moves again every line must arrive,
 * in order, exactly once.
 */
import { readFile, writeFile } from "node:fs/promises";
import { afterEach, expect, it } from "vitest";
import { ControlPlane } from "../../src/server/control-plane.js";
import { describeEachStore } from "../helpers/databases.js";
import { stage } from "../saga/plan-stages.js";
import { startAgent, startRun, stageLog, stopAgent, waitFor, type AgentProcess } from "./helpers.js";
import { TcpProxy } from "./tcp-proxy.js";

const LINES = 1_000_000;
/** 7 digits, a space, 91 x's and a newline: 100 bytes a line, 100 MB in all. */
const FILLER = "x".repeat(91);
const MB = 1e6;

let control: ControlPlane | null = null;
let proxy: TcpProxy | null = null;
let agent: AgentProcess | null = null;
afterEach(async () => {
  if (agent) await stopAgent(agent);
  await proxy?.close();
  await control?.stop();
  control = agent = proxy = null;
});

async function memory(pid: number): Promise<{ rss: number; peak: number }> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB$`, "m").exec(status)?.[1]) * 1024;
  return { rss: kb("VmRSS"), peak: kb("VmHWM") };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describeEachStore("flow control", (store) => {
  it("a stage printing 100 MB over a stalled connection: the agent's memory stays bounded, and every line arrives in order, once", async () => {
    control = await ControlPlane.start({ ...(await store.create()), localAgents: 0, leaseMs: 30_000 });
    proxy = new TcpProxy(control.grpcPort);
    await proxy.listen();
    const token = await control.agentTokens.issue("bootstrap", { ttlMs: 60_000 });
    agent = startAgent(`127.0.0.1:${proxy.port}`, token.token, control.caPem);
    await waitFor("the agent", () => control!.engine.connectedAgents === 1);
    const pid = agent.child.pid!;
    // Let the agent settle after registering, then start a new peak-RSS interval (VmHWM := VmRSS).
    await sleep(500);
    const before = await memory(pid);
    await writeFile(`/proc/${pid}/clear_refs`, "5");

    const id = await startRun(control, [
      stage("flood", { commands: [`seq -f '%07g ${FILLER}' 0 ${LINES - 1}`], timeoutSeconds: 300 }),
    ]);
    const c = control;
    await waitFor("the first lines", async () => (await stageLog(c, id, "flood")).includes("0000100 "), 30_000);
    proxy.stall();
    // Unthrottled, `seq` prints the whole 100 MB in well under this.
    await sleep(5_000);
    const stalled = await memory(pid);
    expect(c.engine.connectedAgents, "the stalled stream was given up").toBe(1);
    proxy.resume();

    const final = await c.engine.waitForRun(id);
    expect(final.conclusion).toBe("success");
    const after = await memory(pid);

    const log = await stageLog(c, id, "flood");
    const lines = log.split("\n");
    expect(lines[0]).toBe(`$ seq -f '%07g ${FILLER}' 0 ${LINES - 1}`);
    expect(lines.at(-1)).toBe("");
    const printed = lines.slice(1, -1);
    expect(printed.length).toBe(LINES);
    const wrong = printed.findIndex((line, i) => line !== `${String(i).padStart(7, "0")} ${FILLER}`);
    expect(wrong, `line ${wrong}: ${printed[wrong]?.slice(0, 20)}`).toBe(-1);

    // Had the agent buffered the output while stalled, it would have grown by at
    // least the output's 100 MB (twice that as strings plus encoded messages).
    // While streaming at full speed afterwards it grows with its garbage, not
    // with the output, so the bound there is the output's size.
    const grewStalled = (stalled.peak - before.rss) / MB;
    const grewAtAll = (after.peak - before.rss) / MB;
    const figures = `agent RSS ${(before.rss / MB).toFixed(1)} MB before; peak +${grewStalled.toFixed(1)} MB while stalled, +${grewAtAll.toFixed(1)} MB over the run`;
    expect(grewStalled, figures).toBeLessThan(30);
    expect(grewAtAll, figures).toBeLessThan(LINES * 100 / MB);
  }, 120_000);
});
