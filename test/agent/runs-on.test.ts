/**
 * `runs-on`: a stage goes only to an agent with the labels it names. While
 * only unlabelled agents are connected it waits (other stages of the run go
 * ahead) and says so: the API's stage is `waitingFor: "agent"` with its
 * labels (its check's title names them: test/reporters/); a standalone `hodei agent --label
 * gpu` that connects takes it.
 */
import { afterEach, expect, it } from "vitest";
import type { RunEvent } from "../../src/saga/events.js";
import { ControlPlane } from "../../src/server/control-plane.js";
import { getRun } from "../../src/store/run-queries.js";
import { testStore } from "../helpers/databases.js";
import { stage } from "../saga/plan-stages.js";
import { startAgent, startRun, stageLog, stopAgent, waitFor, type AgentProcess } from "./helpers.js";

let control: ControlPlane | null = null;
const agents: AgentProcess[] = [];
afterEach(async () => {
  for (const a of agents.splice(0)) await stopAgent(a);
  await control?.stop();
  control = null;
});

const store = testStore("pglite");

it("a stage with runs-on waits while only unlabelled agents are connected, and runs on the labelled agent once it connects", { timeout: 120_000 }, async () => {
  control = await ControlPlane.start({ ...(await store.create()), localAgents: 0 });
  const events: RunEvent[] = [];
  control.engine.subscribe({ onEvents: (_state, evs) => void events.push(...evs) });
  const token = async () => (await control!.agentTokens.issue("bootstrap", { ttlMs: 60_000 })).token;
  const server = `127.0.0.1:${control.grpcPort}`;
  agents.push(startAgent(server, await token(), control.caPem, ["--label", "arch=amd64"]));
  await waitFor("the unlabelled agent", () => control!.engine.connectedAgents === 1);
  const id = await startRun(control, [
    stage("plain", { commands: ["echo plain"] }),
    stage("gpu", { commands: ["echo on the gpu agent"], runsOn: ["gpu", "arch=amd64"] }),
    stage("after", { needs: ["gpu"], commands: ["echo after"] }),
  ]);
  await waitFor("the stage without runs-on to finish", () => events.some((e) => e.type === "stage.completed" && e.data.stageId === "plain"));
  // The one agent is free, and has arch=amd64 but not gpu: the stage is not leased to it.
  expect(events.some((e) => e.type === "attempt.leased" && e.data.stageId === "gpu")).toBe(false);
  const stored = (await control.db.query<{ type: string; stage: string | null }>("select type, data->>'stageId' as stage from run_events where run_id = $1", [id])).rows;
  expect(stored.filter((e) => e.stage === "gpu").map((e) => e.type)).toEqual(["stage.queued"]);
  // Not silent: what it waits for is in the API (the run page shows it) and in its check.
  const view = await getRun(control.db, id);
  expect(view?.stages?.find((s) => s.id === "gpu")).toMatchObject({ status: "queued", waitingFor: "agent", runsOn: ["gpu", "arch=amd64"] });
  expect(view?.stages?.find((s) => s.id === "after")).toMatchObject({ status: "queued", waitingFor: null, runsOn: [] });
  agents.push(startAgent(server, await token(), control.caPem, ["--label", "gpu", "--label", "arch=amd64"]));
  const final = await control.engine.waitForRun(id);
  expect(final.conclusion).toBe("success");
  const leasedTo = (stageId: string) => events.flatMap((e) => (e.type === "attempt.leased" && e.data.stageId === stageId ? [e.data.agentId] : []));
  expect(leasedTo("gpu")).toHaveLength(1);
  expect(leasedTo("gpu")[0]).not.toBe(leasedTo("plain")[0]);
  expect(await stageLog(control, id, "gpu")).toContain("on the gpu agent\n");
});
