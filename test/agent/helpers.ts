/** A control plane without local agents, and real `hodei agent` processes started by the test. */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { PlannedStage } from "../../src/pipeline-parser/types.js";
import { ControlPlane } from "../../src/server/control-plane.js";
import { readStageLog } from "../../src/store/run-queries.js";
import { hodeiBin } from "../helpers/hodei-cli.js";

export interface AgentProcess {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

export function startAgent(server: string, token: string, caPem: string, extraArgs: string[] = []): AgentProcess {
  const child = spawn(process.execPath, [hodeiBin, "agent", "--server", server, ...extraArgs], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, HODEI_AGENT_TOKEN: token, HODEI_AGENT_CA: caPem },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (b: Buffer) => (output += b.toString()));
  child.stderr.on("data", (b: Buffer) => (output += b.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return { child, output: () => output, exited };
}

export async function stopAgent(agent: AgentProcess): Promise<void> {
  if (agent.child.exitCode !== null || agent.child.signalCode !== null) return;
  agent.child.kill("SIGTERM");
  const timer = setTimeout(() => agent.child.kill("SIGKILL"), 5_000);
  await agent.exited;
  clearTimeout(timer);
}

export async function waitFor(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export async function sourceDir(files: Record<string, string> = { "hello.txt": "hello\n" }): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "hodei-src-"));
  for (const [name, text] of Object.entries(files)) await writeFile(path.join(dir, name), text);
  return dir;
}

export async function startRun(control: ControlPlane, stages: PlannedStage[], repo = "acme/widgets"): Promise<string> {
  return control.engine.startRun({
    pipeline: "t",
    source: { kind: "directory", path: await sourceDir() },
    repo,
    sha: "a".repeat(40),
    ref: "refs/heads/main",
    event: "manual",
    stages,
  });
}

export async function stageLog(control: ControlPlane, runId: string, stageId: string, attempt?: number): Promise<string> {
  return (await readStageLog(control.db, { runId, stageId, attempt })).chunks.map((c) => c.data).join("");
}

export async function finishedEvents(control: ControlPlane, runId: string): Promise<[string | undefined, string | null | undefined][]> {
  const { rows } = await control.db.query<{ data: { outcome?: string; reason?: string | null } }>(
    `select data from run_events where run_id = $1 and type = 'attempt.finished' order by seq`,
    [runId],
  );
  return rows.map((r) => [r.data.outcome, r.data.reason]);
}
