/**
 * The protocol versions a server speaks (SPEC 7, proto/hodei/agent/v1):
 * an unknown version is refused with the versions it could use; protocol 3's
 * result that carries the attempt's last output and implies its start; and
 * protocol 2's separate start, logs and result, still taken.
 */
import * as grpc from "@grpc/grpc-js";
import { afterEach, expect, it } from "vitest";
import type { AgentMessage } from "../../src/grpc/protocol.js";
import { LOG_BATCH_BYTES } from "../../src/agent/log-batcher.js";
import { ControlPlane } from "../../src/server/control-plane.js";
import { describeEachStore } from "../helpers/databases.js";
import { stage } from "../saga/plan-stages.js";
import { stageLog, startRun, waitFor } from "../agent/helpers.js";
import { clients, connect, mtls, register } from "./raw-agent.js";

let control: ControlPlane | null = null;
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await control?.stop();
  control = null;
});

async function eventTypes(c: ControlPlane, runId: string): Promise<string[]> {
  const { rows } = await c.db.query<{ type: string }>(`select type from run_events where run_id = $1 order by seq`, [runId]);
  return rows.map((r) => r.type);
}

/** A connected hand-spoken agent of `version` with the one stage's assignment in hand. */
async function assigned(c: ControlPlane, version: string) {
  const { session, keyPem } = await register(c, (await c.agentTokens.issue("bootstrap", { ttlMs: 60_000 })).token, version);
  const agent = connect(c, mtls(c, keyPem, session), session, version);
  await waitFor("the agent connected", () => c.engine.connectedAgents === 1);
  const runId = await startRun(c, [stage("only", { commands: ["echo hi"] })]);
  await waitFor("the assignment", () => agent.messages.some((m) => m.assignment));
  const ref = agent.messages.find((m) => m.assignment)!.assignment!.ref;
  const send = async (message: AgentMessage, acks: number) => {
    agent.stream.write(message);
    await waitFor(`ack ${acks}`, () => agent.messages.filter((m) => m.ack).length >= acks);
  };
  return { agent, runId, ref, send };
}

describeEachStore("agent protocol versions", (store) => {
  it("refuses an agent of a version it does not speak, naming the versions it does", async () => {
    control = await ControlPlane.start({ ...(await store.create()), localAgents: 0 });
    const token = (await control.agentTokens.issue("bootstrap", { ttlMs: 60_000 })).token;
    await expect(register(control, token, "1")).rejects.toMatchObject({
      code: grpc.status.FAILED_PRECONDITION,
      details: "agent protocol 1 is not supported: this server speaks protocol 2 and 3; upgrade the agent",
    });
  });

  it("protocol 3: a result carries the attempt's last output and implies its start", async () => {
    control = await ControlPlane.start({ ...(await store.create()), localAgents: 0 });
    const { agent, runId, ref, send } = await assigned(control, "3");
    await send({ finished: { ref, outcome: "success", exitCode: 0, reason: "", logs: [{ seq: 1, data: "$ echo hi\nhi\n" }] } }, 1);
    expect(agent.messages.find((m) => m.ack)!.ack).toMatchObject({ logsThrough: 1, finished: true, refused: "" });
    expect((await control.engine.waitForRun(runId)).conclusion).toBe("success");
    expect(await stageLog(control, runId, "only")).toBe("$ echo hi\nhi\n");
    const types = await eventTypes(control, runId);
    expect(types.slice(types.indexOf("attempt.leased"))).toEqual(["attempt.leased", "attempt.started", "attempt.finished", "stage.completed", "run.completed"]);
    agent.stream.end();
  });

  it("protocol 3: a result may carry a whole batch of output", async () => {
    control = await ControlPlane.start({ ...(await store.create()), localAgents: 0 });
    const { agent, runId, ref, send } = await assigned(control, "3");
    const big = `$ echo hi\n${"é".repeat(LOG_BATCH_BYTES / 2 - 8)}\n`;
    await send({ finished: { ref, outcome: "success", exitCode: 0, reason: "", logs: [{ seq: 1, data: big }] } }, 1);
    expect(agent.messages.find((m) => m.ack)!.ack).toMatchObject({ logsThrough: 1, finished: true, refused: "" });
    expect((await control.engine.waitForRun(runId)).conclusion).toBe("success");
    expect(await stageLog(control, runId, "only")).toBe(big);
    agent.stream.end();
  });

  it("protocol 3: a result refused (the attempt is not this agent's) stores none of its output", async () => {
    control = await ControlPlane.start({ ...(await store.create()), localAgents: 0 });
    const { agent, runId, ref } = await assigned(control, "3");
    const other = await register(control, (await control.agentTokens.issue("bootstrap", { ttlMs: 60_000 })).token);
    const intruder = connect(control, mtls(control, other.keyPem, other.session), other.session);
    await waitFor("the second agent connected", () => control!.engine.connectedAgents === 2);
    for (const data of ["forged\n", "x".repeat(LOG_BATCH_BYTES)]) {
      intruder.stream.write({ finished: { ref, outcome: "success", exitCode: 0, reason: "", logs: [{ seq: 1, data }] } });
    }
    await waitFor("two refusals", () => intruder.messages.filter((m) => m.ack?.refused).length === 2);
    expect(await stageLog(control, runId, "only")).toBe("");
    expect((await control.runs.load(runId))!.stages.get("only")!.conclusion).toBeNull();
    await control.engine.cancelRun(runId, "test over");
    agent.stream.end();
    intruder.stream.end();
  });

  it("protocol 2: a separate start, log batch and result are still taken", async () => {
    control = await ControlPlane.start({ ...(await store.create()), localAgents: 0 });
    const { agent, runId, ref, send } = await assigned(control, "2");
    agent.stream.write({ started: { ref } });
    await send({ logs: { ref, chunks: [{ seq: 1, data: "$ echo hi\nhi\n" }] } }, 1);
    await send({ finished: { ref, outcome: "success", exitCode: 0, reason: "" } }, 2);
    expect(agent.messages.filter((m) => m.ack).map((m) => m.ack)).toMatchObject([
      { logsThrough: 1, finished: false, refused: "" },
      { logsThrough: 0, finished: true, refused: "" },
    ]);
    expect((await control.engine.waitForRun(runId)).conclusion).toBe("success");
    expect(await stageLog(control, runId, "only")).toBe("$ echo hi\nhi\n");
    expect(await eventTypes(control, runId)).toEqual(expect.arrayContaining(["attempt.started", "attempt.finished"]));
    agent.stream.end();
  });
});
