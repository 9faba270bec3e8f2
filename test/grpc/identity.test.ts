/**
 * Agent identity with real agent processes and real gRPC over TLS: tokens
 * (wrong, reused, expired refused; registration tokens reusable), client
 * certificates required after registration, and an agent cannot speak for
 * another agent's attempt.
 */
import * as grpc from "@grpc/grpc-js";
import { afterEach, expect, it } from "vitest";
import { AGENT_ID_METADATA_KEY, SESSION_METADATA_KEY, protocolMetadata } from "../../src/grpc/protocol.js";
import { ControlPlane } from "../../src/server/control-plane.js";
import { describeEachStore } from "../helpers/databases.js";
import { stage } from "../saga/plan-stages.js";
import { startAgent, startRun, stopAgent, waitFor, type AgentProcess } from "../agent/helpers.js";
import { clients, connect, mtls, register } from "./raw-agent.js";

let control: ControlPlane | null = null;
const agents: AgentProcess[] = [];
afterEach(async () => {
  for (const a of agents.splice(0)) await stopAgent(a);
  for (const c of clients.splice(0)) c.close();
  await control?.stop();
  control = null;
});

describeEachStore("agent identity", (store) => {
  it("refuses wrong, reused and expired tokens; a registration token serves many agents", async () => {
    control = await ControlPlane.start({ ...(await store.create()), localAgents: 0, leaseMs: 3000 });
    const server = `127.0.0.1:${control.grpcPort}`;
    const bootstrap = await control.agentTokens.issue("bootstrap", { ttlMs: 60_000 });
    const first = startAgent(server, bootstrap.token, control.caPem);
    agents.push(first);
    await waitFor("the first agent", () => control!.engine.connectedAgents === 1);

    const reused = startAgent(server, bootstrap.token, control.caPem);
    expect(await reused.exited).toBe(1);
    expect(reused.output()).toContain("registration token refused: this one-time token was already used");

    const wrong = startAgent(server, "hodei_bt_not-a-token", control.caPem);
    expect(await wrong.exited).toBe(1);
    expect(wrong.output()).toContain("registration token refused: unknown token");

    const expired = await control.agentTokens.issue("bootstrap", { ttlMs: 1 });
    await new Promise((r) => setTimeout(r, 20));
    const late = startAgent(server, expired.token, control.caPem);
    expect(await late.exited).toBe(1);
    expect(late.output()).toContain("registration token refused: the token has expired");

    const registration = await control.agentTokens.issue("registration", { description: "ops" });
    agents.push(startAgent(server, registration.token, control.caPem), startAgent(server, registration.token, control.caPem));
    await waitFor("three agents", () => control!.engine.connectedAgents === 3);
  });

  it("refuses a connection without this agent's client certificate", async () => {
    control = await ControlPlane.start({ ...(await store.create()), localAgents: 0, leaseMs: 3000 });
    const a = await register(control, (await control.agentTokens.issue("bootstrap", { ttlMs: 60_000 })).token);
    const b = await register(control, (await control.agentTokens.issue("bootstrap", { ttlMs: 60_000 })).token);

    const noCert = connect(control, grpc.credentials.createSsl(Buffer.from(control.caPem)), a.session);
    expect(await noCert.ended).toMatchObject({ code: grpc.status.UNAUTHENTICATED, details: expect.stringContaining("client certificate") as unknown });

    // B's valid certificate with A's session.
    const wrongCert = connect(control, mtls(control, b.keyPem, b.session), a.session);
    expect(await wrongCert.ended).toMatchObject({ code: grpc.status.UNAUTHENTICATED, details: "the client certificate is not this agent's" });

    // A's certificate with a forged session secret.
    const forged = connect(control, mtls(control, a.keyPem, a.session), { ...a.session, sessionSecret: "forged" });
    expect(await forged.ended).toMatchObject({ code: grpc.status.UNAUTHENTICATED });

    const ok = connect(control, mtls(control, a.keyPem, a.session), a.session);
    await waitFor("A connected", () => control!.engine.connectedAgents === 1);
    ok.stream.end();
  });

  it("does not let an agent report on, or fetch the files of, another agent's attempt", async () => {
    control = await ControlPlane.start({ ...(await store.create()), localAgents: 0, leaseMs: 3000 });
    const a = await register(control, (await control.agentTokens.issue("bootstrap", { ttlMs: 60_000 })).token);
    const b = await register(control, (await control.agentTokens.issue("bootstrap", { ttlMs: 60_000 })).token);
    const streamA = connect(control, mtls(control, a.keyPem, a.session), a.session);
    await waitFor("A connected", () => control!.engine.connectedAgents === 1);
    const runId = await startRun(control, [stage("only", { commands: ["sleep 30"] })]);
    await waitFor("A's assignment", () => streamA.messages.some((m) => m.assignment));
    const ref = streamA.messages.find((m) => m.assignment)!.assignment!.ref;

    const streamB = connect(control, mtls(control, b.keyPem, b.session), b.session);
    await waitFor("B connected", () => control!.engine.connectedAgents === 2);
    streamB.stream.write({ finished: { ref, outcome: "success", exitCode: 0, reason: "" } });
    await waitFor("B's refusal", () => streamB.messages.some((m) => m.ack));
    expect(streamB.messages.find((m) => m.ack)!.ack).toMatchObject({ refused: "attempt is not leased to this agent", finished: false });

    const fetch = streamB.client.fetchSource({ ref }, protocolMetadata({ [AGENT_ID_METADATA_KEY]: b.session.agentId, [SESSION_METADATA_KEY]: b.session.sessionSecret }));
    const error = await new Promise<grpc.ServiceError>((resolve) => {
      fetch.on("data", () => undefined);
      fetch.on("error", resolve);
    });
    expect(error.code).toBe(grpc.status.PERMISSION_DENIED);
    const state = await control.runs.load(runId);
    expect(state!.stages.get("only")!.conclusion).toBeNull();
    await control.engine.cancelRun(runId, "test over");
    streamA.stream.end();
    streamB.stream.end();
  });
});
